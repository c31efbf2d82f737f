"""Fleet-scale benchmark: simulated probes through the real HTTP API of two replicas.

    python -m tests.bench.fleet [--probes 10000] [--quick] [--database-url URL]

Two `cutwatch serve` processes on loopback over one PostgreSQL (a throw-away embedded one
without a URL). N simulated probes, each uploading one batch of 3 results every 60 s (phases
spread over the minute), round-robin over the replicas as a load balancer would, failing over
when one is gone. After a warm-up, every probe of one province (MM-03) goes silent: the cut.
A subscriber's webhook receiver on loopback verifies each signature and notes arrival times.
When the blackout's `opened` webhook arrives, the replica whose detector leads is killed
(SIGKILL, with its detector child); the other takes over, from the last snapshot. Then the
province returns, each probe uploading its backlog (one batch per missed minute) at once, and
the run waits for `resolved`.

Printed: ingest rate and p50/p99 upload latency (client side), leader step time and the share
of a core it implies, cut -> signed `opened` webhook at the receiver, database growth per day,
leader kill -> the other replica's first step, and the audit: every transition stored once,
every delivery received (redeliveries of one webhook-id counted), nothing lost.
``--quick``: 300 probes. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
from standardwebhooks.webhooks import Webhook

from cutwatch.api.auth import hash_secret
from cutwatch.api.leader import OnlineConfig
from cutwatch.api.migrate import migrate_url
from tests.bench.scratch import scratch_database

CADENCE_S = 60.0
PROVINCES = [f"MM-{n:02d}" for n in range(1, 11)]
CUT = "MM-03"
ASNS = (64500, 64501, 64502, 64503)
ADMIN = "bench-admin-token-0123456789abcdef"
SECRET = "s" * 43
CUTWATCH = str(Path(sys.executable).with_name("cutwatch"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Receiver(ThreadingHTTPServer):
    """A subscriber's endpoint: verifies signatures, notes each webhook-id's arrivals."""

    daemon_threads = True

    def __init__(self) -> None:
        self.webhook: Webhook | None = None
        self.ids: Counter[str] = Counter()
        self.arrivals: list[tuple[float, str, dict[str, Any]]] = []
        self.bad = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                ok = receiver.webhook is not None
                try:
                    if receiver.webhook is not None:
                        receiver.webhook.verify(body, dict(self.headers.items()))
                except Exception:
                    ok = False
                with receiver.lock:
                    msg = self.headers["webhook-id"]
                    receiver.ids[msg] += 1
                    receiver.bad += 0 if ok else 1
                    receiver.arrivals.append((time.time(), msg, json.loads(body)))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def first(self, kind: str, code: str) -> float | None:
        with self.lock:
            for at, _, payload in self.arrivals:
                entity = payload.get("data", {}).get("event", {}).get("entity", {})
                if payload.get("type") == kind and entity.get("code") == code:
                    return at
        return None


class Refused(Exception):
    """No answer from a replica (connection refused, reset or closed mid-answer)."""


class RawClient:
    """A lean HTTP/1.1 keep-alive client for the uploads: at 10,000 probes httpx's own CPU
    (about 1 ms per request) took a fifth of a core from the replicas on this 2-core machine.
    One request per connection at a time, ``size`` connections per replica."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self.idle: dict[str, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}
        self.slots: dict[str, asyncio.Semaphore] = {}

    async def post(self, base: str, path: str, body: bytes, headers: dict[str, str]) -> int:
        slot = self.slots.setdefault(base, asyncio.Semaphore(self.size))
        async with slot:
            idle = self.idle.setdefault(base, [])
            conn = idle.pop() if idle else None
            try:
                if conn is None:
                    host, port = base.removeprefix("http://").split(":")
                    conn = await asyncio.open_connection(host, int(port))
                reader, writer = conn
                head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                writer.write(f"POST {path} HTTP/1.1\r\nhost: {base[7:]}\r\n{head}"
                             f"content-length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
                status = int((await reader.readline()).split()[1])
                length, close = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "connection" and "close" in value.lower():
                        close = True
                await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, IndexError, ValueError) as exc:
                if conn is not None:
                    conn[1].close()
                raise Refused(str(exc)) from exc
            if close:
                writer.close()
            else:
                idle.append(conn)
            return status

    def close(self) -> None:
        for conns in self.idle.values():
            for _, writer in conns:
                writer.close()


