"""The detector inside the service: one leader at a time, fed from a commit-ordered queue.

Every replica may run ``run``; the one holding a PostgreSQL advisory lock runs the engine, the
others wait to take over (and warn when the queue stalls). The lock and the leader's work share
one connection of its own, so losing the connection loses the lock and the work together.

The feed is the ``detector_queue`` table (migration 0004): a trigger queues every batch row in
the transaction that inserts it, so a batch is visible to the leader exactly when it commits,
whatever order concurrent replicas commit in, and however many arrive at once. The leader takes
pages off the queue with ``DELETE ... RETURNING`` in the transaction that reads the batches and
feeds the engine: a page leaves the queue only with the read that used it. A new leader first
rebuilds the engine from history (``rebuild_s``) and, in the same REPEATABLE READ snapshot,
empties the queue of what that history holds; what commits later stays queued for it. Any
failure after feeding discards the leader and the next one takes over, so within one leader
every batch is fed exactly once. Snapshots (migration 0008) make that takeover warm: the
leader saves its engine every ``snapshot_s`` and notes each page it takes in
``detector_fed`` in the same transaction; saving empties that log, so a new leader loads the
snapshot, feeds the log, then the queue, and rebuilds from history only without a usable
snapshot. Each transition is stored with
its webhook deliveries in one transaction, idempotently, so a rebuild stores nothing twice.

``worker`` runs all of it in a child process of the service (or, by choice, on a thread with
its own event loop), so the engine's CPU time never delays the API: on a thread, converting
pages of rows holds the interpreter lock and the API's /healthz p99 went from 2 ms to 100 ms
during a burst. ``cutwatch detect`` runs it as a process of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import psycopg
from prometheus_client import Histogram
from psycopg import AsyncConnection

from cutwatch.api import metrics
from cutwatch.api.detection_store import (
    drop_queued,
    drop_snapshot,
    fed_page,
    history_page,
    load_probes,
    load_snapshot,
    quarantine,
    queue_stats,
    read_uploads,
    save_cursor,
    save_snapshot,
    store_transition,
    take_queued,
)
from cutwatch.detectors import snapshot
from cutwatch.detectors.engine import Engine
from cutwatch.detectors.model import Transition, Upload
from cutwatch.detectors.params import Params

if TYPE_CHECKING:
    from cutwatch.api.state import AppState

log = logging.getLogger(__name__)

LOCK_KEY = 0x63757477_64657465  # "cutwdete"
SNAPSHOT_SECONDS = Histogram(
    "cutwatch_detector_snapshot_seconds", "Time to encode and save the engine's snapshot",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
Clock = Callable[[AsyncConnection[Any]], Awaitable[datetime]]
NO_ID = UUID(int=0)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OnlineConfig:
    poll_s: float = 2.0
    """How often the leader takes new batches off the queue and evaluates."""
    standby_s: float = 5.0
    """How often a standby replica tries to become the leader."""
    rebuild_s: float = 6 * 3600.0
    """History replayed by a new leader to rebuild its state."""
    settle_s: float = 2.0
    """The engine's clock stays this far behind the database's."""
    page: int = 500
    """Batches read per transaction; a step takes pages until the queue is empty. Small
    enough that converting one page's rows (C code holding the GIL) stays a few
    milliseconds: with 5,000 the API's /healthz p99 on the same process rose to 300 ms."""
    probes_refresh_s: float = 30.0
    stall_s: float = 60.0
    """A batch waiting longer than this for the detector is logged as a stall (leader and
    standbys both look)."""
    progress_s: float = 60.0
    """How often the leader logs what it fed."""
    snapshot_s: float = 120.0
    """How often the leader saves its engine (and on a clean stop); 0: never, and a new
    leader always rebuilds from history. A new leader feeds what came after the snapshot, so
    this bounds its catch-up (at 10,000 probes, 2 minutes are 20,000 batches, a few seconds),
    while saving costs about 0.4 ms of CPU per probe."""


