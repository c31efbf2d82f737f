"""The database pool: opened in the app's lifespan, closed at shutdown, never at import."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from cutwatch.api.settings import Settings

Conn = AsyncConnection[Any]


def make_pool(settings: Settings, *, url: str | None = None) -> AsyncConnectionPool[Conn]:
    """A closed pool for the settings' database; the caller opens it (``await pool.open()``)."""
    conninfo = url or settings.database_url
    if not conninfo:
        raise ValueError("no database URL: set DATABASE_URL or let `cutwatch serve` embed one")
    return FailFastPool(
        conninfo,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        open=False,
        timeout=settings.db_wait_seconds,
        # Every connection talks UTC, so timestamps read back the way the wire writes them.
        kwargs={"options": "-c timezone=UTC"},
        name="cutwatch",
    )


class FailFastPool(AsyncConnectionPool[Conn]):
    """A pool that gives up on a down database quickly and waits out a busy one.

    A request waits ``timeout`` (``db_wait_seconds``) for a connection. If none came, one
    direct connection attempt tells a down database (PoolTimeout at once: a 503 with
    Retry-After, api.errors, instead of hanging) from a busy pool (every connection in use:
    the request waits up to BUSY_WAIT_S more).
    """

    BUSY_WAIT_S = 30.0

    # The parameter name is the library's: this overrides AsyncConnectionPool.getconn.
    async def getconn(self, timeout: float | None = None) -> Conn:  # noqa: ASYNC109
        try:
            return await super().getconn(timeout)
        except PoolTimeout:
            if not await self.database_answers():
                raise
        return await super().getconn(self.BUSY_WAIT_S)

    async def database_answers(self) -> bool:
        if not isinstance(self.conninfo, str):
            return True  # nothing to probe with: treat as busy
        try:
            probe = await AsyncConnection.connect(self.conninfo, connect_timeout=2)
        except psycopg.OperationalError:
            return False
        await probe.close()
        return True