@dataclass
class Probe:
    id: str
    province: str
    phase: float
    seq: int = 0
    missed: int = 0


@dataclass
class Fleet:
    probes: list[Probe]
    replicas: list[str]
    cut: bool = False
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    results: int = 0
    failovers: int = 0
    turn: int = 0

    def body(self, probe: Probe, at: datetime, backlog: int = 0, cut: bool = False) -> bytes:
        """One batch of 3 results measured at ``at``; during the ``cut`` every check timed
        out (the probe kept measuring while it could not upload)."""
        probe.seq += 1
        results = [
            {"id": str(uuid.uuid4()), "kind": kind, "target": target, "scope": scope,
             "family": "ipv4", "measured_at": (at - timedelta(seconds=5 + k)).isoformat(),
             "duration_ms": 5000.0 if cut else 20.0 + k, "ok": not cut,
             "failure": "generic_timeout_error" if cut else None, "details": {}}
            for k, (kind, target, scope) in enumerate((
                ("dns", "dns-domestic", "domestic"), ("tcp", "tcp-international",
                                                      "international"),
                ("http", "http-domestic", "domestic")))]
        self.results += len(results)
        return json.dumps({
            "schema_version": 1, "batch_id": str(uuid.uuid4()), "probe_id": probe.id,
            "sent_at": datetime.now(UTC).isoformat(),
            "clock": {"synced": True, "offset_ms": 1.0},
            "heartbeat": {"seq": probe.seq, "spool_depth": backlog, "dropped_total": 0,
                          "software": "bench/1"},
            "results": results}).encode()

    async def upload(self, client: RawClient, probe: Probe, body: bytes) -> None:
        headers = {"Authorization": f"Bearer {probe.id}.{SECRET}",
                   "Content-Type": "application/json"}
        for attempt in range(len(self.replicas) * 2):
            self.turn += 1
            url = self.replicas[self.turn % len(self.replicas)]
            started = time.perf_counter()
            try:
                status = await client.post(url, "/v1/batches", body, headers)
            except Refused:
                self.failovers += 1
                await asyncio.sleep(0.05 * attempt)
                continue
            self.latencies.append(time.perf_counter() - started)
            self.statuses[status] += 1
            return
        self.statuses[0] += 1  # every replica refused the connection

    async def run(self, stop: asyncio.Event) -> None:
        """Each probe uploads at its phase of every minute; cut probes miss theirs."""
        client = RawClient()
        try:
            in_flight: set[asyncio.Task[None]] = set()
            start = time.monotonic()
            minute = 0
            while not stop.is_set():
                base = start + minute * CADENCE_S
                for probe in sorted(self.probes, key=lambda p: p.phase):
                    delay = base + probe.phase - time.monotonic()
                    if delay > 0:
                        try:
                            await asyncio.wait_for(stop.wait(), delay)
                            break
                        except TimeoutError:
                            pass
                    else:  # behind time: still yield, or the uploads never get to run
                        await asyncio.sleep(0)
                        if stop.is_set():
                            break
                    if self.cut and probe.province == CUT:
                        probe.missed += 1
                        continue
                    bodies = [self.body(probe, datetime.now(UTC) - timedelta(minutes=m),
                                        backlog=m, cut=m > 0)
                              for m in range(probe.missed, -1, -1)]
                    probe.missed = 0
                    task = asyncio.create_task(self._send_all(client, probe, bodies))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                minute += 1
            await asyncio.gather(*in_flight, return_exceptions=True)
        finally:
            client.close()

    async def _send_all(self, client: RawClient, probe: Probe,
                        bodies: list[bytes]) -> None:
        for body in bodies:  # a backlog goes oldest first, one batch after another
            await self.upload(client, probe, body)