def overridden(kind: type[T], overrides: Mapping[str, float]) -> T:
    """``kind()`` (``Params`` or ``OnlineConfig``) with the named fields replaced, from the
    ``detector_params`` / ``detector_online`` settings; ``ValueError`` names a field that
    does not exist, a negative value, or a fraction where a count is expected."""
    fields = {f.name: f for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"unknown {kind.__name__} field(s): {', '.join(unknown)}")
    values: dict[str, float | int] = {}
    for name, value in overrides.items():
        if not value >= 0:
            raise ValueError(f"{kind.__name__}.{name} must not be negative")
        if isinstance(getattr(kind(), name), int):
            if value != int(value):
                raise ValueError(f"{kind.__name__}.{name} is a count: {value} is not whole")
            value = int(value)
        values[name] = value
    return kind(**values)


async def database_clock(conn: AsyncConnection[Any]) -> datetime:
    cur = await conn.execute("SELECT now()")
    row = await cur.fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


class Stopped(Exception):
    """The service is stopping: a rebuild under way is rolled back and abandoned."""


class Leader:
    """The engine fed from the queue; ``step`` drains what is due, evaluates and stores.

    ``conn`` is in autocommit mode: every unit of work is an explicit transaction.
    ``on_upload`` sees each batch fed (tests count them).
    """

    def __init__(self, conn: AsyncConnection[Any], params: Params, config: OnlineConfig,
                 clock: Clock = database_clock, name: str = "",
                 on_upload: Callable[[Upload], None] | None = None) -> None:
        self.conn, self.config, self.clock, self.name = conn, config, clock, name
        self.on_upload = on_upload
        self.engine = Engine(params)
        self.rebuilt = False
        self.probes_at = -math.inf
        self.stored = 0
        self.fed = 0
        self.steps = 0
        self.tick_s = 0.0
        self.snapshot_at = -math.inf  # monotonic time of the last snapshot saved
        self.snapshot_cost_s = 0.0
        self.snapshot_cpu_s = 0.0
        self.resumed = False  # from a snapshot, rather than rebuilt from history
        self.no_snapshots = config.snapshot_s <= 0
        self._progress = (time.monotonic(), 0, 0)  # since, fed, stored at the last log line
        self._stall_logged = -math.inf
        self.refused: list[tuple[UUID, str]] = []  # quarantined before the feed commits
        # checked between pages, so a long rebuild or burst does not outlive a shutdown
        self.stopping: asyncio.Event | None = None

    async def step(self) -> int:
        """One poll; returns the transitions stored."""
        started = time.perf_counter()
        if self.rebuilt:
            stored = await self._drain()
        else:
            # resumed: up to date at once, as after a rebuild (the queue drained too)
            resumed = await self._resume()
            stored = await self._rebuild() if resumed is None else \
                resumed + await self._drain()
        elapsed = time.perf_counter() - started
        metrics.DETECTOR_TICK.observe(elapsed)
        self.stored += stored
        self.steps += 1
        metrics.DETECTOR_TRANSITIONS.inc(stored)
        self.tick_s = elapsed
        if not self.no_snapshots and \
                time.monotonic() - self.snapshot_at >= self.config.snapshot_s:
            await self.save_snapshot()
        await self._save_state()
        await self._report(elapsed)
        return stored

    async def _rebuild(self) -> int:
        """Replay recent history and empty the queue of it, in one snapshot."""
        config, conn = self.config, self.conn
        started = time.perf_counter()
        transitions: list[Transition] = []
        async with conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            now = await self.clock(conn)
            await self._refresh_probes(now)
            until = now.timestamp() - config.settle_s
            key = (now - timedelta(seconds=config.rebuild_s), NO_ID)
            while True:
                page = await history_page(conn, key, now, config.page)
                if not page:
                    break
                transitions.extend(self._feed(await read_uploads(conn, page), until,
                                              last=False))
                await self._quarantine_refused()
                key = (page[-1][1], page[-1][0])
                if len(page) < config.page:
                    break
                if self.stopping is not None and self.stopping.is_set():
                    raise Stopped
            transitions.extend(self._feed([], until))
            dropped = await drop_queued(conn, now)
            await drop_snapshot(conn)  # history replaces it; the next one is saved after
        self.rebuilt = True
        log.info("detector %s rebuilt from %d batches of the last %.0f s in %.2f s"
                 " (%d were queued)", self.name or "leader", self.fed, config.rebuild_s,
                 time.perf_counter() - started, dropped)
        return await self._store(transitions)

    async def _drain(self) -> int:
        """Take pages off the queue until a short one (then evaluate up to now), or until
        the step has run ``poll_s`` (then the engine stays at the last batch fed and the next
        step goes on), so a step ends and reports even while ingest outruns the engine."""
        config, conn = self.config, self.conn
        started = time.perf_counter()
        stored = 0
        while True:
            async with conn.transaction():
                now = await self.clock(conn)
                await self._refresh_probes(now)
                keys = await take_queued(conn, now, config.page, not self.no_snapshots)
                uploads = await read_uploads(conn, keys)
                last = len(keys) < config.page
                transitions = self._feed(uploads, now.timestamp() - config.settle_s, last)
                await self._quarantine_refused()
            stored += await self._store(transitions)
            if last or (self.stopping is not None and self.stopping.is_set()):
                return stored
            await self._save_state()  # progress through a long burst shows as it goes
            if time.perf_counter() - started > config.poll_s:
                return stored

    async def _resume(self) -> int | None:
        """Load the last leader's snapshot and feed what it took after it (detector_fed);
        None when there is no usable snapshot (the caller rebuilds from history). A snapshot
        that cannot be read is logged in one line and left for the rebuild to replace."""
        if self.config.snapshot_s <= 0:
            return None
        conn, config = self.conn, self.config
        started = time.perf_counter()
        async with conn.transaction():
            stored_snapshot = await load_snapshot(conn)
        if stored_snapshot is None:
            return None
        try:
            if stored_snapshot.format != snapshot.FORMAT:
                raise snapshot.SnapshotError(f"format {stored_snapshot.format}")
            engine = snapshot.load(stored_snapshot.state, self.engine.params)
        except snapshot.SnapshotError as exc:
            log.warning("detector %s: snapshot of %s not used (%s); rebuilding from history",
                        self.name or "leader", stored_snapshot.taken_at, exc)
            return None
        self.engine = engine
        transitions: list[Transition] = []
        after, replayed = 0, 0
        async with conn.transaction():
            now = await self.clock(conn)
            await self._refresh_probes(now)
            while True:
                page = await fed_page(conn, after, config.page)
                if not page:
                    break
                uploads = await read_uploads(conn, [(r[1], r[2]) for r in page])
                transitions.extend(self._feed(uploads, now.timestamp() - config.settle_s,
                                              last=False))
                await self._quarantine_refused()
                replayed += len(page)
                after = page[-1][0]
                if self.stopping is not None and self.stopping.is_set():
                    raise Stopped
        self.rebuilt = self.resumed = True
        log.info("detector %s resumed from the snapshot of %s (%d batches fed after it)"
                 " in %.2f s", self.name or "leader", stored_snapshot.taken_at, replayed,
                 time.perf_counter() - started)
        return await self._store(transitions)

    async def save_snapshot(self) -> bool:
        """Save the engine with the fed log emptied, in one transaction (the engine has
        every batch the log held); a failure to encode is logged and costs only the snapshot."""
        if not self.rebuilt or self.no_snapshots:
            return False
        started, cpu = time.perf_counter(), time.thread_time()
        self.snapshot_at = time.monotonic()
        try:
            state = snapshot.dump(self.engine)
        except snapshot.SnapshotError as exc:
            # the engine holds something that is not plain data: no snapshots from this
            # leader, and none left behind, so the fed log stops growing and the next leader
            # rebuilds from history as without snapshots
            log.error("detector %s: cannot save a snapshot, saving none: %s",
                      self.name or "leader", exc)
            self.no_snapshots = True
            async with self.conn.transaction():
                await drop_snapshot(self.conn)
            return False
        async with self.conn.transaction():
            await save_snapshot(self.conn, snapshot.FORMAT, self.fed, state)
        self.snapshot_cost_s = time.perf_counter() - started
        self.snapshot_cpu_s = time.thread_time() - cpu  # this thread's: what it takes from the tick
        SNAPSHOT_SECONDS.observe(self.snapshot_cost_s)
        return True

    async def _save_state(self) -> None:
        """Who leads, what it fed and its latest step time, in the database, so every
        replica's /metrics (and the operators of a `cutwatch detect` process) can tell."""
        async with self.conn.transaction():
            await save_cursor(self.conn, {"leader": self.name, "fed": self.fed,
                                          "stored": self.stored, "tick_s": round(self.tick_s, 6),
                                          "snapshot_s": round(self.snapshot_cost_s, 6),
                                          "resumed": self.resumed})

    async def _quarantine_refused(self) -> None:
        for batch_id, reason in self.refused:
            await quarantine(self.conn, batch_id, reason)
            metrics.DETECTOR_QUARANTINED.inc()
        self.refused.clear()

    async def _refresh_probes(self, now: datetime) -> None:
        if now.timestamp() - self.probes_at >= self.config.probes_refresh_s:
            for info in await load_probes(self.conn):
                self.engine.register(info)
            self.probes_at = now.timestamp()

    def _feed(self, uploads: list[Upload], until: float,
              last: bool = True) -> list[Transition]:
        """Feed ``uploads`` in order, evaluating up to each; then up to ``until`` only when
        this is the ``last`` page: evaluating ahead of a page still to come would judge its
        probes silent before their batches are read."""
        engine = self.engine
        out: list[Transition] = []
        for upload in uploads:
            out.extend(engine.evaluate_until(min(upload.received_at, until)))
            try:
                engine.upload(upload)
            except Exception as exc:
                # a batch the engine cannot take must not stop detection for every probe
                self.refused.append((upload.batch.batch_id, f"engine: {type(exc).__name__}: {exc}"))
                continue
            self.fed += 1
            metrics.DETECTOR_FED.inc()
            if self.on_upload is not None:
                self.on_upload(upload)
        if last:
            out.extend(engine.evaluate_until(until))
        return out

    async def _store(self, transitions: list[Transition]) -> int:
        conn = self.conn
        stored = 0
        for transition in transitions:
            try:
                async with conn.transaction():
                    stored += await store_transition(conn, transition)
            except psycopg.OperationalError:
                raise  # the database is gone: the supervisor restarts the worker
            except Exception:
                # one transition the outbox refuses must not stop detection (a restart
                # would replay it and fail again); it is logged, the others go on
                log.exception("detector: could not store %s of event %s",
                              transition.action, transition.event.id)
        return stored

    async def _report(self, elapsed: float) -> None:
        """Progress now and then, and a warning whenever a batch waits too long."""
        config = self.config
        mono = time.monotonic()
        since, fed, stored = self._progress
        if mono - since >= config.progress_s:
            log.info("detector %s: fed %d batches, stored %d transitions in the last %.0f s;"
                     " last step %.3f s", self.name or "leader", self.fed - fed,
                     self.stored - stored, mono - since, elapsed)
            self._progress = (mono, self.fed, self.stored)
        if elapsed > config.poll_s:
            log.warning("detector %s: one step took %.1f s (poll interval %.1f s)",
                        self.name or "leader", elapsed, config.poll_s)
        self._stall_logged = await warn_if_stalled(self.conn, self.clock, config,
                                                   self._stall_logged)


