"""Probe footprint benchmark: RSS, CPU, upload traffic and 7-day spool size. Prints figures.

    python -m tests.bench.probe_footprint [--window 300] [--warmup 30]
    python -m tests.bench.probe_footprint --imports   # where the probe's memory goes

A lab process serves 20 loopback targets (DNS, TCP, HTTP, a "gateway") and a minimal
collector that acknowledges batches and counts the bytes it receives. The real probe
(`cutwatch probe run`) runs against them at the probe's default schedule (``Schedule()``:
pulse, service and upload intervals, read from the code) for ``--window`` seconds after
``--warmup``, sampled from /proc. The service group runs only every 15 minutes, so its CPU and
traffic share is measured on its own (one round in this process) and added pro rata. Every
upload round sends a batch even with no result ready (the heartbeat): its bytes are counted
and printed apart. The 7-day spool is filled with copies of real
results at the schedule's rate and measured on disk. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from cutwatch.probes.scheduler import OFFLINE_STRETCH
from cutwatch.probes.targets import Schedule

PULSE_S, SERVICE_S, UPLOAD_S = int(Schedule().pulse), int(Schedule().service), Schedule().upload
OFFLINE_PULSE_S = int(PULSE_S * OFFLINE_STRETCH)  # the pulse while uploads fail


def targets_toml(dns: int, tcp: int, web: str, collector: str, state: Path) -> str:
    rows = [("gateway", "lan-gw", "pulse", f'address = "127.0.0.1"\nports = [{tcp}]\n'
             'families = ["ipv4"]'),
            ("dns", "dns-a-1", "pulse", "query = \"ok.test\"\nfamilies = [\"ipv4\"]"),
            ("dns", "dns-a-2", "pulse", "query = \"www.ok.test\"\nfamilies = [\"ipv4\"]")]
    rows += [("tcp", f"tcp-pulse-{n}", "pulse", f'host = "127.0.0.1"\nport = {tcp}')
             for n in range(4)]
    rows += [("http", "http-ok", "service", f'url = "{web}/"'),
             ("http", "http-object", "service", f'url = "{web}/object/100000"\n'
              "expect_size = 100000"),
             ("http", "http-blocked", "service", f'url = "{web}/blocked"\n'
              'block_patterns = ["has been restricted"]'),
             ("http", "http-redirect", "service", f'url = "{web}/redirect/2"'),
             ("http", "http-missing", "service", f'url = "{web}/status/404"')]
    rows += [("dns", f"dns-service-{n}", "service", f'query = "svc{n}.ok.test"')
             for n in range(4)]
    rows += [("tcp", f"tcp-service-{n}", "service", f'host = "127.0.0.1"\nport = {tcp}')
             for n in range(4)]
    out = [f'[probe]\nstate_dir = "{state}"\ncollectors = ["{collector}"]\n'
           'token = "p-bench.secret"\ncheckin = false\n']
    for kind, name, group, extra in rows:
        resolver = f'\nresolver = "127.0.0.1:{dns}"\nallow_private = true' if kind == "dns" \
            else ""
        tag = "lan" if kind == "gateway" else "domestic"
        out.append(f'[[targets]]\nkind = "{kind}"\nname = "{name}"\ntag = "{tag}"\n'
                   f'group = "{group}"\n{extra}{resolver}\n')
    return "\n".join(out)


class _Collector(BaseHTTPRequestHandler):
    stats: ClassVar[dict[str, int]] = {"requests": 0, "bytes": 0, "results": 0,
                                       "heartbeats": 0, "heartbeat_bytes": 0}

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        head = len(self.requestline) + sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        batch = json.loads(gzip.decompress(body))
        self.stats["requests"] += 1
        self.stats["bytes"] += len(body) + head
        self.stats["results"] += len(batch["results"])
        if not batch["results"]:  # a heartbeat: nothing measured since the last upload
            self.stats["heartbeats"] += 1
            self.stats["heartbeat_bytes"] += len(body) + head
        reply = json.dumps({"batch_id": batch["batch_id"], "accepted": len(batch["results"]),
                            "duplicates": 0, "server_time": datetime.now(UTC).isoformat()})
        self._send(reply.encode())

    def do_GET(self) -> None:
        self._send(json.dumps(self.stats).encode())

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def serve_lab(workdir: Path) -> None:
    """The lab process: 20 targets' peers and the counting collector, until killed."""
    import threading

    from cutwatch.api.lab.dns import DnsServer
    from cutwatch.api.lab.http import HttpServer
    from cutwatch.api.lab.tcp import TcpServer

    zone = {f"{n}ok.test": ["127.0.0.1", "::1"] for n in ("", "www.", *(f"svc{i}." for i in
                                                                         range(4)))}
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    with DnsServer(zone) as dns, HttpServer() as web, TcpServer() as tcp:
        url = f"http://127.0.0.1:{collector.server_address[1]}"
        (workdir / "probe.toml").write_text(
            targets_toml(dns.port, tcp.port, web.url("").rstrip("/"), url, workdir / "state"))
        (workdir / "collector").write_text(url)
        print("ready", flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})


