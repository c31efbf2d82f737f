"""`cutwatch detect`: the detector as a process of its own, fed from the queue, stopped by
SIGTERM; the service replicas then leave the detection to it (detector "off")."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from collector_helpers import LiveServer

from cutwatch.api.settings import Settings

CUTWATCH = str(Path(sys.executable).with_name("cutwatch"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _fed(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT value FROM detector_state WHERE key = 'leader'").fetchone()
        return int(row[0]["fed"]) if row else -1


def _add_batches(url: str, count: int) -> None:
    now = datetime.now(UTC) - timedelta(seconds=1)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO probes (id, token_hash, country, access, enrolled_by)"
                    " VALUES ('d1', 'x', 'MM', 'fixed', 'admin') ON CONFLICT DO NOTHING")
        with cur.copy("COPY batches (batch_id, probe_id, seq, sent_at, received_at,"
                      " result_count, accepted_count, spool_depth, dropped_total)"
                      " FROM STDIN") as copy:
            for n in range(count):
                copy.write_row((uuid.uuid4(), "d1", n, now, now, 0, 0, 0, 0))


def _wait(condition: object, what: str, within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_detect_process_leads_and_serve_replicas_leave_it_the_work(
        settings: Settings, database_url: str) -> None:
    replica = settings.model_copy(update={"detector": "off"})
    with LiveServer(replica):  # migrates; its own detector is off
        _add_batches(database_url, 40)
        port = _free_port()
        env = {**os.environ, "DATABASE_URL": database_url}
        proc = subprocess.Popen([CUTWATCH, "detect", "--metrics-port", str(port)], env=env,
                                stderr=subprocess.PIPE, text=True)
        try:
            _wait(lambda: _fed(database_url) == 40, "the detect process to feed the batches")
            _add_batches(database_url, 5)
            _wait(lambda: _fed(database_url) == 45, "the next batches")
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            assert "cutwatch_detector_batches_fed_total 45.0" in metrics
            # the replica never led (a leading replica would keep the lock, and the state
            # would name it): the detect process did the work
            with psycopg.connect(database_url) as conn:
                row = conn.execute("SELECT value->>'leader' FROM detector_state").fetchone()
            assert row is not None
            assert row[0].endswith(f"-{proc.pid}")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "is the leader" in err


def test_detect_without_a_database_is_one_line_and_exit_2() -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "CUTWATCH_DATABASE_URL")}
    done = subprocess.run([CUTWATCH, "detect"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "cutwatch: error: cutwatch detect needs a database: set DATABASE_URL or --database-url"]


def _lock_free(url: str) -> bool:
    from cutwatch.api.leader import LOCK_KEY

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        if row is not None and row[0]:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            return True
        return False


@pytest.mark.slow
def test_a_service_killed_outright_leaves_no_detector_holding_the_lock(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    proc = subprocess.Popen([CUTWATCH, "serve", "--port", str(_free_port()), "--log-level",
                             "warning"], env=env, stderr=subprocess.DEVNULL)
    try:
        def leading() -> bool:
            try:
                with psycopg.connect(database_url) as conn:
                    row = conn.execute("SELECT value->>'leader' FROM detector_state").fetchone()
            except psycopg.Error:
                return False  # not migrated yet
            return row is not None and row[0].endswith(f"-{proc.pid}")

        _wait(leading, "the service's detector child to lead", within_s=60)
        assert not _lock_free(database_url)  # the child holds it
        proc.kill()  # no shutdown at all: only the pipe to the child closes
        proc.wait(timeout=30)
        _wait(lambda: _lock_free(database_url), "the orphaned detector to let go", within_s=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