async def warn_if_stalled(conn: AsyncConnection[Any], clock: Clock, config: OnlineConfig,
                          last: float) -> float:
    """Log a warning (at most once per ``stall_s``) when a due batch waits longer than
    ``stall_s``; returns when it last warned."""
    async with conn.transaction():
        stats = await queue_stats(conn)
        now = await clock(conn)
    if stats.oldest is None:
        return last
    waited = (now - stats.oldest).total_seconds()
    mono = time.monotonic()
    if waited > config.stall_s and mono - last >= config.stall_s:
        log.warning("detection is behind: %d batches wait for the detector, the oldest for"
                    " %.0f s", stats.waiting, waited)
        return mono
    return last


async def run(dsn: str, stopping: asyncio.Event, params: Params | None = None,
              config: OnlineConfig | None = None, clock: Clock = database_clock,
              name: str = "", on_leader: Callable[[Leader], None] | None = None,
              on_upload: Callable[[Upload], None] | None = None) -> None:
    """Wait for leadership, then lead until ``stopping`` is set or the connection is lost."""
    params, config = params or Params(), config or OnlineConfig()
    async with await AsyncConnection.connect(dsn, autocommit=True,
                                             options="-c timezone=UTC") as conn:
        stall_logged = -math.inf
        while not stopping.is_set():
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
            row = await cur.fetchone()
            if row is not None and row[0]:
                break
            stall_logged = await warn_if_stalled(conn, clock, config, stall_logged)
            await _sleep(stopping, config.standby_s)
        else:
            return
        log.info("detector %s is the leader", name or "worker")
        leader = Leader(conn, params, config, clock, name, on_upload)
        leader.stopping = stopping
        if on_leader is not None:
            on_leader(leader)
        metrics.DETECTOR_LEADER.labels(name).set(1)
        try:
            while not stopping.is_set():
                await leader.step()
                await _sleep(stopping, config.poll_s)
            if config.snapshot_s > 0 and await leader.save_snapshot():
                log.info("detector %s saved its snapshot on stopping", name or "worker")
        except Stopped:
            log.info("detector %s stopped during its rebuild", name or "worker")
        finally:
            metrics.DETECTOR_LEADER.labels(name).set(0)


