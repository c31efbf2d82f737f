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

from cutwatch.api.demo_cut import FLEET, SUBDIVISIONS, Gate, fleet_targets, write_geoip
from cutwatch.api.lab.dns import DnsServer
from cutwatch.api.lab.http import BLOCK_PAGE_TITLE, HttpServer
from cutwatch.api.lab.tcp import TcpServer, closed_port

WHERE = {"country": "MM", "subdivision": "MM-07", "city": "Bago", "access": "fixed",
         "name": "demo-loopback"}
ZONE = {"example.test": ["127.0.0.1", "::1"]}
READY_TIMEOUT = 60.0
# The probe's credentials file in its state dir (docs/probe.md). The demo registers its probes
# with the probe's own command, as a volunteer does, so the service never imports the probe.
CREDENTIALS = "credentials.json"


class RegistrationError(Exception):
    """``cutwatch probe register`` failed; the message is its own one-line error."""


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
                 targets: list[dict[str, Any]], where: dict[str, str] | None = None,
                 announce: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.where = where or WHERE
        self.announce = announce
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
        except RegistrationError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return
        self.config_path.write_text(probe_config(state, self.base_url, self.targets))
        if self._stopped.is_set():
            return
        quiet = [] if self.announce else ["--log-level", "warning"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cutwatch", "probe", "run", "--config", str(self.config_path),
             *quiet]
        )
        self.started.set()
        if not self.announce:
            return
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
        where = [f"--{key}={value}" for key, value in self.where.items() if value]
        done = subprocess.run(
            [sys.executable, "-m", "cutwatch", "probe", "register", "--collector", self.base_url,
             "--token", self.admin_token, "--state-dir", str(state), *where],
            capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
            raise RegistrationError(lines[-1])
        return str(json.loads((state / CREDENTIALS).read_text())["probe_id"])


def run(settings: Any, *, log_level: str = "info") -> None:
    """Serve with a demo probe beside the service until interrupted."""
    from pydantic import SecretStr

    from cutwatch.api.server import serve

    if settings.admin_token is None:
        settings = settings.model_copy(update={"admin_token": SecretStr(new_admin_token())})
    demo_dir = Path(settings.data_dir) / "demo"
    update: dict[str, Any] = {
        # the demo's subscriber may be a receiver on this machine (http://127.0.0.1:...)
        "webhook_allow_private": True,
        # the fleet's gates tell the collector each probe's made-up public address
        "forwarded_allow_ips": "127.0.0.1",
    }
    if settings.geoip_asn_db is None:
        update["geoip_asn_db"] = write_geoip(demo_dir / "demo.mmdb")
    if "min_publishable_probes" not in settings.model_fields_set:
        # The demo's probes are nobody: show them in the public reads it prints.
        update["min_publishable_probes"] = 1
    settings = settings.model_copy(update=update)
    base_url = f"http://{settings.host}:{settings.port}"
    token = settings.admin_token.get_secret_value()
    with lab_targets() as targets, contextlib.ExitStack() as stack:
        probe = DemoProbe(base_url, token, Path(settings.data_dir) / "demo-probe",
                          targets).start()
        stack.callback(probe.stop)
        router = stack.enter_context(TcpServer("hold"))
        for member in FLEET:
            gate = Gate(member, base_url, demo_dir).start()
            stack.callback(gate.stop)
            where = {"country": "MM", "subdivision": member.subdivision, "city": member.city,
                     "access": "fixed", "name": member.name}
            fleet_probe = DemoProbe(gate.url, token, demo_dir / member.name,
                                    fleet_targets(gate, router.port), where=where,
                                    announce=False).start()
            stack.callback(fleet_probe.stop)
        print(banner(base_url), flush=True)
        serve(settings, log_level=log_level)


def banner(base_url: str) -> str:
    return (
        f"\ndemo: {len(FLEET)} more probes in {' and '.join(SUBDIVISIONS)} upload every 5 s "
        "through loopback gates you can cut. To see an event happen (a minute or two):\n"
        "  .venv/bin/cutwatch demo cut MM-07          # the province goes dark for 3 min\n"
        "  .venv/bin/cutwatch demo restore MM-07      # or bring it back earlier\n"
        f"  then watch {base_url}/v1/events and {base_url}/v1/feeds/events.atom\n"
        "demo: webhooks to private and loopback addresses are ALLOWED in this demo "
        "(webhook_allow_private), so a receiver on this machine can subscribe; never set "
        "that in production.\n"
    )


def drill_first(cadence: float = 5.0) -> bool:
    """``serve --demo --drill``: where namespaces can be made (root), the blackout drill
    first: a real network cut in namespaces, its signed webhooks shown as they arrive (a few
    minutes), everything removed again; then the loopback demo. Elsewhere one line says so
    and the loopback demo starts at once. Returns whether the drill ran and passed."""
    from cutwatch.api.drill.netns import NetnsUnavailable, check_available

    try:
        check_available()
        from cutwatch.api.drill.runner import run_drill
    except (NetnsUnavailable, ModuleNotFoundError) as exc:
        why = str(exc) if isinstance(exc, NetnsUnavailable) else \
            "the drill needs the 'drill' extra: pip install 'cutwatch[service,drill]'"
        print(f"demo: no drill here ({why}); the loopback demo instead, where "
              "`cutwatch demo cut MM-07` makes an event happen", flush=True)
        return False
    print("demo: the blackout drill first (a few minutes): two countries of ISPs in network "
          "namespaces, real probes, one country's uplinks cut; the signed webhooks as they "
          "arrive:", flush=True)

    def show(arrival: Any) -> None:
        print(f"demo: webhook {arrival.type} {arrival.kind} {arrival.entity} "
              f"{arrival.status} (signature verified)", flush=True)

    try:
        outcomes = run_drill(cadence, ["country blackout"], on_arrival=show)
    except RuntimeError as exc:  # it could not start (its own line says why); the demo can
        print(f"demo: {exc}; the loopback demo instead", flush=True)
        return False
    print("demo: the drill's namespaces and processes are gone; now the loopback demo",
          flush=True)
    return all(o.passed for o in outcomes)