def add_probes(url: str, count: int) -> list[Probe]:
    rng = random.Random(7)
    probes = [Probe(f"fp{n:05d}", PROVINCES[n % len(PROVINCES)], rng.uniform(0, CADENCE_S))
              for n in range(count)]
    token_hash = hash_secret(SECRET)
    with psycopg.connect(url) as conn, conn.cursor() as cur, cur.copy(
            "COPY probes (id, token_hash, country, subdivision, city, access, asn, enrolled_by)"
            " FROM STDIN") as copy:
        for n, p in enumerate(probes):
            copy.write_row((p.id, token_hash, "MM", p.province, None, "fixed",
                            ASNS[n % len(ASNS)], "bench"))
    return probes


def start_replica(url: str, port: int, base: str, logs: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "CUTWATCH_ADMIN_TOKEN": ADMIN,
           "CUTWATCH_WEBHOOK_ALLOW_PRIVATE": "true", "CUTWATCH_PUBLIC_BASE_URL": base,
           "CUTWATCH_POOL_MAX_SIZE": "8", "CUTWATCH_MIGRATE_ON_START": "false"}
    out = (logs / f"replica-{port}.log").open("wb")
    return subprocess.Popen([CUTWATCH, "serve", "--port", str(port), "--log-level", "info"],
                            env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(base: str, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base} did not become ready")


def subscribe(base: str, receiver: Receiver) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    key = httpx.post(f"{base}/v1/subscribers", json={"name": "bench newsroom"},
                     headers=admin, timeout=10).json()["api_key"]
    answer = httpx.post(f"{base}/v1/subscriptions", headers={"Authorization": f"Bearer {key}"},
                        json={"url": f"http://127.0.0.1:{receiver.server_address[1]}/hook",
                              "filters": {"entities": [{"type": "country", "code": "MM",
                                                        "children": True}],
                                          "kinds": ["blackout"], "min_status": "suspected"}},
                        timeout=10)
    answer.raise_for_status()
    receiver.webhook = Webhook(answer.json()["secret"])


def query(url: str, sql: str) -> Any:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


class TickSampler:
    """Reads the leader's latest step time from the database every second."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[tuple[str, float, str]] = []  # (leader, tick_s, updated_at)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        seen = None
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(1.0):
                row = conn.execute("SELECT value, updated_at FROM detector_state"
                                   " WHERE key = 'leader'").fetchone()
                if row and row[1] != seen:
                    seen = row[1]
                    self.samples.append((row[0]["leader"], float(row[0]["tick_s"]),
                                         row[1].isoformat()))

    def leader(self) -> str | None:
        return self.samples[-1][0] if self.samples else None


async def server_buckets(bases: list[str]) -> Counter[float]:
    """The replicas' upload-latency histogram (cumulative counts by upper bound), summed."""
    from prometheus_client.parser import text_string_to_metric_families

    total: Counter[float] = Counter()
    for base in bases:
        async with httpx.AsyncClient(timeout=10) as client:
            text = (await client.get(f"{base}/metrics")).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "cutwatch_ingest_batch_seconds_bucket":
                    total[float(sample.labels["le"])] += sample.value
    return total


def bucket_quantile(before: Counter[float], after: Counter[float], q: float) -> float:
    """The smallest bucket bound holding a ``q`` share of the uploads between two scrapes."""
    bounds = sorted(after)
    window = {b: after[b] - before[b] for b in bounds}
    count = window[bounds[-1]]
    return next((b for b in bounds if window[b] >= q * count), float("inf"))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def children(ppid: int) -> list[int]:
    """The processes whose parent is ``ppid`` (a replica's detector child)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == ppid:
                out.append(int(entry))
    return out


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def takeover_lines(logs: Path, ports: list[int]) -> list[str]:
    """The replicas' log lines saying how each leader started (resumed or rebuilt)."""
    out = []
    for port in ports:
        for text in (logs / f"replica-{port}.log").read_text(errors="replace").splitlines():
            if "resumed from the snapshot" in text or " rebuilt from " in text:
                out.append(f"replica {port}: {text.strip()}")
    return out


def leader_state(url: str) -> dict[str, Any]:
    rows = query(url, "SELECT value FROM detector_state WHERE key = 'leader'")
    return dict(rows[0][0]) if rows else {}


async def wait_for(condition: Any, within_s: float, every_s: float = 0.5) -> float | None:
    """Seconds until ``condition()`` is true, None past the deadline."""
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        if condition():
            return time.monotonic() - started
        await asyncio.sleep(every_s)
    return None


async def bench(url: str, count: int, warmup_s: float, resolve_s: float, logs: Path) -> int:
    # SIGTERM (and SIGINT, which a shell ignores in background jobs) cancel the run, so the
    # replicas and the scratch database are stopped by the finally blocks below
    main = asyncio.current_task()
    assert main is not None
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, main.cancel)
    await migrate_url(url)
    probes = add_probes(url, count)
    receiver = Receiver()
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    replicas = [start_replica(url, port, bases[0], logs) for port in ports]
    try:
        for base in bases:
            wait_ready(base)
        subscribe(bases[0], receiver)
        fleet = Fleet(probes, bases)
        sampler = TickSampler(url)
        stop = asyncio.Event()
        runner = asyncio.create_task(fleet.run(stop))
        t0 = time.monotonic()
        print(f"fleet: {count} probes at {CADENCE_S:.0f} s, {len(PROVINCES)} provinces,"
              f" 2 replicas; warm-up {warmup_s:.0f} s", flush=True)
        await asyncio.sleep(60)
        size0, at0 = query(url, "SELECT pg_database_size(current_database())")[0][0], \
            time.monotonic()
        uploads0, results0 = len(fleet.latencies), fleet.results
        buckets0 = await server_buckets(bases)
        lead_name = sampler.leader() or ""
        lead_replica = next((r for r in replicas if lead_name.endswith(f"-{r.pid}")), None)
        detector_pids = children(lead_replica.pid) if lead_replica is not None else []
        cpu0 = sum(cpu_s(pid) for pid in detector_pids)
        cpu_at0 = time.monotonic()
        await asyncio.sleep(max(0.0, warmup_s - (time.monotonic() - t0)))
        buckets1 = await server_buckets(bases)
        cpu1 = sum(cpu_s(pid) for pid in detector_pids)
        cpu_at1 = time.monotonic()
        size1, at1 = query(url, "SELECT pg_database_size(current_database())")[0][0], \
            time.monotonic()
        steady = fleet.latencies[uploads0:]
        rate = len(steady) / (at1 - at0)
        results_rate = (fleet.results - results0) / (at1 - at0)
        ticks = [s[1] for s in sampler.samples]
        server_p50 = bucket_quantile(buckets0, buckets1, 0.5)
        server_p99 = bucket_quantile(buckets0, buckets1, 0.99)
        print(f"ingest: {rate:.1f} batches/s, {results_rate:.0f} results/s sustained"
              f" (offered {count / CADENCE_S:.1f}/s); latency p50"
              f" {statistics.median(steady) * 1000:.1f} ms, p99 {pct(steady, 0.99) * 1000:.1f}"
              f" ms (client side); server side p50 <= {server_p50 * 1000:.0f} ms, p99 <="
              f" {server_p99 * 1000:.0f} ms (histogram bounds); statuses"
              f" {dict(fleet.statuses)}", flush=True)
        print(f"leader step: mean {statistics.fmean(ticks) * 1000:.1f} ms, p99"
              f" {pct(ticks, 0.99) * 1000:.1f} ms, max {max(ticks) * 1000:.1f} ms over"
              f" {len(ticks)} steps; about {statistics.fmean(ticks) / 2.0 * 100:.1f} % of a"
              f" core at one step per 2 s", flush=True)
        if detector_pids:
            share = (cpu1 - cpu0) / (cpu_at1 - cpu_at0)
            print(f"leader process CPU (all it did: steps, snapshots, probe refreshes):"
                  f" {share * 100:.1f} % of a core over {cpu_at1 - cpu_at0:.0f} s", flush=True)
        state = leader_state(url)
        snap = query(url, "SELECT length(state), taken_at FROM detector_snapshots")
        if snap:
            print(f"snapshot: {snap[0][0] / 2**20:.2f} MiB, last saved in"
                  f" {float(state.get('snapshot_s', 0)):.2f} s (every"
                  f" {OnlineConfig().snapshot_s:.0f} s)", flush=True)
        load1, load5, _ = os.getloadavg()
        print(f"machine load average: {load1:.1f} (1 min), {load5:.1f} (5 min) on"
              f" {os.cpu_count()} cores", flush=True)
        per_day = (size1 - size0) / (at1 - at0) * 86400
        print(f"database: {size1 / 2**20:.0f} MiB now, growing {per_day / 2**30:.2f} GiB/day"
              f" at this fleet ({per_day / count / 2**20:.2f} MiB per probe per day)",
              flush=True)

        fleet.cut = True
        cut_at = time.time()
        print(f"cut: {CUT} ({sum(p.province == CUT for p in probes)} probes) goes silent",
              flush=True)
        waited = await wait_for(lambda: receiver.first("outage.opened", CUT) is not None, 900)
        opened = receiver.first("outage.opened", CUT)
        if opened is None or waited is None:
            print("cut -> webhook: NOT received within 900 s", flush=True)
        else:
            print(f"cut -> signed 'opened' webhook at the receiver: {opened - cut_at:.0f} s",
                  flush=True)

        leader = sampler.leader()
        victim = next((r for r in replicas if leader and leader.endswith(f"-{r.pid}")), None)
        takeover = None
        if victim is None:
            print(f"leader kill: leader {leader!r} is not one of the replicas", flush=True)
        else:
            killed_at = time.time()
            samples_before = len(sampler.samples)
            # the replica and its detector child at once, as when the machine dies: the
            # child gets no chance to save a last snapshot on its way out
            for pid in children(victim.pid):
                os.kill(pid, signal.SIGKILL)
            victim.send_signal(signal.SIGKILL)
            took = await wait_for(lambda: any(
                not s[0].endswith(f"-{victim.pid}") for s in sampler.samples[samples_before:]),
                600, every_s=0.1)
            takeover = took
            how = "resumed from the snapshot" if leader_state(url).get("resumed") else \
                "rebuilt from history"
            print(f"leader kill -> the other replica's first step ({how}, standby poll"
                  f" included): {took:.1f} s" if took is not None else
                  "leader kill: no takeover in 600 s", flush=True)
            for text in takeover_lines(logs, ports):
                print(f"  {text}", flush=True)
            fleet.replicas = [b for b, r in zip(bases, replicas, strict=True) if r is not victim]
            del killed_at

        fleet.cut = False
        back_at = time.time()
        await wait_for(lambda: receiver.first("outage.resolved", CUT) is not None, resolve_s)
        resolved = receiver.first("outage.resolved", CUT)
        print(f"return (backlogs uploaded) -> 'resolved' webhook: {resolved - back_at:.0f} s"
              if resolved else f"return -> 'resolved' webhook: not within {resolve_s:.0f} s",
              flush=True)

        stop.set()
        await runner
        # audit: the queue drains, every delivery is sent, every transition stored once
        await wait_for(lambda: query(url, "SELECT count(*) FROM detector_queue")[0][0] == 0, 120)
        await wait_for(lambda: query(url, "SELECT count(*) FROM deliveries WHERE status ="
                                          " 'pending'")[0][0] == 0, 120)
        sampler.stop.set()
        dup = query(url, "SELECT count(*) FROM (SELECT event_id, action, at FROM"
                         " event_transitions GROUP BY 1, 2, 3 HAVING count(*) > 1) d")[0][0]
        opened_twice = query(url, "SELECT count(*) FROM (SELECT event_id FROM event_transitions"
                                  " WHERE action = 'opened' GROUP BY 1 HAVING count(*) > 1)"
                                  " d")[0][0]
        deliveries = {r[0]: r[1] for r in query(url, "SELECT id, status FROM deliveries")}
        missing = [d for d in deliveries if d not in receiver.ids]
        redelivered = sum(1 for n in receiver.ids.values() if n > 1)
        transitions = query(url, "SELECT action, transition->'event'->'entity'->>'code'"
                                 " FROM event_transitions ORDER BY seq")
        queued = query(url, "SELECT count(*) FROM batches b WHERE NOT EXISTS (SELECT 1 FROM"
                            " detector_queue q WHERE q.batch_id = b.batch_id)")[0][0]
        print(f"transitions: {[(a, c) for a, c in transitions]}")
        cut_opened = sum(1 for a, c in transitions if a == "opened" and c == CUT)
        hooks_opened = sum(1 for _, _, p in receiver.arrivals if p.get("type") ==
                           "outage.opened" and p["data"]["event"]["entity"]["code"] == CUT)
        print(f"audit: {len(transitions)} transitions, {dup} stored twice, {opened_twice} events"
              f" opened twice; {len(deliveries)} deliveries"
              f" ({Counter(deliveries.values())}), {len(missing)} never received,"
              f" {redelivered} received more than once (same webhook-id), {receiver.bad} bad"
              f" signatures; {queued} batches stored, none waiting; client failovers"
              f" {fleet.failovers}; the cut opened {cut_opened} event(s), {hooks_opened}"
              f" 'opened' webhook(s) for it", flush=True)
        ok = opened is not None and takeover is not None and dup == 0 and opened_twice == 0 \
            and not missing and receiver.bad == 0 and cut_opened == 1
        return 0 if ok else 1
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.send_signal(signal.SIGTERM)
        for replica in replicas:
            try:
                replica.wait(timeout=30)
            except subprocess.TimeoutExpired:
                replica.kill()
        receiver.shutdown()


