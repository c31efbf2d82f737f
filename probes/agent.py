"""The running probe: measure on schedule -> spool -> upload, with check-in alongside.

Three loops share one event loop: measuring (never waits on the network beyond a check's own
timeout), uploading (backs off while the collector is unreachable) and check-in. Measuring
never depends on the other two: a probe cut off from its collector keeps measuring and
spooling, which is what later proves the network, not the probe, was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from cutwatch.probes import checkin
from cutwatch.probes.checks.base import Context
from cutwatch.probes.config import Credentials, ProbeConfig
from cutwatch.probes.records import Result
from cutwatch.probes.runner import jobs, measure
from cutwatch.probes.scheduler import Plan, backoff
from cutwatch.probes.spool import Spool, SpoolChanged, SpoolWriter
from cutwatch.probes.targets import BaseTarget, CheckinReply, Group, Schedule
from cutwatch.probes.tls import tls_context
from cutwatch.probes.uploader import Round, Uploader
from cutwatch.vocab import Family

log = logging.getLogger(__name__)

CONCURRENCY = 4  # checks in flight at once: a round still takes ~1 s; less peak memory


class Agent:
    def __init__(self, config: ProbeConfig, context: Context, spool: Spool | None = None,
                 *, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, writer: SpoolWriter | None = None) -> None:
        self.config = config
        self.context = dataclasses.replace(context, block_pages=config.block_pages)
        self.spool = spool
        # Stores results off the event loop (probes.main gives one); else spool.add inline.
        self.writer = writer
        self.clock = clock
        self.rng = rng or random.Random()
        self.catalogue: CheckinReply | None = None
        self.plan = Plan(self.schedule, clock, self.rng)
        self._fresh = asyncio.Event()  # a measurement round has just ended
        self._measuring = False

    @property
    def schedule(self) -> Schedule:
        if self.catalogue is not None and self.catalogue.schedule is not None:
            return self.catalogue.schedule
        return self.config.schedule

    def targets(self) -> tuple[BaseTarget, ...]:
        """The volunteer's own targets, then the catalogue's (a local name wins)."""
        own: tuple[BaseTarget, ...] = self.config.targets
        names = {t.name for t in own}
        extra = self.catalogue.catalogue.targets if self.catalogue else ()
        return own + tuple(t for t in extra if t.name not in names)

    def apply(self, reply: CheckinReply) -> None:
        self.catalogue = reply
        pages = self.config.block_pages + reply.catalogue.block_pages
        self.context = dataclasses.replace(self.context, block_pages=pages)
        self.plan.reschedule(self.schedule)

    async def measure_round(self, groups: tuple[Group, ...] = ("pulse", "service")
                            ) -> list[Result]:
        """Run every target of ``groups``; each result is spooled the moment it exists."""
        gate = asyncio.Semaphore(CONCURRENCY)
        selected = tuple(t for t in self.targets() if t.group in groups)

        async def one(target: BaseTarget, family: Family) -> Result:
            async with gate:
                result = await measure(target, family, self.context)
            if self.writer is not None:
                await self.writer.add(result)
            elif self.spool is not None:
                self.spool.add(result)
            return result

        return list(await asyncio.gather(*(one(t, f) for t, f in jobs(selected))))

    async def measure_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            groups = self.plan.due()
            if groups:
                self._measuring = True
                try:
                    results = await self.measure_round(tuple(groups))
                finally:
                    self._measuring = False
                self._fresh.set()
                log.info("measured %s: %d results, %d failed", "+".join(groups), len(results),
                         sum(not r.ok for r in results))
                release_memory()
            await _sleep(stop, self.plan.wait())

    async def upload_loop(self, stop: asyncio.Event, uploader: Uploader) -> None:
        attempt = 0
        while not stop.is_set():
            try:
                done = await uploader.upload()
            except SpoolChanged as exc:  # the caps dropped results it had picked: rebuild soon
                log.info("upload round restarted: %s", exc)
                done = Round(more=True)
            except Exception as exc:  # e.g. a full disk: keep measuring, try again later
                log.exception("upload round failed")
                done = Round(error=f"{type(exc).__name__}: {exc}")
            self.plan.set_offline(done.error is not None)
            if done.error is None:
                attempt = 0
                delay = self.schedule.upload * (1 + self.rng.uniform(0, self.schedule.jitter))
                if done.more:  # a backlog after a cut: keep draining, but let others breathe
                    delay = 1.0
                else:
                    await self._until_upload(stop, delay)
                    continue
            else:
                attempt += 1
                delay = 600.0 if done.wait_long else backoff(attempt, self.rng)
                log.warning("upload failed (attempt %d, next in %.0f s): %s", attempt, delay,
                            done.error)
            await _sleep(stop, delay)

    async def _until_upload(self, stop: asyncio.Event, delay: float) -> None:
        """Wait ``delay`` for the next upload, except that a measurement round ending within
        half an interval of it (before or after) moves the upload to the round's end: a
        round's results then go up at once instead of waiting up to a whole upload interval
        (which made a live condition open one interval later). Without a round near it the
        upload goes at its time, a heartbeat."""
        window = min(self.schedule.pulse, self.schedule.upload) / 2
        due = self.clock() + delay
        self._fresh.clear()
        while not stop.is_set():
            now = self.clock()
            if now >= due:
                coming = self._measuring or self.plan.next_at["pulse"] <= due + window
                if now >= due + window or not coming:
                    return
                until = due + window
            else:
                until = due
            if await _either(self._fresh, stop, until - now):
                self._fresh.clear()
                if self.clock() >= due - window:
                    return

    async def checkin_loop(self, stop: asyncio.Event, client: httpx.Client,
                           credentials: Credentials) -> None:
        attempt = 0
        while not stop.is_set():
            reply = await checkin.fetch(client, credentials.collectors, credentials.token)
            if isinstance(reply, str):
                attempt += 1
                delay = backoff(attempt, self.rng, base=30, cap=self.schedule.checkin)
                log.warning("check-in failed, keeping the last catalogue: %s", reply)
            else:
                attempt = 0
                try:
                    checkin.save(self.config.probe.state_dir, reply)
                except OSError as exc:  # use it now; it will be saved on a later check-in
                    log.warning("could not save the catalogue: %s", exc)
                self.apply(reply)
                delay = self.schedule.checkin
                log.info("check-in: %d catalogue targets", len(reply.catalogue.targets))
            await _sleep(stop, delay)

    async def run(self, stop: asyncio.Event, credentials: Credentials,
                  clock_synced: Callable[[], bool | None]) -> None:
        assert self.spool is not None
        saved = checkin.load(self.config.probe.state_dir)
        if saved is not None:
            self.apply(saved)
        with httpx.Client(timeout=30, verify=tls_context()) as client:
            uploader = Uploader(
                self.spool, client, collectors=credentials.collectors,
                probe_id=credentials.probe_id, token=credentials.token,
                batch_size=self.config.spool.batch_size,
                fresh_per_batch=self.config.spool.fresh_per_batch,
                started_at=datetime.now(UTC), clock_synced=clock_synced)
            loops = [self.measure_loop(stop), self.upload_loop(stop, uploader)]
            if self.config.probe.checkin:
                loops.append(self.checkin_loop(stop, client, credentials))
            await asyncio.gather(*loops)


def release_memory() -> None:
    """Hand the round's freed heap back to the OS (glibc): a Pi Zero has 512 MB for all."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


async def _either(fresh: asyncio.Event, stop: asyncio.Event, seconds: float) -> bool:
    """Wait until ``fresh`` or ``stop`` is set, or ``seconds``; whether ``fresh`` is set."""
    waits = [asyncio.ensure_future(fresh.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, timeout=max(seconds, 0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    return fresh.is_set()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max(seconds, 0))
