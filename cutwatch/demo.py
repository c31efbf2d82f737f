"""``cutwatch serve --demo``: the service plus a real local probe, so data flows at once.

The probe is a separate ``cutwatch probe run`` process, as on a volunteer's Pi. Its targets
are lab peers on loopback (a DNS server, TCP listeners, an HTTP server), some healthy and
some misbehaving, so every kind of result shows up. Nothing leaves this machine.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from cutwatch.lab.dns import DnsServer
from cutwatch.lab.http import BLOCK_PAGE_TITLE, HttpServer
from cutwatch.lab.tcp import TcpServer, closed_port

DEMO_PROBE = {"name": "demo-probe", "country": "MM", "subdivision": "MM-07", "city": "Bago",
              "access": "fixed"}
READY_TIMEOUT = 60.0


@contextlib.contextmanager
def lab_targets() -> Iterator[list[dict[str, Any]]]:
    """Start the loopback peers and yield the probe's targets that measure them."""
    with contextlib.ExitStack() as stack:
        web = stack.enter_context(HttpServer())
        dns = stack.enter_context(DnsServer({"www.cutwatch.test": ["127.0.0.1"]}))
        held = stack.enter_context(TcpServer("hold"))
        reset = stack.enter_context(TcpServer("reset"))
        resolver = f"{dns.host}:{dns.port}"
        yield [
            {"kind": "dns", "name": "dns-ok", "tag": "domestic", "query": "www.cutwatch.test",
             "resolver": resolver, "families": ["ipv4"], "allow_private": True},
            {"kind": "dns", "name": "dns-nxdomain", "tag": "international",
             "query": "missing.cutwatch.test", "resolver": resolver, "families": ["ipv4"]},
            {"kind": "tcp", "name": "tcp-open", "tag": "domestic", "host": held.host,
             "port": held.port},
            {"kind": "tcp", "name": "tcp-reset", "tag": "international", "host": reset.host,
             "port": reset.port},
            {"kind": "tcp", "name": "tcp-closed", "tag": "international", "host": "127.0.0.1",
             "port": closed_port()},
            {"kind": "http", "name": "http-ok", "tag": "domestic", "group": "pulse",
             "url": web.url("/")},
            {"kind": "http", "name": "http-block", "tag": "international", "group": "pulse",
             "url": web.url("/blocked"), "block_patterns": [BLOCK_PAGE_TITLE]},
        ]


def probe_config(state_dir: Path, collector: str, token: str,
                 targets: list[dict[str, Any]]) -> str:
    """The demo probe's TOML: fast schedule, no check-in (its targets are the lab's)."""
    lines = [
        "[probe]",
        f"state_dir = {json.dumps(str(state_dir))}",
        f"collectors = [{json.dumps(collector)}]",
        f"token = {json.dumps(token)}",
        "checkin = false",
        "",
        "[schedule]",
        "pulse = 15",
        "service = 60",
        "upload = 10",
        "",
    ]
    for target in targets:
        lines.append("[[targets]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in target.items()]
        lines.append("")
    return "\n".join(lines)


def new_admin_token() -> str:
    return "cwa_" + secrets.token_urlsafe(24)


class DemoProbe:
    """Waits for the service, registers a probe, runs ``cutwatch probe run`` beside it."""

    def __init__(self, base_url: str, admin_token: str, work_dir: Path,
                 targets: list[dict[str, Any]]) -> None:
        self.base_url = base_url
        self.admin_token = admin_token
        self.work_dir = work_dir
        self.targets = targets
        self.process: subprocess.Popen[bytes] | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def _run(self) -> None:
        if not self._wait_ready():
            print("demo: the service did not become ready; no probe started", file=sys.stderr)
            return
        try:
            registered = self._registration()
        except httpx.HTTPError as exc:
            print(f"demo: could not register the demo probe: {exc}", file=sys.stderr)
            return
        probe_id = registered["probe_id"]
        config = self.work_dir / "probe.toml"
        config.write_text(probe_config(self.work_dir / "state", self.base_url,
                                       registered["token"], self.targets))
        config.chmod(0o600)
        if self._stopped.is_set():
            return
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cutwatch", "probe", "run", "--config", str(config)]
        )
        print(
            f"\ndemo: probe {probe_id} is measuring {len(self.targets)} loopback targets "
            "and uploads every 10 s. Look at:\n"
            f"  {self.base_url}/v1/probes\n"
            f"  {self.base_url}/v1/probes/{probe_id}/results\n"
            f"  {self.base_url}/v1/events\n"
            f"  {self.base_url}/docs   (the API)\n"
            f"  admin token for this run: {self.admin_token}\n",
            flush=True,
        )

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and not self._stopped.is_set():
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return True
            time.sleep(0.3)
        return False

    def _registration(self) -> dict[str, Any]:
        """The probe registered by an earlier demo on this database, or a new one."""
        saved = self.work_dir / "registration.json"
        with contextlib.suppress(OSError, ValueError, KeyError, httpx.HTTPError):
            earlier: dict[str, Any] = json.loads(saved.read_text())
            probes = httpx.get(f"{self.base_url}/v1/probes", timeout=10).json()
            if earlier["probe_id"] in {probe["id"] for probe in probes}:
                return earlier
        registered = self._register()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(registered))
        saved.chmod(0o600)
        return registered

    def _register(self) -> dict[str, Any]:
        reply = httpx.post(f"{self.base_url}/v1/probes", json=DEMO_PROBE, timeout=10,
                           headers={"Authorization": f"Bearer {self.admin_token}"})
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body


def run(settings: Any, *, log_level: str = "info") -> None:
    """Serve with a demo probe beside the service until interrupted."""
    from pydantic import SecretStr

    from api.server import serve

    if settings.admin_token is None:
        settings = settings.model_copy(update={"admin_token": SecretStr(new_admin_token())})
    base_url = f"http://{settings.host}:{settings.port}"
    with lab_targets() as targets:
        probe = DemoProbe(base_url, settings.admin_token.get_secret_value(),
                          Path(settings.data_dir) / "demo-probe", targets)
        probe.start()
        try:
            serve(settings, log_level=log_level)
        finally:
            probe.stop()
