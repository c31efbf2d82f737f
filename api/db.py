"""The database pool: opened in the app's lifespan, closed at shutdown, never at import."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from api.settings import Settings

Conn = AsyncConnection[Any]


def make_pool(settings: Settings, *, url: str | None = None) -> AsyncConnectionPool[Conn]:
    """A closed pool for the settings' database; the caller opens it (``await pool.open()``)."""
    conninfo = url or settings.database_url
    if not conninfo:
        raise ValueError("no database URL: set DATABASE_URL or let `cutwatch serve` embed one")
    return AsyncConnectionPool(
        conninfo,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        open=False,
        # A request waits this long for a connection, then answers 503 (api.errors) instead
        # of hanging while the database is down.
        timeout=settings.db_wait_seconds,
        # Every connection talks UTC, so timestamps read back the way the wire writes them.
        kwargs={"options": "-c timezone=UTC"},
        name="cutwatch",
    )
