"""``cutwatch serve --demo``: the service plus a real local probe, so data flows at once.

The probe is a separate ``cutwatch probe run`` process, as on a volunteer's Pi. Its targets
are lab peers on loopback (DNS servers, TCP listeners, an HTTP server) showing one of each
everyday outcome: a working name, NXDOMAIN, a silent resolver, a DNS injector, an open port,
a closed port, a reset, a web page and a block page. Nothing leaves this machine.
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
from probes.config import CREDENTIALS, ConfigError
from probes.register import register_probe

WHERE = {"country": "MM", "subdivision": "MM-07", "city": "Bago", "access": "fixed",
         "name": "demo-loopback"}
ZONE = {"example.test": ["127.0.0.1", "::1"]}
READY_TIMEOUT = 60.0


@contextlib.contextmanager
def lab_targets() -> Iterator[list[dict[str, Any]]]:
    """Start the loopback peers and yield the probe's targets that measure them."""
    with contextlib.ExitStack() as stack:
        enter = stack.enter_context
        dns, silent = enter(DnsServer(ZONE)), enter(DnsServer(ZONE, mode="silent"))
        injector = enter(DnsServer(ZONE, mode="twice"))
        web = enter(HttpServer())
        held, reset = enter(TcpServer("hold")), enter(TcpServer("reset"))

        def dns_target(name: str, server: DnsServer, query: str = "example.test",
                       families: tuple[str, ...] = ("ipv4",)) -> dict[str, Any]:
            return {"kind": "dns", "name": name, "tag": "domestic", "query": query,
                    "resolver": f"127.0.0.1:{server.port}", "families": list(families),
                    "allow_private": True, "timeout": 2}

        def tcp_target(name: str, port: int, tag: str) -> dict[str, Any]:
            return {"kind": "tcp", "name": name, "tag": tag, "host": "127.0.0.1", "port": port}

        def http_target(name: str, path: str, tag: str, **extra: Any) -> dict[str, Any]:
            return {"kind": "http", "name": name, "tag": tag, "group": "pulse",
                    "url": web.url(path), **extra}

        yield [
            dns_target("lab-dns-ok", dns, families=("ipv4", "ipv6")),
            dns_target("lab-dns-nxdomain", dns, "no-such-name.test"),
            dns_target("lab-dns-silent", silent),
            dns_target("lab-dns-injected", injector),
            tcp_target("lab-tcp-open", held.port, "domestic"),
            tcp_target("lab-tcp-closed", closed_port(), "international"),
            tcp_target("lab-tcp-reset", reset.port, "international"),
            http_target("lab-http-ok", "/", "domestic"),
            http_target("lab-http-blocked", "/blocked", "international",
                        block_patterns=[BLOCK_PAGE_TITLE]),
        ]


def probe_config(state_dir: Path, collector: str, targets: list[dict[str, Any]]) -> str:
    """The demo probe's TOML: a fast schedule, and no check-in (its targets are the lab's)."""
    lines = [
        "[probe]",
        f"state_dir = {json.dumps(str(state_dir))}",
        f"collectors = [{json.dumps(collector)}]",
        "checkin = false",
        "",
        "[schedule]",
        "pulse = 15",
        "service = 60",
        "upload = 5",
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
    """Waits for the service, registers a probe once, runs ``cutwatch probe run`` beside it."""

    def __init__(self, base_url: str, admin_token: str, work_dir: Path,
                 targets: list[dict[str, Any]]) -> None:
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token
        self.work_dir = work_dir
        self.config_path = work_dir / "probe.toml"
        self.targets = targets
        self.probe_id: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.started = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-probe", daemon=True)

    def start(self) -> DemoProbe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=READY_TIMEOUT)
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
        state = self.work_dir / "state"
        try:
            self.probe_id = self._registration(state)
        except ConfigError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return
        self.config_path.write_text(probe_config(state, self.base_url, self.targets))
        if self._stopped.is_set():
            return
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cutwatch", "probe", "run", "--config", str(self.config_path)]
        )
        self.started.set()
        print(
            f"\ndemo: probe {self.probe_id} is measuring {len(self.targets)} loopback targets "
            "and uploads every 5 s. Look at:\n"
            f"  {self.base_url}/v1/probes\n"
            f"  {self.base_url}/v1/probes/{self.probe_id}/results\n"
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

    def _registration(self, state: Path) -> str:
        """The probe an earlier demo registered on this database, or a new one."""
        with contextlib.suppress(OSError, ValueError, KeyError, httpx.HTTPError):
            earlier = json.loads((state / CREDENTIALS).read_text())["probe_id"]
            probes = httpx.get(f"{self.base_url}/v1/probes", timeout=10, headers={
                "Authorization": f"Bearer {self.admin_token}"}).json()
            if earlier in {probe["id"] for probe in probes}:
                return str(earlier)
        _, probe_id = register_probe(self.base_url, self.admin_token, state_dir=state, **WHERE)
        return probe_id


def run(settings: Any, *, log_level: str = "info") -> None:
    """Serve with a demo probe beside the service until interrupted."""
    from pydantic import SecretStr

    from api.server import serve

    if settings.admin_token is None:
        settings = settings.model_copy(update={"admin_token": SecretStr(new_admin_token())})
    if "min_publishable_probes" not in settings.model_fields_set:
        # The demo's lone loopback probe is nobody: show it in the public reads it prints.
        settings = settings.model_copy(update={"min_publishable_probes": 1})
    base_url = f"http://{settings.host}:{settings.port}"
    with lab_targets() as targets:
        probe = DemoProbe(base_url, settings.admin_token.get_secret_value(),
                          Path(settings.data_dir) / "demo-probe", targets).start()
        try:
            serve(settings, log_level=log_level)
        finally:
            probe.stop()
