"""The spool: durable, capped by age and size with drops counted, batches fresh + oldest."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from probe_results import result

from cutwatch.probes.agent import Agent
from cutwatch.probes.checks.base import Context
from cutwatch.probes.config import ProbeConfig
from cutwatch.probes.spool import OpenBatch, Spool, SpoolChanged, SpoolLimits, SpoolWriter
from cutwatch.probes.spool_codec import VERSION, ZDICT, decode, encode


def test_codec_round_trip_is_smaller() -> None:
    r = result(1)
    body = encode(r)
    assert decode(body) == r
    assert len(body) < len(r.to_json()) / 2


def test_codec_dictionary_is_frozen_under_its_version() -> None:
    # Rows already spooled on a Pi are decoded with this dictionary after an upgrade: any
    # change to it (a new failure string included) must come with a new VERSION.
    assert (VERSION, hashlib.sha256(ZDICT).hexdigest()) == (
        b"\x01", "47668edfdab3df533257fb822115eaa0f0543814174debeefdbdcc79fb135f38")


def test_results_survive_reopen_and_last_result_per_check(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    for n in range(5):
        spool.add(result(n, target="same"))
    spool.close()
    again = Spool(tmp_path / "s.db")
    assert again.depth() == 5
    assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert [row[1] for row in again.last_results()] == [f"same{n}" for n in range(5)]


def test_age_cap_drops_and_counts(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", SpoolLimits(max_age_s=3600))
    # The first add enforces the caps at once: a probe back from a long cut drops at start.
    spool.add(result(0, age_s=7200))
    spool.add(result(1, age_s=10))
    assert (spool.depth(), spool.counter("dropped_total")) == (1, 1)
    # Later adds leave it to the next periodic enforcement, which drops and counts.
    spool.add(result(2, age_s=7200))
    assert spool.depth() == 2
    assert spool.enforce_limits(now=time.time()) == 1
    assert (spool.depth(), spool.counter("dropped_total")) == (1, 2)


def test_size_cap_drops_oldest_and_counts(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", SpoolLimits(max_bytes=10**9))
    for n in range(3000):
        spool.add(result(n))
    before = spool.used_bytes()
    spool.limits = SpoolLimits(max_bytes=before // 2)
    dropped = spool.enforce_limits()
    assert spool.used_bytes() <= before // 2
    assert dropped == spool.counter("dropped_total") == 3000 - spool.depth()
    # The oldest went first.
    oldest_left = spool.db.execute("SELECT min(seq) FROM results").fetchone()[0]
    assert oldest_left == dropped + 1


def test_reserve_mixes_fresh_and_oldest_and_open_batch_persists(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    for n in range(100):
        spool.add(result(n))
    reserved = spool.reserve(limit=10, fresh=3)
    seqs = [seq for seq, _ in reserved]
    assert seqs == [1, 2, 3, 4, 5, 6, 7, 98, 99, 100]
    batch = OpenBatch("b-1", 1, len(seqs), b"gzip-body")
    spool.store_batch(batch, seqs)
    spool.close()
    again = Spool(tmp_path / "s.db")
    assert again.open_batch() == batch  # a restart resends exactly this
    assert again.pending() == 90
    next_seqs = [seq for seq, _ in again.reserve(limit=5, fresh=0)]
    assert next_seqs == [8, 9, 10, 11, 12]
    again.acknowledge("b-1", 123, offset_ms=-40.0)
    assert (again.depth(), again.open_batch(), again.number("clock_offset_ms")) == (
        90, None, -40.0)
    assert again.bytes_sent_today() == 123


def test_discard_batch_drop_or_release(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    for n in range(6):
        spool.add(result(n))
    seqs = [seq for seq, _ in spool.reserve(3, 0)]
    spool.store_batch(OpenBatch("a", 1, 3, b"x"), seqs)
    spool.discard_batch("a", drop=False)
    assert (spool.pending(), spool.counter("dropped_total")) == (6, 0)
    spool.store_batch(OpenBatch("b", 2, 3, b"x"), seqs)
    spool.discard_batch("b", drop=True)
    assert (spool.depth(), spool.counter("dropped_total")) == (3, 3)


@contextlib.contextmanager
def slow_disk(path: Path) -> Iterator[None]:
    """The spool's file held by another writer: every commit waits, like a slow SD card's
    fsync, until the block ends (SQLite's busy wait, 5 s, is far longer than the tests)."""
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        yield
        blocker.execute("COMMIT")
    finally:
        blocker.close()


async def _connect_rtts(port: int, count: int) -> list[float]:
    """Round trips timed on the event loop, as the TCP check times its connect."""
    rtts = []
    for _ in range(count):
        started = time.perf_counter()
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        rtts.append(time.perf_counter() - started)
        writer.close()
        await writer.wait_closed()
    return rtts


@pytest.mark.anyio
async def test_rtts_are_not_inflated_while_the_spool_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    spool = Spool(path)  # the agent's own connection; the writer has another
    writer = SpoolWriter(path)
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        baseline = await _connect_rtts(port, 20)  # the positive control: the loop is free
        with slow_disk(path):
            storing = asyncio.create_task(writer.add(result(0)))
            while_writing = await _connect_rtts(port, 20)
            # The write was in progress the whole time (waiting on the disk)...
            assert not storing.done()
        # ...and it completes, durably, once the disk takes it.
        await asyncio.wait_for(storing, 10)
        assert spool.depth() == 1
        # Inline, the same write would have held the loop for the whole blocked period: the
        # round trips would measure the disk. Off the loop they stay what they were.
        assert max(while_writing) < max(0.5, 20 * max(baseline))
    finally:
        server.close()
        await server.wait_closed()
        writer.close()
        spool.close()


@pytest.mark.anyio
async def test_the_agent_stores_results_through_the_writer(tmp_path: Path) -> None:
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = ProbeConfig.from_dict({"targets": [
        {"kind": "tcp", "name": "tcp-lab", "tag": "domestic", "host": "127.0.0.1",
         "port": port, "linger": 0}]})
    path = tmp_path / "s.db"
    spool, writer = Spool(path), SpoolWriter(path)
    agent = Agent(config, Context(), spool, writer=writer)
    try:
        with slow_disk(path):
            measuring = asyncio.create_task(agent.measure_round())
            # The loop keeps turning while the result waits for the disk: a timer set now
            # fires (an inline write would hold the loop, and then fail on the busy lock).
            ticked = time.monotonic()
            await asyncio.sleep(0.2)
            assert time.monotonic() - ticked < 2
            assert not measuring.done()
        [measured] = await asyncio.wait_for(measuring, 10)
        assert measured.ok
        assert [r[1] for r in spool.last_results()] == ["tcp-lab"]
    finally:
        server.close()
        await server.wait_closed()
        writer.close()
        spool.close()


def test_store_batch_refuses_results_the_caps_dropped_meanwhile(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    for n in range(3):
        spool.add(result(n))
    reserved = spool.reserve(10, 0)
    spool.db.execute("DELETE FROM results WHERE seq = ?", (reserved[0][0],))  # as the caps do
    with pytest.raises(SpoolChanged):
        spool.store_batch(OpenBatch("b-1", 1, 3, b"body"), [s for s, _ in reserved])
    assert spool.open_batch() is None  # nothing half-stored: the next round starts over
    assert spool.pending() == 2
