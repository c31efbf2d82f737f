"""Ingest benchmark: the real HTTP path beside a bare psycopg COPY of the same rows, one run.

    python -m tests.bench.ingest [--total 15000] [--probes 100] [--connections 1]
                                 [--rounds 3] [--heartbeats 1500] [--database-url URL]

Without a URL it starts a throw-away embedded PostgreSQL. The service is ``cutwatch serve``
in a process of its own (uvicorn on a loopback port, a GeoIP file for 127.0.0.0/8, the
detector off: it is another process's work), fed by a load generator in this process that
sends prepared gzip bodies of ``--probes`` probes in turn over ``--connections`` kept-alive
connections and checks every answer. "copy" stores the same rows (fresh ids) straight into
``results``, one binary COPY and one transaction per batch, over one connection. HTTP and
COPY alternate in ``--rounds`` rounds, so a neighbour's load on this shared machine falls on
both alike. CPU seconds are read from /proc (psutil) for the service process and for every
PostgreSQL process (the postmaster's exited children included).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from cutwatch.api.auth import hash_secret
from cutwatch.api.geo import Network
from cutwatch.api.migrate import migrate_url
from cutwatch.api.store import store_batch
from cutwatch.wire import Batch
from tests.bench.scratch import scratch_database

SECRET = "bench-secret"
COPY_SQL = (
    "COPY results (id, probe_id, batch_id, kind, target, scope, family, measured_at,"
    " received_at, duration_ms, ok, failure, details) FROM STDIN (FORMAT BINARY)")
COPY_TYPES = ["uuid", "text", "uuid", "text", "text", "text", "text", "timestamptz",
              "timestamptz", "float8", "bool", "text", "jsonb"]
# 10,000 probes each uploading a heartbeat every 15 s.
HEARTBEAT_NEED_PER_S = 10_000 / 15


def batch_dict(probe_id: str, size: int, seq: int) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(hours=1)
    return {
        "schema_version": 1, "batch_id": str(uuid.uuid4()), "probe_id": probe_id,
        "sent_at": datetime.now(UTC).isoformat(), "clock": {"synced": True, "offset_ms": 2.0},
        "heartbeat": {"seq": seq, "spool_depth": 0, "dropped_total": 0},
        "results": [
            {"id": str(uuid.uuid4()), "kind": "dns", "target": f"target-{i % 40}",
             "scope": "domestic", "family": "ipv4",
             "measured_at": (start + timedelta(milliseconds=i * 37)).isoformat(),
             "duration_ms": 18.25, "ok": i % 9 != 0,
             "failure": None if i % 9 else "generic_timeout_error",
             "details": {"rcode": 0, "answers": ["192.0.2.1"], "resolver": "lan"}}
            for i in range(size)
        ],
    }


def add_probe(url: str, probe_id: str, secret: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO probes (id, token_hash, country, access, enrolled_by, approved_at)"
            " VALUES (%s, %s, 'MM', 'fixed', 'bench', now())", (probe_id, hash_secret(secret)))


async def bench_store(url: str, size: int, total: int, probe_id: str = "") -> float:
    """results/s of ``cutwatch.api.store.store_batch`` alone on pre-validated batches."""
    probe_id = probe_id or f"p-store-{size}"
    add_probe(url, probe_id, "unused")
    batches = [Batch.model_validate(batch_dict(probe_id, size, n)) for n in range(total // size)]
    network = Network(asn=64500, country="MM")
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await store_batch(conn, Batch.model_validate(batch_dict(probe_id, 10, 0)), network)
        started = time.perf_counter()
        for batch in batches:
            outcome = await store_batch(conn, batch, network)
            assert outcome.accepted == size
        elapsed = time.perf_counter() - started
    return len(batches) * size / elapsed


# --- CPU accounting -------------------------------------------------------------------


class CpuMeter:
    """CPU seconds (user + system) of a process tree since the meter was made."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)

    def seconds(self) -> float:
        total = 0.0
        root = self.root.cpu_times()
        # Exited children (a PostgreSQL backend that closed) count in the parent's totals.
        total += root.user + root.system + root.children_user + root.children_system
        for child in self.root.children(recursive=True):
            try:
                times = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total


