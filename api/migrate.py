"""Storage migrations: versioned SQL files, applied at start and by ``cutwatch db migrate``.

Files ``api/migrations/NNNN_name.sql`` run in lexical order, each in its own transaction, and
are recorded in ``schema_migrations``. A PostgreSQL advisory lock serialises the whole run, so
several replicas starting at once apply every file exactly once.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from psycopg import AsyncConnection

log = logging.getLogger(__name__)

# Any constant shared by all replicas; "cutwatch" in ASCII.
LOCK_KEY: Final = 0x6375747761746368
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

_CREATE_TABLE: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """Every migration file shipped in the ``cutwatch.api.migrations`` package, in order."""
    found = []
    for entry in resources.files("cutwatch.api.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(match.group(1), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.name)
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


async def apply_migrations(conn: AsyncConnection[Any]) -> list[str]:
    """Apply the missing migrations; returns the names applied by this call.

    ``conn`` must be in autocommit mode: the advisory lock is held by the session while each
    migration commits on its own.
    """
    if not conn.autocommit:
        raise ValueError("apply_migrations needs an autocommit connection")
    migrations = load_migrations()
    await conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        await conn.execute(_CREATE_TABLE)
        cur = await conn.execute("SELECT version, checksum FROM schema_migrations")
        applied = {row[0]: row[1] for row in await cur.fetchall()}
        done = []
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    log.warning("migration %s changed after it was applied", migration.name)
                continue
            log.info("applying migration %s", migration.name)
            async with conn.transaction():
                await conn.execute(migration.sql.encode())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


async def pending_migrations(conn: AsyncConnection[Any]) -> list[str]:
    """Names of shipped migrations not yet recorded as applied (for /readyz)."""
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    applied: set[str] = set()
    if row and row[0]:
        cur = await conn.execute("SELECT version FROM schema_migrations")
        applied = {r[0] for r in await cur.fetchall()}
    return [m.name for m in load_migrations() if m.version not in applied]


async def migrate_url(url: str) -> list[str]:
    """Open a connection of its own and apply migrations (``cutwatch db migrate``)."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        return await apply_migrations(conn)
