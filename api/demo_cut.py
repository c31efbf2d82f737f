"""The demo's cuttable fleet: six loopback probes in two provinces, behind gates you can cut.

Each probe reaches the collector and its "internet" target through its own gate, a small
HTTP forwarder on loopback that adds the probe's made-up public address (198.18.0.0/15, a
benchmarking range: it only ever appears in a header, nothing is sent to it) as
X-Forwarded-For; a GeoIP file written for the demo maps those addresses to two ISPs, so the
collector derives each probe's ASN the way it does in production. ``cutwatch demo cut
MM-07`` makes the gates of that province drop every connection: its probes keep measuring
(their LAN gateway answers, nothing beyond does), cannot upload, and upload the backlog when
``cutwatch demo restore`` (or the cut's timer) reopens them. Nothing leaves this machine.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

CUTS = "cuts.json"


@dataclass(frozen=True)
class FleetProbe:
    name: str
    subdivision: str
    city: str
    asn: int
    address: str


# Bago has two probes on each of two ISPs: the detector raises an area only when more than
# one network is down there, and one probe of the second network is too little evidence
# (churn). Yangon is the rest of the country, which stays up.
FLEET = (
    FleetProbe("demo-bago-1", "MM-07", "Bago", 64601, "198.18.7.11"),
    FleetProbe("demo-bago-2", "MM-07", "Bago", 64601, "198.18.7.12"),
    FleetProbe("demo-bago-3", "MM-07", "Bago", 64602, "198.18.7.13"),
    FleetProbe("demo-bago-4", "MM-07", "Bago", 64602, "198.18.7.14"),
    FleetProbe("demo-yangon-1", "MM-06", "Yangon", 64601, "198.18.6.11"),
    FleetProbe("demo-yangon-2", "MM-06", "Yangon", 64602, "198.18.6.12"),
)
SUBDIVISIONS = tuple(dict.fromkeys(p.subdivision for p in FLEET))
CUTTABLE = ("MM-07",)


def write_geoip(path: Path) -> Path:
    """The demo's MMDB: each fleet probe's made-up address -> its ISP, country MM."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=4, database_type="Cutwatch-Demo-ASN-Country")
    for probe in FLEET:
        writer.insert_network(IPSet([f"{probe.address}/32"]), {
            "autonomous_system_number": probe.asn,
            "autonomous_system_organization": f"Demo ISP AS{probe.asn}",
            "country": {"iso_code": "MM"},
        })
    path.parent.mkdir(parents=True, exist_ok=True)
    writer.to_db_file(str(path))
    return path


# --- the cut switch: a small JSON file {subdivision: until (epoch seconds)} ---------------

def read_cuts(demo_dir: Path, now: float | None = None) -> set[str]:
    now = time.time() if now is None else now
    try:
        cuts = json.loads((demo_dir / CUTS).read_text())
    except (OSError, ValueError):
        return set()
    if not isinstance(cuts, dict):
        return set()
    return {str(k) for k, until in cuts.items() if isinstance(until, int | float) and
            until > now}


def set_cut(demo_dir: Path, subdivision: str, seconds: float | None) -> None:
    """Cut ``subdivision`` for ``seconds`` (None: restore it)."""
    if subdivision not in CUTTABLE:
        raise ValueError(f"the demo can cut {', '.join(CUTTABLE)}, not {subdivision} "
                         "(too few demo probes there for an event)")
    path = demo_dir / CUTS
    try:
        cuts = json.loads(path.read_text())
    except (OSError, ValueError):
        cuts = {}
    if seconds is None:
        cuts.pop(subdivision, None)
    else:
        cuts[subdivision] = time.time() + seconds
    demo_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cuts))
    tmp.replace(path)


# --- a gate ---------------------------------------------------------------------------------

class _GateHandler(BaseHTTPRequestHandler):
    server: Gate
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        gate = self.server
        if gate.probe.subdivision in read_cuts(gate.demo_dir):
            self.close_connection = True  # the cut: no answer at all
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/ping":
            self._reply(200, b"pong\n", {"Content-Type": "text/plain"})
            return
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "content-length", "connection",
                                        "x-forwarded-for")}
        headers["X-Forwarded-For"] = gate.probe.address
        try:
            answer = gate.client.request(self.command, gate.collector + self.path,
                                         content=body, headers=headers)
        except httpx.HTTPError:
            self._reply(502, b'{"detail": "demo gate: collector unreachable"}',
                        {"Content-Type": "application/json"})
            return
        self._reply(answer.status_code, answer.content,
                    {"Content-Type": answer.headers.get("content-type", "application/json")})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Gate(ThreadingHTTPServer):
    """One probe's way out: to the collector (with its made-up address) and to /ping."""

    daemon_threads = True

    def __init__(self, probe: FleetProbe, collector: str, demo_dir: Path) -> None:
        super().__init__(("127.0.0.1", 0), _GateHandler)
        self.probe, self.collector, self.demo_dir = probe, collector.rstrip("/"), demo_dir
        self.client = httpx.Client(timeout=30)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.2}, name=f"gate-{probe.name}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> Gate:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.client.close()


def fleet_targets(gate: Gate, router_port: int) -> list[dict[str, Any]]:
    """What a fleet probe measures: its LAN gateway (always up) and the world (its gate)."""
    return [
        {"kind": "gateway", "name": "gateway", "tag": "lan", "address": "127.0.0.1",
         "ports": [router_port], "timeout": 1},
        {"kind": "http", "name": "world-http", "tag": "international", "group": "pulse",
         "url": gate.url + "/ping", "timeout": 2},
        {"kind": "http", "name": "home-http", "tag": "domestic", "group": "pulse",
         "url": gate.url + "/ping", "timeout": 2},
    ]