def proc_sample(pid: int) -> tuple[float, int]:
    """(CPU seconds used, RSS bytes) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


def stats(collector: str) -> dict[str, int]:
    import httpx

    return dict(httpx.get(collector, timeout=10).json())


def service_round(config_path: Path) -> tuple[float, list[Any], list[Any]]:
    """CPU seconds of one service round in this process (warm), plus one round's results."""
    from cutwatch.probes.agent import Agent
    from cutwatch.probes.checks.base import Context
    from cutwatch.probes.config import load_config

    agent = Agent(load_config(config_path), Context())
    asyncio.run(agent.measure_round(("service",)))  # warm: imports, TLS context
    started = time.process_time()
    service = asyncio.run(agent.measure_round(("service",)))
    cpu = time.process_time() - started
    pulse = asyncio.run(agent.measure_round(("pulse",)))
    return cpu, pulse, service


def week_spool(pulse: list[Any], service: list[Any], path: Path) -> tuple[int, int]:
    """Seven days of results at the offline schedule's rate (uploads failing all along),
    stored as the probe stores them."""
    from cutwatch.probes.spool import Spool, SpoolLimits
    from cutwatch.probes.spool_codec import encode

    spool = Spool(path, SpoolLimits(max_bytes=10**10, max_age_s=10**9))
    start = datetime.now(UTC) - timedelta(days=7)
    rows = []
    for round_no in range(7 * 86_400 // OFFLINE_PULSE_S):
        at = start + timedelta(seconds=round_no * OFFLINE_PULSE_S)
        batch = pulse + (service if round_no % (SERVICE_S // OFFLINE_PULSE_S) == 0 else [])
        for offset, result in enumerate(batch):
            moment = at + timedelta(milliseconds=offset * 37)
            copy = dataclasses.replace(result, id=uuid.uuid4(), measured_at=moment)
            rows.append((copy.measured_at.timestamp(), encode(copy)))
    spool.db.execute("BEGIN")
    spool.db.executemany("INSERT INTO results (measured_at, body) VALUES (?, ?)", rows)
    spool.db.execute("COMMIT")
    spool.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    spool.close()
    on_disk = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return len(rows), on_disk


# Run in a fresh interpreter: each row imports one layer of what `cutwatch probe run` loads,
# in dependency order, and prints the resident memory it added (VmRSS from /proc).
IMPORT_STEPS = """
import importlib
import importlib.util
import sys
def rss():
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) / 1024
# The DNS and ICMP packet layer: scapy's layers when the probe uses them, else the stdlib's.
if importlib.util.find_spec("cutwatch.probes.scapy_lean") is not None:
    PACKETS = ("DNS and ICMP packets (scapy's layers, probes.scapy_lean)",
               ["cutwatch.probes.scapy_lean"])
else:
    PACKETS = ("DNS and ICMP packets (probes.packets, standard library)",
               ["cutwatch.probes.packets"])
steps = [
    ("python, no imports", []),
    ("stdlib: asyncio, ssl, sqlite3, json, gzip, logging", ["asyncio", "ssl", "sqlite3", "json",
                                                            "gzip", "ipaddress", "logging"]),
    ("the probe's records and hand validation (no pydantic)",
     ["cutwatch.probes.validate", "cutwatch.probes.records", "cutwatch.probes.targets",
      "cutwatch.probes.config"]),
    ("httpx (+ httpcore, h11, certifi, idna)", ["httpx"]),
    PACKETS,
    ("the rest of the probe (checks, agent, spool, uploader, CLI)",
     ["cutwatch.probes.main", "cutwatch.probes.checks", "cutwatch.probes.status", "cutwatch.cli",
      "cutwatch.probes.cli"]),
]
print("| layer | adds MiB | RSS MiB |")
print("| --- | ---: | ---: |")
before = rss()
for name, modules in steps:
    for module in modules:
        importlib.import_module(module)
    now = rss()
    print(f"| {name} | {now - before:+.1f} | {now:.1f} |")
    before = now
assert "pydantic" not in sys.modules, "pydantic is on the probe's path again"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=float, default=300, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=30)
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that runs the probe, e.g. one of a venv with only "
                        "'cutwatch[probe]' installed, as on a Pi (default: this one)")
    parser.add_argument("--lab", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--imports", action="store_true",
                        help="print the RSS each layer of the probe's imports adds, in a fresh "
                        "interpreter (--python), instead of the run")
    args = parser.parse_args()
    if args.lab:
        serve_lab(args.lab)
        return
    if args.imports:
        subprocess.run([args.python, "-c", IMPORT_STEPS], check=True)
        return
    with tempfile.TemporaryDirectory(prefix="cutwatch-bench-") as tmp:
        work = Path(tmp)
        lab = subprocess.Popen([sys.executable, "-m", "tests.bench.probe_footprint", "--lab",
                                str(work)], stdout=subprocess.PIPE, text=True)
        try:
            assert lab.stdout is not None
            assert lab.stdout.readline().strip() == "ready"
            run(work, args.window, args.warmup, args.python)
        finally:
            lab.terminate()
            lab.wait(timeout=30)


def run(work: Path, window: float, warmup: float, python: str) -> None:
    config, collector = work / "probe.toml", (work / "collector").read_text()
    print(f"probe interpreter: {python}")
    probe = subprocess.Popen([python, "-m", "cutwatch", "probe", "run", "--config",
                              str(config), "--log-level", "warning"])
    try:
        time.sleep(warmup)
        cpu0, _ = proc_sample(probe.pid)
        sent0 = stats(collector)
        rss: list[int] = []
        end = time.monotonic() + window
        while time.monotonic() < end:
            rss.append(proc_sample(probe.pid)[1])
            time.sleep(min(5.0, max(0.0, end - time.monotonic())))
        cpu1, last = proc_sample(probe.pid)
        rss.append(last)
        sent1 = stats(collector)
    finally:
        probe.send_signal(signal.SIGTERM)
        probe.wait(timeout=30)
    service_cpu, pulse_results, service_results = service_round(config)
    window_cpu = cpu1 - cpu0
    cpu_share = (window_cpu + service_cpu * window / SERVICE_S) / window * 100
    per_result = (sent1["bytes"] - sent0["bytes"]) / max(sent1["results"] - sent0["results"], 1)
    upload_h = (sent1["bytes"] - sent0["bytes"]) * 3600 / window + (
        len(service_results) * 3600 / SERVICE_S * per_result)
    count, week = week_spool(pulse_results, service_results, work / "week" / "spool.sqlite3")
    per_hour = len(pulse_results) * 3600 / PULSE_S + len(service_results) * 3600 / SERVICE_S
    print(f"targets: 20 ({len(pulse_results)} pulse results/{PULSE_S}s, "
          f"{len(service_results)} service results/{SERVICE_S}s = {per_hour:.0f} results/h)")
    print(f"window: {window:.0f} s after {warmup:.0f} s warm-up")
    print(f"RSS steady state: max {max(rss) / 2**20:.1f} MiB, "
          f"median {sorted(rss)[len(rss) // 2] / 2**20:.1f} MiB   (limit 40 MB)")
    print(f"CPU: {window_cpu:.2f} s in window + service round {service_cpu:.3f} s per "
          f"{SERVICE_S} s -> {cpu_share:.2f}% of one core   (limit 1%)")
    requests = sent1["requests"] - sent0["requests"]
    beats = sent1["heartbeats"] - sent0["heartbeats"]
    beat_bytes = (sent1["heartbeat_bytes"] - sent0["heartbeat_bytes"]) / max(beats, 1)
    print(f"upload: {requests} batches every {UPLOAD_S:.0f} s ({requests * 3600 / window:.0f}/h), "
          f"{beats} of them empty heartbeats of {beat_bytes:.0f} B; "
          f"{per_result:.0f} B/result on the wire (heartbeats included) -> "
          f"{upload_h / 1e6:.3f} MB/h   (limit 0.5)")
    print(f"spool, 7 days offline (pulse every {OFFLINE_PULSE_S} s): {count} results -> "
          f"{week / 1e6:.1f} MB on disk, "
          f"{week / count:.0f} B/result   (limit 20 MB)")


if __name__ == "__main__":
    main()
