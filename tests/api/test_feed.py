"""The detector's feed (migration 0004, api/leader.py): every stored batch reaches the leader's
engine exactly once, whatever the commit order, the burst size, the page size or a leader dying
in the middle of a page. Real PostgreSQL; the ingesting "replicas" are separate processes."""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from cutwatch.api.leader import Leader, OnlineConfig, warn_if_stalled
from cutwatch.api.migrate import apply_migrations
from cutwatch.detectors.model import Upload
from cutwatch.detectors.params import Params

pytestmark = pytest.mark.anyio

PROBES = [f"p{n:03d}" for n in range(50)]


async def _setup(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await apply_migrations(conn)
        async with conn.cursor() as cur, cur.copy(
                "COPY probes (id, token_hash, country, subdivision, access, asn, enrolled_by)"
                " FROM STDIN") as copy:
            for n, probe in enumerate(PROBES):
                await copy.write_row((probe, "x", "MM", f"MM-0{n % 5 + 1}", "fixed",
                                      64500 + n % 3, "admin"))


async def _copy_batches(conn: psycopg.AsyncConnection[Any],
                        rows: list[tuple[uuid.UUID, str, datetime]]) -> None:
    """Stored the way a bulk import would: one COPY (the queue trigger fires per statement)."""
    async with conn.cursor() as cur, cur.copy(
            "COPY batches (batch_id, probe_id, seq, sent_at, received_at, result_count,"
            " accepted_count, spool_depth, dropped_total) FROM STDIN") as copy:
        for n, (batch_id, probe, at) in enumerate(rows):
            await copy.write_row((batch_id, probe, n, at, at, 0, 0, 0, 0))


def _rows(count: int, at: datetime, spread_s: float = 0.0) -> list[tuple[uuid.UUID, str,
                                                                         datetime]]:
    return [(uuid.uuid4(), PROBES[n % len(PROBES)],
             at + timedelta(seconds=spread_s * n / max(count, 1))) for n in range(count)]


class Fed:
    """What one or more leaders fed, batch by batch (the engine's only input)."""

    def __init__(self) -> None:
        self.ids: Counter[uuid.UUID] = Counter()
        self.order: list[tuple[int, float]] = []  # (step, received_at)
        self.step = 0

    def __call__(self, upload: Upload) -> None:
        self.ids[upload.batch.batch_id] += 1
        self.order.append((self.step, upload.received_at))


_OPEN: list[psycopg.AsyncConnection[Any]] = []


@pytest.fixture(autouse=True)
async def _close_leaders() -> AsyncIterator[None]:
    """Each leader's connection is closed after its test, passed or failed."""
    yield
    while _OPEN:
        await _OPEN.pop().close()


async def _leader(url: str, fed: Fed, config: OnlineConfig,
                  on_upload: Callable[[Upload], None] | None = None) -> Leader:
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    _OPEN.append(conn)
    return Leader(conn, Params(), config, name="t", on_upload=on_upload or fed)


async def _stored(url: str) -> set[uuid.UUID]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT batch_id FROM batches")
        return {r[0] for r in await cur.fetchall()}


async def _queued(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT count(*) FROM detector_queue")
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


# One ingesting replica: each batch in its own transaction, held open a random while, so
# transactions started (received_at) in one order commit in another across both processes.
INGESTER = """
import random, sys, time, uuid
import psycopg
url, prefix, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
with psycopg.connect(url) as conn:
    for n in range(count):
        with conn.transaction():
            conn.execute(
                "INSERT INTO batches (batch_id, probe_id, seq, sent_at, received_at,"
                " result_count, accepted_count, spool_depth, dropped_total)"
                " VALUES (%s, %s, %s, now(), now(), 0, 0, 0, 0)",
                (uuid.uuid4(), f"p{rng.randrange(50):03d}", n))
            time.sleep(rng.choice((0.0, 0.0, 0.002, 0.02, 0.08)))
"""


@pytest.mark.slow
async def test_two_ingesting_processes_commit_out_of_order_and_each_batch_is_fed_once(
        database_url: str) -> None:
    await _setup(database_url)
    fed = Fed()
    leader = await _leader(database_url, fed, OnlineConfig(page=7, settle_s=0))
    await leader.step()  # rebuilt on an empty history
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-c", INGESTER, database_url, name, "150", str(seed))
        for seed, name in enumerate(("a", "b"))]
    try:
        while any(p.returncode is None for p in procs):
            fed.step += 1
            await leader.step()
    finally:
        codes = [await asyncio.wait_for(p.wait(), 60) for p in procs]
    assert codes == [0, 0]
    fed.step += 1
    await leader.step()
    stored = await _stored(database_url)
    assert len(stored) == 300
    assert set(fed.ids) == stored
    assert max(fed.ids.values()) == 1
    assert await _queued(database_url) == 0
    # the positive control: some batch reached the leader in a later step than a batch
    # received after it (its transaction started earlier and committed later)
    latest_before = {step: max(at for s, at in fed.order if s <= step)
                     for step in {s for s, _ in fed.order}}
    assert any(at < latest_before[step - 1] for step, at in fed.order if step - 1 in
               latest_before), "no out-of-order commit happened"


async def test_an_open_transaction_is_fed_when_it_commits_not_skipped(database_url: str) -> None:
    await _setup(database_url)
    fed = Fed()
    leader = await _leader(database_url, fed, OnlineConfig(settle_s=0))
    await leader.step()
    async with await psycopg.AsyncConnection.connect(database_url) as slow, \
            await psycopg.AsyncConnection.connect(database_url) as fast:
        early = uuid.uuid4()
        await slow.execute(  # received first (now() is its transaction's start) ...
            "INSERT INTO batches (batch_id, probe_id, seq, sent_at, received_at, result_count,"
            " accepted_count, spool_depth, dropped_total) VALUES (%s, 'p001', 1, now(), now(),"
            " 0, 0, 0, 0)", (early,))
        await asyncio.sleep(0.05)
        later = [(uuid.uuid4(), "p002", datetime.now(UTC))]
        await _copy_batches(fast, later)
        await fast.commit()
        await leader.step()
        assert set(fed.ids) == {later[0][0]}
        await slow.commit()  # ... committed last, long after the leader moved past it
    await leader.step()
    assert set(fed.ids) == {early, later[0][0]}
    assert max(fed.ids.values()) == 1


@pytest.mark.slow
async def test_a_burst_of_20000_backlog_batches_is_fed_once(database_url: str) -> None:
    await _setup(database_url)
    fed = Fed()
    leader = await _leader(database_url, fed, OnlineConfig(page=5000, settle_s=0))
    await leader.step()
    now = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        # a shutdown ends: every probe uploads its backlog at once, all received "now"
        await _copy_batches(conn, _rows(20_000, now - timedelta(seconds=5), spread_s=4))
        await conn.commit()
    assert await _queued(database_url) == 20_000
    steps = 0
    while await _queued(database_url):  # a step ends after poll_s; the next goes on
        await leader.step()
        steps += 1
        assert steps <= 20, "the burst is not draining"
    assert len(fed.ids) == 20_000
    assert max(fed.ids.values()) == 1
    assert set(fed.ids) == await _stored(database_url)
    assert await _queued(database_url) == 0


@pytest.mark.parametrize("count", [9, 10, 11, 20, 25])
async def test_page_boundaries_in_history_and_queue(database_url: str, count: int) -> None:
    await _setup(database_url)
    at = datetime.now(UTC) - timedelta(minutes=5)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        # one received_at for all: the history's keyset must page inside a single instant
        await _copy_batches(conn, _rows(count, at))
        await conn.commit()
    fed = Fed()
    leader = await _leader(database_url, fed, OnlineConfig(page=10, settle_s=0))
    await leader.step()  # rebuild: history in pages of 10
    assert len(fed.ids) == count
    assert await _queued(database_url) == 0
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await _copy_batches(conn, _rows(count, datetime.now(UTC) - timedelta(seconds=2)))
        await conn.commit()
    await leader.step()  # queue: pages of 10 until one is short
    assert len(fed.ids) == 2 * count
    assert max(fed.ids.values()) == 1
    assert set(fed.ids) == await _stored(database_url)


@pytest.mark.slow
async def test_a_leader_killed_mid_page_loses_nothing_and_its_successor_feeds_once(
        database_url: str) -> None:
    await _setup(database_url)
    first = Fed()
    leader = await _leader(database_url, first, OnlineConfig(page=100, settle_s=0))
    await leader.step()
    now = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await _copy_batches(conn, _rows(250, now - timedelta(seconds=3), spread_s=2))
        await conn.commit()
    cur = await leader.conn.execute("SELECT pg_backend_pid()")
    row = await cur.fetchone()
    assert row is not None
    pid = row[0]
    with psycopg.connect(database_url, autocommit=True) as killer:

        def kill_mid_page(upload: Upload) -> None:
            first(upload)
            if len(first.ids) == 150:  # half-way through the second page
                killer.execute("SELECT pg_terminate_backend(%s)", (pid,))

        leader.on_upload = kill_mid_page
        with pytest.raises(psycopg.OperationalError):
            await leader.step()
    # the dead leader's engine took the whole second page, but its transaction never
    # committed: the page is still queued (the engine's memory died with it)
    assert len(first.ids) == 200
    assert await _queued(database_url) == 150
    second = Fed()
    successor = await _leader(database_url, second, OnlineConfig(page=100, settle_s=0))
    await successor.step()  # rebuild: the history holds all 250, the queue is emptied of them
    assert await _queued(database_url) == 0
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await _copy_batches(conn, _rows(30, datetime.now(UTC) - timedelta(seconds=1)))
        await conn.commit()
    await successor.step()
    assert set(second.ids) == await _stored(database_url)
    assert len(second.ids) == 280
    assert max(second.ids.values()) == 1


BAD_BATCH = (
    "INSERT INTO batches (batch_id, probe_id, seq, sent_at, received_at, result_count,"
    " accepted_count, spool_depth, dropped_total, started_at)"
    " VALUES (%s, 'p003', 1, now(), now() - interval '1 second', 0, 0, 0, 0,"
    " '0001-01-01 00:00:00+00 BC')")


@pytest.mark.parametrize("when", ["history", "queue"])
async def test_an_unreadable_batch_is_quarantined_and_detection_goes_on(
        database_url: str, caplog: pytest.LogCaptureFixture, when: str) -> None:
    await _setup(database_url)
    bad = uuid.uuid4()
    fed = Fed()
    leader = await _leader(database_url, fed, OnlineConfig(page=10, settle_s=0))
    if when == "queue":
        await leader.step()
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        good = _rows(15, datetime.now(UTC) - timedelta(seconds=2))
        await _copy_batches(conn, good[:7])
        await conn.execute(BAD_BATCH, (bad,))  # written by SQL: ingest would refuse it
        await _copy_batches(conn, good[7:])
        await conn.commit()
    with caplog.at_level(logging.ERROR, logger="cutwatch.api.detection_store"):
        await leader.step()
    assert set(fed.ids) == {b[0] for b in good}
    assert str(bad) in caplog.text
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT batch_id, reason FROM detector_quarantine")
        rows = await cur.fetchall()
    assert [r[0] for r in rows] == [bad]
    assert "unreadable" in rows[0][1]
    # still leading: the next batch is fed; a new leader's rebuild skips the quarantined one
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        more = _rows(1, datetime.now(UTC) - timedelta(seconds=1))
        await _copy_batches(conn, more)
        await conn.commit()
    await leader.step()
    assert more[0][0] in fed.ids
    again = Fed()
    # without snapshots (migration 0008): a successor that rebuilds from history
    successor = await _leader(database_url, again, OnlineConfig(page=10, settle_s=0,
                                                                snapshot_s=0))
    await successor.step()
    assert set(again.ids) == {b[0] for b in good + more}


async def test_a_stalled_feed_is_logged(database_url: str,
                                        caplog: pytest.LogCaptureFixture) -> None:
    await _setup(database_url)
    config = OnlineConfig(stall_s=30)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        from cutwatch.api.leader import database_clock

        await _copy_batches(conn, _rows(3, datetime.now(UTC) - timedelta(seconds=5)))
        with caplog.at_level(logging.WARNING, logger="cutwatch.api.leader"):
            await warn_if_stalled(conn, database_clock, config, float("-inf"))
        assert "behind" not in caplog.text  # waiting 5 s: not a stall
        await _copy_batches(conn, _rows(2, datetime.now(UTC) - timedelta(seconds=90)))
        with caplog.at_level(logging.WARNING, logger="cutwatch.api.leader"):
            await warn_if_stalled(conn, database_clock, config, float("-inf"))
        assert "5 batches wait for the detector, the oldest for 9" in caplog.text
