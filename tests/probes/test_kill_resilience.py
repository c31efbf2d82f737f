"""kill -9 the probe at random moments while it measures and uploads to the real collector:
no result the spool recorded is lost, none is stored twice.

The test adds an audit trigger to the spool database before the probe first opens it: every
committed insert is copied in the same transaction, so the audit table is exactly the set of
results the probe recorded, whatever moment the kill hit.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from probe_collector import LiveCollector, collector_settings
from probe_lab import Lab

from cutwatch.api.lab.tcp import DelayProxy
from cutwatch.probes.config import load_config, load_credentials
from cutwatch.probes.main import SPOOL, spool_for
from cutwatch.probes.spool import SCHEMA
from cutwatch.probes.spool_codec import decode
from cutwatch.probes.uploader import Uploader

pytestmark = pytest.mark.slow

AUDIT = """
CREATE TABLE audit (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TRIGGER audit_results AFTER INSERT ON results
BEGIN INSERT INTO audit VALUES (new.seq, new.body); END;
"""


def test_kill_9_loses_nothing_and_duplicates_nothing(database_url: str, tmp_path: Path,
                                                     lab: Lab) -> None:
    rng = random.Random(int(os.environ.get("CUTWATCH_KILL_SEED", "20260")))
    state = tmp_path / "state"
    state.mkdir()
    with sqlite3.connect(state / SPOOL) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA + AUDIT)
    targets = "".join(f"""
[[targets]]
kind = "tcp"
name = "t{n:02d}"
tag = "domestic"
host = "127.0.0.1"
port = {lab.held.port}
linger = 0
""" for n in range(30))
    with LiveCollector(collector_settings(database_url, tmp_path)) as collector, \
            DelayProxy(("127.0.0.1", collector.port), delay=0.1) as slow_link:
        # Each answer crawls back over a slow link, so kills land between "stored by the
        # collector" and "acknowledged in the spool": the lost-ack case.
        probe_id, token = collector.register()
        config_path = tmp_path / "probe.toml"
        config_path.write_text(f"""
[probe]
state_dir = "{state}"
collectors = ["http://127.0.0.1:{slow_link.port}"]
token = "{token}"

[schedule]
pulse = 5
upload = 5

[spool]
batch_size = 2
fresh_per_batch = 1
{targets}""")
        kills = mid_upload = waiting = 0
        for _ in range(10):
            probe = subprocess.Popen(
                [sys.executable, "-m", "cutwatch", "probe", "run", "--config", str(config_path),
                 "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            # Mostly inside the first second, when the probe measures and uploads at once.
            time.sleep(rng.uniform(0.5, 2.5))
            probe.send_signal(signal.SIGKILL)
            probe.wait(timeout=30)
            with sqlite3.connect(state / SPOOL) as db:
                mid_upload += db.execute("SELECT count(*) FROM batches").fetchone()[0]
                waiting += db.execute("SELECT count(*) FROM results").fetchone()[0] > 0
            assert probe.stderr is not None
            errors = probe.stderr.read().decode()
            probe.stderr.close()
            assert "Traceback" not in errors, errors
            kills += 1
        # Whatever the kills left, a clean uploader delivers.
        config = load_config(config_path)
        spool = spool_for(config)
        left_before_drain = spool.depth()

        async def drain() -> None:
            credentials = load_credentials(config)
            with httpx.Client(timeout=30) as client:
                uploader = Uploader(spool, client, collectors=(collector.url,),
                                    probe_id=probe_id, token=credentials.token)
                while spool.depth():
                    done = await uploader.upload()
                    assert done.error is None, done.error

        asyncio.run(drain())
        recorded = [decode(body).id for (body,) in spool.db.execute("SELECT body FROM audit")]
        dropped = spool.counter("dropped_total")
        spool.close()
        via_api = collector.results(probe_id)  # read back as any client would
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id FROM results WHERE probe_id = %s", (probe_id,)).fetchall()
        batches = conn.execute("SELECT count(*) FROM batches WHERE probe_id = %s",
                               (probe_id,)).fetchone()
    stored = [row[0] for row in rows]
    print(f"kills={kills} (open batch at {mid_upload}, results waiting at {waiting}) "
          f"recorded={len(recorded)} stored={len(stored)} "
          f"left_for_drain={left_before_drain} batches={batches}")
    assert kills == 10
    assert len(recorded) >= 100  # the probe did record results between kills
    assert dropped == 0
    assert len(stored) == len(set(stored))  # nothing twice
    assert set(stored) == set(recorded)  # nothing lost, nothing invented
    assert sorted(r["id"] for r in via_api) == sorted(str(i) for i in recorded)
    assert {r["failure"] for r in via_api} == {None}  # every lab port was open