def load_backlog(url: str, batches: int, per_batch: int = 4, probes: int = 500) -> None:
    """A shutdown ends: ``probes`` probes' backlogs of ``batches`` in all, received at once."""
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY probes (id, token_hash, country, subdivision, access, asn,"
                      " enrolled_by) FROM STDIN") as copy:
            for n in range(probes):
                copy.write_row((f"r{n:05d}", "x", "MM", PROVINCES[n % len(PROVINCES)], "fixed",
                                ASNS[n % len(ASNS)], "bench"))
        rows, results = [], []
        for n in range(batches):
            probe, seq = f"r{n % probes:05d}", n // probes
            batch_id, measured = uuid.uuid4(), now - timedelta(minutes=seq)
            rows.append((batch_id, probe, seq, measured, now, per_batch, per_batch, seq, 0))
            results.extend((uuid.uuid4(), probe, batch_id, "tcp", f"t{k}", "domestic", "ipv4",
                            measured + timedelta(seconds=k), now, 20.0, k % 2 == 0,
                            None if k % 2 == 0 else "generic_timeout_error", "{}")
                           for k in range(per_batch))
        copy_rows(conn, rows, results)


async def bench_leader(url: str, batches: int) -> int:
    """The leader alone: a rebuild from history, then the same backlog through the queue."""
    from cutwatch.api.leader import Leader, OnlineConfig
    from cutwatch.detectors.params import Params

    await migrate_url(url)
    load_backlog(url, batches)
    for phase in ("rebuild from history", "drain from the queue"):
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        leader = Leader(conn, Params(), OnlineConfig(settle_s=0, poll_s=1e9))
        if phase.startswith("drain"):
            await leader.step()  # rebuilt on an empty history
            load_backlog(url, batches)
        wall, cpu = time.perf_counter(), time.process_time()
        await leader.step()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"leader, {phase}: {leader.fed} batches of 4 results in {wall:.2f} s"
              f" ({leader.fed / wall:.0f} batches/s), {cpu / leader.fed * 1000:.3f} ms of CPU"
              f" per batch", flush=True)
        await conn.close()
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute("TRUNCATE results, batches, detector_queue, probes CASCADE")
    return 0


