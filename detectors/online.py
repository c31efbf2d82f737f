"""The detector inside the service: one leader at a time, fed incrementally from the database.

Every replica runs ``worker``; the one holding a PostgreSQL advisory lock (on a connection of
its own, so the lock dies with it) runs the engine, the others wait to take over. The leader
rebuilds its state from recent history, then polls batches by ``received_at`` with a lookback
(concurrent commits land out of order) and drops the ones it already fed (``batch_id``). Each
transition is stored with its webhook deliveries in one transaction (``store``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from detectors.engine import Engine
from detectors.model import Upload
from detectors.params import Params
from detectors.store import load_probes, load_uploads, save_cursor, store_transition

if TYPE_CHECKING:
    from api.state import AppState

log = logging.getLogger(__name__)

LOCK_KEY = 0x63757477_64657465  # "cutwdete"
Clock = Callable[[AsyncConnection[Any]], Awaitable[datetime]]


@dataclass(frozen=True, slots=True)
class OnlineConfig:
    poll_s: float = 2.0
    """How often the leader reads new batches and evaluates."""
    standby_s: float = 5.0
    """How often a standby replica tries to become the leader."""
    lookback_s: float = 120.0
    """Batches committed this late (by ``received_at``) are still picked up."""
    rebuild_s: float = 6 * 3600.0
    """History replayed by a new leader to rebuild its state."""
    settle_s: float = 2.0
    """The engine's clock stays this far behind the database's."""
    page: int = 5000
    probes_refresh_s: float = 30.0


async def database_clock(conn: AsyncConnection[Any]) -> datetime:
    cur = await conn.execute("SELECT now()")
    row = await cur.fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


class Leader:
    """The engine fed from the database; ``step`` does one poll."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]], params: Params,
                 config: OnlineConfig, clock: Clock, name: str = "") -> None:
        self.pool, self.config, self.clock, self.name = pool, config, clock, name
        self.engine = Engine(params)
        self.cursor: datetime | None = None
        self.seen: dict[UUID, float] = {}
        self.probes_at = -math.inf
        self.stored = 0

    async def step(self) -> int:
        config = self.config
        async with self.pool.connection() as conn:
            now = await self.clock(conn)
            if self.cursor is None:
                self.cursor = now - timedelta(seconds=config.rebuild_s)
            if now.timestamp() - self.probes_at >= config.probes_refresh_s:
                for info in await load_probes(conn):
                    self.engine.register(info)
                self.probes_at = now.timestamp()
            uploads = await self._new_uploads(conn, now)
            transitions = self._feed(uploads, now.timestamp() - config.settle_s)
            await conn.commit()  # end the read transaction: each store below is its own
            stored = 0
            for transition in transitions:
                try:
                    async with conn.transaction():
                        stored += await store_transition(conn, transition)
                except psycopg.OperationalError:
                    raise  # the database is gone: let the supervisor restart the worker
                except Exception:
                    # one transition the outbox refuses must not stop detection (a restart
                    # would replay it and fail again); it is logged, the others go on
                    log.exception("detector: could not store %s of event %s",
                                  transition.get("action"), transition["event"].get("id"))
            await save_cursor(conn, {"leader": self.name, "cursor": self.cursor.isoformat()})
            await conn.commit()
        self.stored += stored
        return stored

    async def _new_uploads(self, conn: AsyncConnection[Any], now: datetime) -> list[Upload]:
        assert self.cursor is not None
        after = self.cursor - timedelta(seconds=self.config.lookback_s)
        fresh: list[Upload] = []
        while True:
            page = await load_uploads(conn, after, now, self.config.page)
            new = [u for u in page if u.batch.batch_id not in self.seen]
            for u in new:
                self.seen[u.batch.batch_id] = u.received_at
            fresh.extend(new)
            if len(page) < self.config.page or not new:
                break
            after = datetime.fromtimestamp(page[-1].received_at, UTC) - timedelta(microseconds=1)
        if fresh:
            newest = max(u.received_at for u in fresh)
            self.cursor = max(self.cursor, datetime.fromtimestamp(newest, UTC))
        horizon = self.cursor.timestamp() - 2 * self.config.lookback_s
        self.seen = {k: v for k, v in self.seen.items() if v >= horizon}
        return sorted(fresh, key=lambda u: u.received_at)

    def _feed(self, uploads: list[Upload], until: float) -> list[Mapping[str, Any]]:
        engine = self.engine
        out: list[Mapping[str, Any]] = []
        for upload in uploads:
            out.extend(t.to_json() for t in engine.evaluate_until(min(upload.received_at, until)))
            engine.upload(upload)
        out.extend(t.to_json() for t in engine.evaluate_until(until))
        return out


async def run(dsn: str, pool: AsyncConnectionPool[AsyncConnection[Any]],
              stopping: asyncio.Event, params: Params | None = None,
              config: OnlineConfig | None = None, clock: Clock = database_clock,
              name: str = "", on_leader: Callable[[Leader], None] | None = None) -> None:
    """Wait for leadership, then lead until ``stopping`` is set or the lock is lost."""
    params, config = params or Params(), config or OnlineConfig()
    async with await AsyncConnection.connect(dsn, autocommit=True) as lock:
        while not stopping.is_set():
            cur = await lock.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
            row = await cur.fetchone()
            if row is not None and row[0]:
                break
            await _sleep(stopping, config.standby_s)
        else:
            return
        log.info("detector %s is the leader", name or "worker")
        leader = Leader(pool, params, config, clock, name)
        if on_leader is not None:
            on_leader(leader)
        while not stopping.is_set():
            await lock.execute("SELECT 1")  # the lock lives as long as this connection
            await leader.step()
            await _sleep(stopping, config.poll_s)


async def worker(state: AppState) -> None:
    """The entry in api/app.py's WORKERS."""
    dsn = state.settings.database_url
    if not dsn:
        raise RuntimeError("the detector needs the service's database URL")
    await run(dsn, state.pool, state.stopping)


async def _sleep(stopping: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