async def worker(state: AppState) -> None:
    """The entry in api/app.py's WORKERS: the leader election in a child process (default),
    on a thread of its own, or nowhere (``settings.detector``)."""
    settings = state.settings
    dsn = settings.database_url
    if not dsn:
        raise RuntimeError("the detector needs the service's database URL")
    if settings.detector == "off":
        return  # a `cutwatch detect` process leads instead
    params = overridden(Params, settings.detector_params)
    config = overridden(OnlineConfig, settings.detector_online)
    if settings.detector == "thread":
        await in_thread(lambda stop: run(dsn, stop, params=params, config=config,
                                         name=replica_name()), state.stopping)
    else:
        await in_child(dsn, state.stopping, settings.detector_params, settings.detector_online)


def replica_name() -> str:
    """hostname-pid of the service process (a child detector is named after its parent)."""
    return os.environ.get(CHILD_NAME_ENV) or f"{socket.gethostname()}-{os.getpid()}"


CHILD_NAME_ENV = "CUTWATCH_DETECTOR_NAME"
CHILD_STOP_GRACE_S = 10.0


async def in_child(dsn: str, stopping: asyncio.Event,
                   params: Mapping[str, float] | None = None,
                   online: Mapping[str, float] | None = None) -> None:
    """Run the leader election in a child process until ``stopping`` is set (SIGTERM, then
    SIGKILL after a grace period). The child holds a pipe from this process on its stdin and
    stops when it closes, so a service killed outright does not leave a leader behind.
    A child that exits on its own is an error here: the supervisor starts another."""
    env = {**os.environ, "DATABASE_URL": dsn, "CUTWATCH_DATABASE_URL": dsn,
           CHILD_NAME_ENV: replica_name(),
           # the service's overrides, however they were given, as the child's settings
           "CUTWATCH_DETECTOR_PARAMS": json.dumps(dict(params or {})),
           "CUTWATCH_DETECTOR_ONLINE": json.dumps(dict(online or {}))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from cutwatch.api.leader import child_main; child_main()",
        stdin=asyncio.subprocess.PIPE, env=env)
    waiter = asyncio.create_task(stopping.wait())
    exited = asyncio.create_task(proc.wait())
    try:
        await asyncio.wait({waiter, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if proc.stdin is not None:
            proc.stdin.close()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(exited), CHILD_STOP_GRACE_S)
            except (TimeoutError, asyncio.CancelledError):
                proc.kill()
                await exited
    if not stopping.is_set():
        raise RuntimeError(f"the detector process exited with status {proc.returncode}")


def child_main() -> None:
    """The child process of ``in_child``: the election until SIGTERM or its parent is gone."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)-9s %(name)s: %(message)s")
    dsn = os.environ["DATABASE_URL"]

    async def parent_gone(stopping: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()

        def watch() -> None:
            sys.stdin.buffer.read()  # the parent never writes: EOF means it closed or died
            with suppress(RuntimeError):  # the loop is already closed: we are stopping
                loop.call_soon_threadsafe(stopping.set)

        # a daemon thread, not the loop's executor, which asyncio.run would wait for
        threading.Thread(target=watch, name="parent-watch", daemon=True).start()

    params = json.loads(os.environ.get("CUTWATCH_DETECTOR_PARAMS") or "{}")
    online = json.loads(os.environ.get("CUTWATCH_DETECTOR_ONLINE") or "{}")
    detect(dsn, extra=parent_gone, params=overridden(Params, params),
           config=overridden(OnlineConfig, online))


async def in_thread(main: Callable[[asyncio.Event], Awaitable[None]],
                    stopping: asyncio.Event) -> None:
    """Run ``main(stop)`` on a new thread with its own event loop until it returns or
    ``stopping`` is set (then ``stop`` is set in the thread's loop and it is awaited).
    An exception in the thread is raised here, so the supervisor restarts the worker."""
    here = asyncio.get_running_loop()
    done = asyncio.Event()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def body() -> None:
        box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await main(box["stop"])

    def target() -> None:
        try:
            asyncio.run(body())
        except BaseException as exc:  # handed to the supervisor in the service's loop
            box["error"] = exc
        finally:
            ready.set()
            here.call_soon_threadsafe(done.set)

    thread = threading.Thread(target=target, name="cutwatch-detector", daemon=True)
    thread.start()
    waiter = asyncio.create_task(stopping.wait())
    finished = asyncio.create_task(done.wait())
    try:
        await asyncio.wait({waiter, finished}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not done.is_set():
            await asyncio.to_thread(ready.wait)
            if "loop" in box:
                with suppress(RuntimeError):  # the thread's loop closed meanwhile
                    box["loop"].call_soon_threadsafe(box["stop"].set)
            await finished
        finished.cancel()
    if "error" in box:
        raise box["error"]


RESTART_DELAY_S = 5.0


def detect(dsn: str, *, metrics_port: int | None = None, metrics_host: str = "127.0.0.1",
           config: OnlineConfig | None = None,
           extra: Callable[[asyncio.Event], Coroutine[Any, Any, None]] | None = None,
           params: Params | None = None) -> None:
    """``cutwatch detect``: the leader election as a process of its own, until SIGTERM/SIGINT.

    For deployments that keep the detector off the API replicas (their ``detector`` setting
    is then ``off``). Crashes restart the election after a pause, as the service's supervisor
    does; the lock makes any number of these safe. ``extra(stopping)`` runs alongside.
    """
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host)

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        watcher = asyncio.create_task(extra(stopping)) if extra is not None else None
        name = replica_name()
        while not stopping.is_set():
            try:
                await run(dsn, stopping, params=params, config=config, name=name)
            except Exception:
                log.exception("detector crashed; restarting in %.0f s", RESTART_DELAY_S)
            await _sleep(stopping, RESTART_DELAY_S)
        if watcher is not None:
            watcher.cancel()

    asyncio.run(main())


async def _sleep(stopping: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
