"""The online detector (api/leader.py) over a real PostgreSQL: one leader, takeover, outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from detector_cases import CASES, stream

from cutwatch.api.leader import Leader, OnlineConfig, run
from cutwatch.api.migrate import apply_migrations
from cutwatch.detectors.replay import ProbeLine, parse_line
from cutwatch.detectors.scenarios import T0

# the province blackout, 01:30-02:10, backlogs after
PROVINCE = next(c[0] for c in CASES if c[0].name == "province blackout")
CONFIG = OnlineConfig(poll_s=0.02, standby_s=0.05, rebuild_s=6 * 3600)


class StepClock:
    """The database's clock, moved by the test (the engine never reads a wall clock)."""

    def __init__(self, start: float) -> None:
        self.now = start

    async def __call__(self, conn: Any) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


async def _load(conn: psycopg.AsyncConnection[Any], lines: tuple[str, ...]) -> None:
    probes, batches, results = [], [], []
    for n, text in enumerate(lines, 1):
        item = parse_line(text, n)
        if isinstance(item, ProbeLine):
            p = item.probe
            probes.append((p.id, "x", p.country, p.subdivision, p.city, p.access, p.asn, "admin"))
            continue
        b = item.batch
        batches.append((b.batch_id, b.probe_id, b.heartbeat.seq, b.sent_at, item.received_at,
                        len(b.results), len(b.results), b.heartbeat.spool_depth,
                        b.heartbeat.dropped_total, b.heartbeat.started_at))
        results.extend((r.id, b.probe_id, b.batch_id, r.kind, r.target, r.scope, r.family,
                        r.measured_at, item.received_at, r.duration_ms, r.ok, r.failure, "{}")
                       for r in b.results)
    async with conn.cursor() as cur:
        async with cur.copy("COPY probes (id, token_hash, country, subdivision, city, access,"
                            " asn, enrolled_by) FROM STDIN") as copy:
            for row in probes:
                await copy.write_row(row)
        async with cur.copy("COPY batches (batch_id, probe_id, seq, sent_at, received_at,"
                            " result_count, accepted_count, spool_depth, dropped_total,"
                            " started_at) FROM STDIN") as copy:
            for row in batches:
                await copy.write_row(row)
        async with cur.copy("COPY results (id, probe_id, batch_id, kind, target, scope, family,"
                            " measured_at, received_at, duration_ms, ok, failure, details)"
                            " FROM STDIN") as copy:
            for row in results:
                await copy.write_row(row)


async def _rows(conn: psycopg.AsyncConnection[Any], sql: str) -> list[tuple[Any, ...]]:
    cur = await conn.execute(sql)
    return await cur.fetchall()


async def _until(condition: Callable[[], bool], what: str, within_s: float = 30.0) -> None:
    """Wait for ``condition`` with a deadline (the leader runs at its own pace)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.mark.slow
@pytest.mark.anyio
async def test_one_leader_emits_and_a_standby_takes_over(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await apply_migrations(conn)
        await _load(conn, stream(PROVINCE))
        clock = StepClock(T0 + 3600)
        stopping = asyncio.Event()
        leaders: list[Leader] = []
        tasks = {
            name: asyncio.create_task(run(database_url, stopping, config=CONFIG, clock=clock,
                                          name=name, on_leader=leaders.append))
            for name in ("a", "b")
        }

        def leading() -> Leader:
            return leaders[-1]

        async def advance(seconds: float) -> None:
            # the step under way may have read the old clock: wait for the one after it
            clock.now += seconds
            target = leading().steps + 2
            await _until(lambda: leading().steps >= target, "two leader steps")

        try:
            await _until(lambda: bool(leaders) and leading().steps >= 1, "a rebuilt leader")
            opened_at = None
            while clock.now < T0 + 3 * 3600:
                await advance(60)
                rows = await _rows(conn, "SELECT action FROM event_transitions")
                if opened_at is None and ("opened",) in rows:
                    opened_at = clock.now
                    # only one of the two ever led, and it alone stored the transition
                    assert [lead.name for lead in leaders] in (["a"], ["b"])
                    first = leaders[0]
                    assert first.stored == len(rows)
                    tasks[first.name].cancel()  # the leader dies; its lock goes with it
                    await _until(lambda: len(leaders) == 2 and leaders[1].steps >= 1,
                                 "the standby to take over and rebuild")
        finally:
            stopping.set()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        assert opened_at is not None
        assert len(leaders) == 2
        assert leaders[1].name != leaders[0].name
        transitions = await _rows(
            conn, "SELECT action, transition->'event'->'entity'->>'code',"
            " transition->'event'->>'status' FROM event_transitions ORDER BY seq")
        actions = [t[0] for t in transitions]
        assert {t[1] for t in transitions} == {"MM-01"}
        assert actions.count("opened") == 1
        assert actions.count("resolved") == 1
        assert actions[0] == "opened"
        assert actions[-1] == "resolved"
        assert ("updated", "MM-01", "confirmed") in transitions
        # the outbox took every transition in the same transaction
        feed = await _rows(conn, "SELECT count(*) FROM feed_entries")
        assert feed[0][0] == len(transitions)
        events = await _rows(conn, "SELECT status, kind, end_at FROM events")
        assert len(events) == 1
        assert events[0][:2] == ("resolved", "blackout")
        end = events[0][2]
        assert abs(end - datetime.fromtimestamp(T0 + 5400 + 2400, UTC)) < timedelta(seconds=90)
