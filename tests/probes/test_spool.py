"""The spool: durable, capped by age and size with drops counted, batches fresh + oldest."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from probe_results import result

from probes.spool import OpenBatch, Spool, SpoolLimits
from probes.spool_codec import VERSION, ZDICT, decode, encode


def test_codec_round_trip_is_smaller() -> None:
    r = result(1)
    body = encode(r)
    assert decode(body) == r
    assert len(body) < len(r.model_dump_json()) / 2


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