def postmaster_pid(url: str) -> int | None:
    """The PostgreSQL server's pid when it runs on this machine and its files are readable."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    pidfile = Path(row[0]) / "postmaster.pid" if row else None
    try:
        return int(pidfile.read_text().split()[0]) if pidfile else None
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Phase:
    """What one kind of work cost, summed over its rounds."""

    items: int = 0
    wall: float = 0.0
    server_cpu: float = 0.0
    pg_cpu: float = 0.0

    def rate(self) -> float:
        return self.items / self.wall if self.wall else 0.0

    def per_1000(self, cpu: float) -> float:
        return 1000 * cpu / self.items if self.items else 0.0


@contextmanager
def measured(phase: Phase, items: int, server: CpuMeter | None,
             pg: CpuMeter | None) -> Iterator[None]:
    s0 = server.seconds() if server else 0.0
    p0 = pg.seconds() if pg else 0.0
    started = time.perf_counter()
    yield
    phase.wall += time.perf_counter() - started
    phase.items += items
    phase.server_cpu += (server.seconds() - s0) if server else 0.0
    phase.pg_cpu += (pg.seconds() - p0) if pg else 0.0


# --- the service and its load -------------------------------------------------------------


def write_geoip(path: Path) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=4, database_type="Cutwatch-Bench-ASN-Country")
    writer.insert_network(IPSet(["127.0.0.0/8"]), {
        "autonomous_system_number": 64500, "country": {"iso_code": "MM"}})
    writer.to_db_file(str(path))
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def cutwatch_serve(url: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """``cutwatch serve`` on a loopback port; yields its base URL and pid."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "CUTWATCH_PORT": str(port),
           "CUTWATCH_HOST": "127.0.0.1",
           # One probe may send thousands of batches a minute here.
           "CUTWATCH_RATE_LIMIT_PER_MINUTE": "0", "CUTWATCH_DETECTOR": "off",
           "CUTWATCH_GEOIP_ASN_DB": str(write_geoip(workdir / "bench.mmdb"))}
    cli = Path(sys.executable).with_name("cutwatch")
    proc = subprocess.Popen([str(cli), "serve", "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("cutwatch serve did not start")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def request_bytes(port: int, probe_id: str, body: bytes) -> bytes:
    head = (f"POST /v1/batches HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {probe_id}.{SECRET}\r\n"
            "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def prepared(port: int, probes: Sequence[str], size: int, count: int,
             seqs: dict[str, int]) -> list[tuple[bytes, int]]:
    """``count`` upload requests of ``size`` results, the probes taking turns."""
    out = []
    for n in range(count):
        probe = probes[n % len(probes)]
        seqs[probe] += 1
        body = gzip.compress(json.dumps(batch_dict(probe, size, seqs[probe])).encode(), 6)
        out.append((request_bytes(port, probe, body), size))
    return out


async def _send_all(port: int, requests: list[tuple[bytes, int]], connections: int) -> None:
    """Every request over ``connections`` kept-alive sockets; each answer must be a 200
    that stored every result. A raw HTTP/1.1 client: its own CPU stays small beside the
    service's, which it shares the machine with."""
    queue = iter(requests)

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for raw, size in queue:
                writer.write(raw)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                answer = await reader.readexactly(length)
                if status != 200 or json.loads(answer)["accepted"] != size:
                    raise RuntimeError(f"upload answered {status}: {answer[:200]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))


def send_all(port: int, requests: list[tuple[bytes, int]], connections: int) -> None:
    asyncio.run(_send_all(port, requests, connections))


def copy_rows(batch: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One batch's rows as ``results`` holds them (fresh ids: the upload stored the others)."""
    received_at = datetime.now(UTC)
    return [(uuid.uuid4(), batch["probe_id"], uuid.UUID(batch["batch_id"]), r["kind"],
             r["target"], r["scope"], r["family"], datetime.fromisoformat(r["measured_at"]),
             received_at, r["duration_ms"], r["ok"], r["failure"], r["details"])
            for r in batch["results"]]


def copy_all(conn: psycopg.Connection[Any], batches: list[list[tuple[Any, ...]]]) -> None:
    """Prepared rows into ``results``, one binary COPY and one transaction per batch."""
    for rows in batches:
        with conn.transaction(), conn.cursor() as cur, cur.copy(COPY_SQL) as copy:
            copy.set_types(COPY_TYPES)
            for row in rows:
                copy.write_row(row)


# --- the run ------------------------------------------------------------------------------


def run(url: str, *, total: int, probe_count: int, connections: int, rounds: int,
        heartbeats: int) -> None:
    asyncio.run(migrate_url(url))
    probes = [f"p-bench-{n:05d}" for n in range(probe_count)]
    for probe in probes:
        add_probe(url, probe, SECRET)
    seqs = dict.fromkeys(probes, 0)
    pg_pid = postmaster_pid(url)
    pg = CpuMeter(pg_pid) if pg_pid else None
    size = 100
    per_round = max(1, total // size // rounds)
    http, copy = Phase(), Phase()
    beats = {0: Phase(), 1: Phase()}
    # One connection for every COPY, open throughout (as the service's pool is), so its
    # backend's CPU is read while it lives.
    with tempfile.TemporaryDirectory(prefix="cw-bench-ingest-") as tmp, \
            cutwatch_serve(url, Path(tmp)) as (base, pid), psycopg.connect(url) as copy_conn:
        port = int(base.rsplit(":", 1)[1])
        server = CpuMeter(pid)
        # Warm-up: every probe's first upload (connections, prepared statements, caches).
        send_all(port, prepared(port, probes, size, len(probes), seqs), connections)
        for _ in range(rounds):
            requests = prepared(port, probes, size, per_round, seqs)
            with measured(http, per_round * size, server, pg):
                send_all(port, requests, connections)
            rows = [copy_rows(batch_dict(probes[n % len(probes)], size, 0))
                    for n in range(per_round)]
            with measured(copy, per_round * size, None, pg):
                copy_all(copy_conn, rows)
        for results in beats:
            requests = prepared(port, probes, results, heartbeats, seqs)
            with measured(beats[results], heartbeats, server, pg):
                send_all(port, requests, connections)
    report(http, copy, beats, probe_count=probe_count, connections=connections,
           rounds=rounds, pg_measured=pg is not None)


def report(http: Phase, copy: Phase, beats: dict[int, Phase], *, probe_count: int,
           connections: int, rounds: int, pg_measured: bool) -> None:
    pg_note = "" if pg_measured else " (PostgreSQL CPU not measurable: not on this machine)"
    print(f"ingest: {probe_count} probes, {connections} client connection(s), batches of 100,"
          f" {rounds} alternating rounds{pg_note}")
    print(f"{'path':<34}{'results/s':>11}{'service CPU s/1000':>20}{'PG CPU s/1000':>15}")
    print(f"{'http (cutwatch serve, gzip)':<34}{http.rate():>11,.0f}"
          f"{http.per_1000(http.server_cpu):>20.4f}{http.per_1000(http.pg_cpu):>15.4f}")
    print(f"{'bare psycopg COPY, same rows':<34}{copy.rate():>11,.0f}{'-':>20}"
          f"{copy.per_1000(copy.pg_cpu):>15.4f}")
    print(f"{'http / copy':<34}{http.rate() / copy.rate():>11.2f}")
    print(f"\n{'heartbeat uploads':<34}{'requests/s':>11}{'service CPU ms/req':>20}"
          f"{'PG CPU ms/req':>15}")
    for results, phase in beats.items():
        print(f"{f'{results} result(s) per batch':<34}{phase.rate():>11,.0f}"
              f"{phase.per_1000(phase.server_cpu):>20.3f}{phase.per_1000(phase.pg_cpu):>15.3f}")
    print(f"(10,000 probes with a heartbeat every 15 s need {HEARTBEAT_NEED_PER_S:,.0f}"
          " requests/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", type=int, default=15_000,
                        help="results through each path, over all rounds")
    parser.add_argument("--probes", type=int, default=100, help="probes taking turns")
    parser.add_argument("--connections", type=int, default=1,
                        help="concurrent client connections")
    parser.add_argument("--rounds", type=int, default=3, help="alternating HTTP/COPY rounds")
    parser.add_argument("--heartbeats", type=int, default=1500,
                        help="heartbeat uploads per heartbeat measurement")
    parser.add_argument("--database-url", help="an empty database (default: embedded)")
    args = parser.parse_args()
    with scratch_database(args.database_url) as url:
        run(url, total=args.total, probe_count=args.probes, connections=args.connections,
            rounds=args.rounds, heartbeats=args.heartbeats)


if __name__ == "__main__":
    main()
