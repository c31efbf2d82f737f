"""The drill's processes: target hosts, the collector and the probes, each in its namespace.

Every process is a child of the drill, started with ``ip netns exec``; ``stop_all`` ends them
(SIGTERM, then SIGKILL) and the namespace teardown catches anything that escaped.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cutwatch.api.drill.collector import collector_env
from cutwatch.api.drill.topology import COLLECTOR_ADDR, Place, Plan, ProbeHost

COLLECTOR_PORT = 8000
READY_TIMEOUT = 90.0
OBJECT_SIZE = 131_072


class Fleet:
    """Named child processes, their logs in ``workdir``."""

    def __init__(self, layout: Plan, workdir: Path, cadence: float) -> None:
        self.plan, self.workdir, self.cadence = layout, workdir, cadence
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.admin_token = "cwa_" + secrets.token_urlsafe(24)
        self.targets: dict[str, dict[str, Any]] = {}
        # the probes' interpreter: the probe-only install (api/drill/probe_env.py)
        self.probe_python = sys.executable

    @property
    def collector_url(self) -> str:
        return f"http://{COLLECTOR_ADDR}:{COLLECTOR_PORT}"

    def spawn(self, name: str, ns: str, argv: list[str],
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def stop(self, name: str, *, kill: bool = False) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def stop_all(self) -> None:
        for name in list(self.procs):
            if self.procs[name].poll() is None:
                self.procs[name].terminate()
        deadline = time.monotonic() + 15
        for name in list(self.procs):
            proc = self.procs.pop(name)
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    # --- target hosts -------------------------------------------------------------------

    def start_targets(self) -> None:
        hosts = [(f"dom-{p.country.code}", p.dom, p.dom_addr, f"www.{p.country.code.lower()}.test")
                 for p in self.plan.places]
        from cutwatch.api.drill.topology import INTL_ADDR

        hosts.append(("intl", self.plan.intl, INTL_ADDR, "www.intl.test"))
        for name, ns, addr, domain in hosts:
            out = self.workdir / f"{name}.json"
            self.spawn(name, ns, [sys.executable, "-m", "cutwatch.api.drill.targets",
                                  "--host", addr, "--zone", f"{domain}={addr}", "--out", str(out)])
        for name, _, addr, domain in hosts:
            ports = _wait_file(self.workdir / f"{name}.json", self.procs[name])
            self.targets[name] = {"address": addr, "domain": domain, **ports}

    def start_forger(self, ns: str, address: str) -> None:
        """A DNS server on an ISP router answering the international name twice: a forged
        address first, the real one a moment later (what on-path injectors do)."""
        intl = self.targets["intl"]
        out = self.workdir / "forger.json"
        out.unlink(missing_ok=True)
        self.spawn("forger", ns, [sys.executable, "-m", "cutwatch.api.drill.targets",
                                  "--host", address,
                                  "--zone", f"{intl['domain']}={intl['address']}",
                                  "--dns-mode", "twice", "--dns-only", "--out", str(out)])
        self.targets["forger"] = {"address": address,
                                  **_wait_file(out, self.procs["forger"])}

    # --- collector ----------------------------------------------------------------------

    def start_collector(self, geoip: Path) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CUTWATCH_") and k != "DATABASE_URL"}
        env |= {
            "CUTWATCH_HOST": COLLECTOR_ADDR,
            "CUTWATCH_PORT": str(COLLECTOR_PORT),
            "CUTWATCH_DATA_DIR": str(self.workdir / "collector"),
            "CUTWATCH_ADMIN_TOKEN": self.admin_token,
            "CUTWATCH_GEOIP_ASN_DB": str(geoip),
            "CUTWATCH_PUBLIC_BASE_URL": self.collector_url,
            # the subscriber is the drill's own receiver, on a private address
            "CUTWATCH_WEBHOOK_ALLOW_PRIVATE": "true",
            "CUTWATCH_WEBHOOK_RETRY_SCHEDULE": "[0, 1, 2, 5, 10]",
            "CUTWATCH_SILENT_AFTER_SECONDS": str(max(1, int(self.cadence * 3))),
            **collector_env(self.cadence),
        }
        # the production command; only its settings (the detector's clock) are the drill's
        self.spawn("collector", self.plan.coll,
                   [sys.executable, "-m", "cutwatch", "serve", "--log-level", "warning"], env)

    # --- probes -------------------------------------------------------------------------

    def probe_dir(self, host: ProbeHost) -> Path:
        return self.workdir / "probes" / host.ns.removeprefix("cwdrill-")

    def register_probes(self, tokens: dict[str, str]) -> dict[str, str]:
        """``cutwatch probe register`` in every probe host at once, each with its enrollment
        token (by namespace); probe ids by namespace."""
        running = {}
        for host in self.plan.probes:
            state = self.probe_dir(host) / "state"
            state.parent.mkdir(parents=True, exist_ok=True)
            country = host.country
            running[host.ns] = subprocess.Popen(
                ["ip", "netns", "exec", host.ns, self.probe_python, "-m", "cutwatch", "probe",
                 "register", "--collector", self.collector_url, "--token", tokens[host.ns],
                 "--country", country.code, "--subdivision", country.subdivision,
                 "--city", country.city, "--access", "fixed", "--name", host.ns,
                 "--state-dir", str(state)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        ids = {}
        for ns, proc in running.items():
            out, _ = proc.communicate(timeout=60)
            if proc.returncode != 0:
                raise RuntimeError(f"drill: registering the probe in {ns} failed: "
                                   f"{out.decode().strip()}")
            host = next(h for h in self.plan.probes if h.ns == ns)
            creds = json.loads((self.probe_dir(host) / "state" / "credentials.json").read_text())
            ids[ns] = str(creds["probe_id"])
        return ids

    def start_probe(self, host: ProbeHost) -> None:
        place = next(p for p in self.plan.places if p.country == host.country)
        config = self.probe_dir(host) / "probe.toml"
        config.write_text(probe_config(self.probe_dir(host) / "state", self.collector_url,
                                       self.cadence, probe_targets(host, place, self.targets)))
        self.spawn(host.ns, host.ns, [self.probe_python, "-m", "cutwatch", "probe", "run",
                                      "--config", str(config), "--log-level", "warning"])


def probe_targets(host: ProbeHost, place: Place,
                  targets: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The LAN gateway, the country's own target host and the one abroad: DNS, HTTP, HTTPS."""
    dom, intl = targets[f"dom-{place.country.code}"], targets["intl"]
    out: list[dict[str, Any]] = [{"kind": "gateway", "name": "gateway", "tag": "lan",
                                  "address": host.gateway, "ports": [80], "timeout": 1}]
    for tag, t in (("domestic", dom), ("international", intl)):
        out += [
            {"kind": "dns", "name": f"{tag}-dns", "tag": tag, "query": t["domain"],
             "resolver": f"{t['address']}:{t['dns']}", "families": ["ipv4"],
             "allow_private": True, "timeout": 2},
            {"kind": "http", "name": f"{tag}-http", "tag": tag, "group": "pulse",
             "url": f"http://{t['address']}:{t['http']}/", "timeout": 2},
            # long enough for three round trips over a throttled link (netem adds 600 ms to
            # each): slow, not failed, is what the throttling scenario must show
            {"kind": "http", "name": f"{tag}-https", "tag": tag, "group": "pulse",
             "url": f"https://{t['address']}:{t['https']}/", "ca_file": t["ca_file"],
             "timeout": 4},
        ]
    # a known-size download, so a slowed link shows as throughput, not only as latency
    out.append({"kind": "http", "name": "international-object", "tag": "international",
                "group": "pulse", "url": f"http://{intl['address']}:{intl['http']}/object/"
                f"{OBJECT_SIZE}", "expect_size": OBJECT_SIZE, "timeout": 8})
    return out


def probe_config(state_dir: Path, collector: str, cadence: float,
                 targets: list[dict[str, Any]]) -> str:
    """A probe measuring and uploading every ``cadence`` seconds, without check-in."""
    lines = ["[probe]", f"state_dir = {json.dumps(str(state_dir))}",
             f"collectors = [{json.dumps(collector)}]", "checkin = false", "",
             "[schedule]", f"pulse = {cadence}", "service = 60", f"upload = {cadence}", ""]
    for target in targets:
        lines.append("[[targets]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in target.items()]
        lines.append("")
    return "\n".join(lines)


def _wait_file(path: Path, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if path.exists():
            loaded: dict[str, Any] = json.loads(path.read_text())
            return loaded
        if proc.poll() is not None:
            raise RuntimeError(f"drill: {path.stem} exited ({proc.returncode}) before listening")
        time.sleep(0.1)
    raise RuntimeError(f"drill: {path.stem} did not start listening")