def history_rows(probes: int, start_minute: int, minutes: int, end: datetime,
                 phases: list[float]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Batches (one of 3 results per probe per minute, at its phase) and their results."""
    batches: list[tuple[Any, ...]] = []
    results: list[tuple[Any, ...]] = []
    for minute in range(start_minute, start_minute + minutes):
        for n in range(probes):
            at = end - timedelta(seconds=(minutes - (minute - start_minute)) * CADENCE_S
                                 - phases[n])
            probe, batch_id = f"h{n:05d}", uuid.uuid4()
            batches.append((batch_id, probe, minute, at, at, 3, 3, 0, 0))
            results.extend((uuid.uuid4(), probe, batch_id, "tcp", f"t{k}", "domestic",
                            "ipv4", at - timedelta(seconds=5 + k), at, 20.0, True, None,
                            "{}") for k in range(3))
    return batches, results


def copy_rows(conn: psycopg.Connection[Any], batches: list[tuple[Any, ...]],
              results: list[tuple[Any, ...]]) -> None:
    """Stored by COPY, batches then results, in one transaction (the queue trigger fires)."""
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy("COPY batches (batch_id, probe_id, seq, sent_at, received_at,"
                      " result_count, accepted_count, spool_depth, dropped_total)"
                      " FROM STDIN") as copy:
            for row in batches:
                copy.write_row(row)
        with cur.copy("COPY results (id, probe_id, batch_id, kind, target, scope, family,"
                      " measured_at, received_at, duration_ms, ok, failure, details)"
                      " FROM STDIN") as copy:
            for result in results:
                copy.write_row(result)


class LiveLoader:
    """The fleet's uploads at their real rate, stored by COPY once a second from a thread
    (far cheaper than HTTP, so the leader's own cost can be measured at full size)."""

    def __init__(self, url: str, probes: int, phases: list[float], seq: int) -> None:
        self.url, self.probes, self.phases, self.seq = url, probes, phases, seq
        self.stored = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            last = time.time()
            while not self.stop.wait(1.0):
                now = time.time()
                batches: list[tuple[Any, ...]] = []
                results: list[tuple[Any, ...]] = []
                for n in range(self.probes):  # the probes whose phase fell in (last, now]
                    phase = self.phases[n]
                    if (now - phase) // CADENCE_S == (last - phase) // CADENCE_S:
                        continue
                    at, probe, batch_id = datetime.now(UTC), f"h{n:05d}", uuid.uuid4()
                    self.seq += 1
                    batches.append((batch_id, probe, self.seq, at, at, 3, 3, 0, 0))
                    results.extend((uuid.uuid4(), probe, batch_id, "tcp", f"t{k}", "domestic",
                                    "ipv4", at - timedelta(seconds=5 + k), at, 20.0, True,
                                    None, "{}") for k in range(3))
                last = now
                if batches:
                    copy_rows(conn, batches, results)
                    self.stored += len(batches)


async def bench_takeover(url: str, probes: int, minutes: int, live_s: float) -> int:
    """The leader alone at ``probes`` probes: its rebuild from ``minutes`` of history, its CPU
    while the fleet uploads at its real rate (stored by COPY, not HTTP), and a successor
    resuming from the snapshot after the leader dies between two snapshots."""
    from cutwatch.api.leader import Leader
    from cutwatch.detectors.params import Params

    await migrate_url(url)
    rng = random.Random(11)
    phases = [rng.uniform(0, CADENCE_S) for _ in range(probes)]
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur, cur.copy(
                "COPY probes (id, token_hash, country, subdivision, access, asn, enrolled_by)"
                " FROM STDIN") as copy:
            for n in range(probes):
                copy.write_row((f"h{n:05d}", "x", "MM", PROVINCES[n % len(PROVINCES)],
                                "fixed", ASNS[n % len(ASNS)], "bench"))
        conn.commit()
        started = time.perf_counter()
        for minute in range(minutes):  # a minute at a time: bounded memory
            rows = history_rows(probes, minute, 1, datetime.now(UTC) - timedelta(
                seconds=(minutes - minute - 1) * CADENCE_S), phases)
            copy_rows(conn, *rows)
    size = query(url, "SELECT pg_database_size(current_database())")[0][0]
    print(f"history: {probes * minutes} batches ({probes} probes, {minutes} min) stored in"
          f" {time.perf_counter() - started:.0f} s; database {size / 2**20:.0f} MiB", flush=True)
    config = OnlineConfig(settle_s=2.0, rebuild_s=6 * 3600)  # the defaults otherwise
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    first = Leader(conn, Params(), config, name="first")
    wall = time.perf_counter()
    await first.step()  # the rebuild, then its first snapshot
    wall = time.perf_counter() - wall
    rebuild_s = wall - first.snapshot_cost_s
    size = query(url, "SELECT length(state) FROM detector_snapshots")[0][0]
    print(f"rebuild from history: {first.fed} batches in {rebuild_s:.1f} s"
          f" ({first.fed / max(rebuild_s, 1e-9):.0f} batches/s); snapshot"
          f" of {len(first.engine.probes)} probes: {size / 2**20:.2f} MiB, saved in"
          f" {first.snapshot_cost_s:.2f} s", flush=True)
    # the fleet uploads at its real rate; the leader steps every poll_s, saving every 60 s
    loader = LiveLoader(url, probes, phases, minutes)
    ticks: list[float] = []
    snapshots: list[float] = []
    snapshot_cpu = 0.0
    fed0, stored0 = first.fed, loader.stored
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    while time.perf_counter() - wall0 < live_s:
        saved = first.snapshot_at
        await first.step()
        ticks.append(first.tick_s)
        if first.snapshot_at != saved:
            snapshots.append(first.snapshot_cost_s)
            snapshot_cpu += first.snapshot_cpu_s
        await asyncio.sleep(config.poll_s)
    wall1, cpu1 = time.perf_counter() - wall0, time.thread_time() - cpu0
    fed_rate = (first.fed - fed0) / wall1
    stored_rate = (loader.stored - stored0) / wall1
    # the leader dies between two snapshots: 45 s after the last one
    wait = 45.0 - (time.monotonic() - first.snapshot_at)
    if wait < 0:
        await first.save_snapshot()
        wait = 45.0
    end = time.perf_counter() + wait
    while time.perf_counter() < end:
        await first.step()
        await asyncio.sleep(config.poll_s)
    print(f"live at {probes} probes: {fed_rate:.0f} batches/s fed, {stored_rate:.0f}/s stored"
          f" (offered {probes / CADENCE_S:.0f}/s) over {wall1:.0f} s; leader CPU"
          f" {cpu1 / wall1 * 100:.1f} % of a core (its thread), of which steps"
          f" {(cpu1 - snapshot_cpu) / wall1 * 100:.1f} % and snapshots"
          f" {snapshot_cpu / wall1 * 100:.1f} %; step mean"
          f" {statistics.fmean(ticks) * 1000:.0f} ms, p99 {pct(ticks, 0.99) * 1000:.0f} ms"
          f" (wall); snapshots saved in {', '.join(f'{s:.2f}' for s in snapshots)} s",
          flush=True)
    after = query(url, "SELECT count(*) FROM detector_fed")[0][0]
    await conn.close()  # dies: no last snapshot
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    second = Leader(conn, Params(), config, name="second")
    wall = time.perf_counter()
    await second.step()
    wall = time.perf_counter() - wall
    loader.stop.set()
    loader.thread.join()
    await conn.close()
    print(f"takeover: the successor {'resumed' if second.resumed else 'REBUILT'}, feeding the"
          f" {after} batches taken after the snapshot and what was queued, in {wall:.1f} s"
          f" (a rebuild from {minutes} min of history: {rebuild_s:.1f} s)", flush=True)
    return 0 if second.resumed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="300 probes")
    parser.add_argument("--warmup", type=float, default=300.0,
                        help="seconds of normal uploads before the cut (at least 240: the"
                             " detector learns each probe's cadence from 3 arrivals)")
    parser.add_argument("--resolve-wait", type=float, default=600.0,
                        help="seconds to wait for 'resolved' after the province returns")
    parser.add_argument("--leader-only", type=int, metavar="BATCHES",
                        help="only time the leader on a backlog of BATCHES (no servers)")
    parser.add_argument("--takeover-history", type=int, metavar="MINUTES",
                        help="only time a leader's rebuild from MINUTES of history at --probes"
                             " against a successor resuming from its snapshot (no servers)")
    parser.add_argument("--live", type=float, default=180.0,
                        help="with --takeover-history: seconds of uploads at the fleet's rate")
    parser.add_argument("--database-url")
    parser.add_argument("--logs", type=Path, default=Path("/tmp"),
                        help="directory for the replicas' logs")
    args = parser.parse_args()
    if args.leader_only:
        with scratch_database(args.database_url) as url:
            return asyncio.run(bench_leader(url, args.leader_only))
    if args.takeover_history:
        with scratch_database(args.database_url) as url:
            return asyncio.run(bench_takeover(url, args.probes, args.takeover_history,
                                              args.live))
    count = 300 if args.quick else args.probes
    if count < 50 or args.warmup < 120:
        parser.error("at least 50 probes and a 120 s warm-up")
    with scratch_database(args.database_url) as url:
        return asyncio.run(bench(url, count, args.warmup, args.resolve_wait, args.logs))


if __name__ == "__main__":
    sys.exit(main())
