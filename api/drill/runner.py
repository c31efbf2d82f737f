"""One drill run: build the network, start everything, run the scenarios, print the table.

The drill's own HTTP client and webhook receiver live in the collector's namespace (one
thread moved there with ``setns``), so no interface of the machine's real network is used.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx

from cutwatch.api.drill.collector import drill_params
from cutwatch.api.drill.fleet import READY_TIMEOUT, Fleet
from cutwatch.api.drill.geo import write_geoip
from cutwatch.api.drill.netns import NsThread, in_ns
from cutwatch.api.drill.probe_env import probe_python
from cutwatch.api.drill.receiver import Arrival, Subscriber
from cutwatch.api.drill.scenarios import (
    TBF,
    Action,
    Outcome,
    Scenario,
    expected_text,
    judge,
    received_text,
    scenarios,
)
from cutwatch.api.drill.topology import COLLECTOR_ADDR, Network, Plan, plan

WARMUP_CADENCES = 6
RESOLVE_CADENCES = 30
QUIET_CADENCES = 3


class Drill:
    """The running drill; use as a context manager (everything stops on exit)."""

    def __init__(self, cadence: float = 5.0, workdir: Path | None = None,
                 out: TextIO = sys.stdout, layout: Plan | None = None,
                 on_arrival: Callable[[Arrival], None] | None = None) -> None:
        self.cadence = cadence
        self.on_arrival = on_arrival
        self.plan = layout or plan()
        self.out = out
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="cwdrill-"))
        self.fleet = Fleet(self.plan, self.workdir, cadence)
        self.probe_ids: dict[str, str] = {}
        self._stack = ExitStack()
        self.net: Network | None = None
        self.coll: NsThread | None = None
        self.receiver: Subscriber | None = None
        self.client: httpx.Client | None = None

    def say(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.gmtime())
        print(f"[{stamp}] drill: {text}", file=self.out, flush=True)

    def __enter__(self) -> Drill:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- set-up ---------------------------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        self.fleet.probe_python = str(probe_python(say=self.say))
        self.net = Network(self.plan).__enter__()
        self.say(f"{len(self.plan.namespaces)} namespaces built; the root namespace is "
                 "untouched")
        geoip = write_geoip(self.plan, self.workdir / "drill.mmdb")
        self.fleet.start_targets()
        self.fleet.start_collector(geoip)
        self.coll = NsThread(self.plan.coll)
        self.client = self.coll.call(lambda: httpx.Client(
            base_url=self.fleet.collector_url, timeout=10,
            headers={"Authorization": f"Bearer {self.fleet.admin_token}"}))
        # its listening socket is made in the collector's namespace, by that thread
        self.receiver = self.coll.call(
            lambda: Subscriber(COLLECTOR_ADDR, self.on_arrival).start())
        self.wait_ready()
        self.subscribe()
        # Three volunteer groups, each with a probe in every ISP, as a real fleet is spread:
        # an event then has the two operators and two networks the Sybil rule asks for, and
        # is not flagged single_source (one token for all would flag every event).
        tokens = [self.post("/v1/enrollment-tokens", {
            "max_uses": None, "label": f"drill group {n}", "operator": f"drill-group-{n}"})["token"]
            for n in (1, 2, 3)]
        self.probe_ids = self.fleet.register_probes(
            {host.ns: tokens[i % len(tokens)] for i, host in enumerate(self.plan.probes)})
        for host in self.plan.probes:
            self.fleet.start_probe(host)
        self.say(f"{len(self.plan.probes)} probes running, every {self.cadence:g} s")
        self.warm_up()
        self.say(f"ready after {time.monotonic() - started:.0f} s")

    def post(self, path: str, body: dict[str, Any], *,
             headers: dict[str, str] | None = None) -> Any:
        assert self.coll is not None
        assert self.client is not None
        client = self.client
        response = self.coll.call(lambda: client.post(path, json=body, headers=headers))
        if response.status_code >= 300:
            raise RuntimeError(f"drill: POST {path}: HTTP {response.status_code} "
                               f"{response.text[:200]}")
        return response.json()

    def get(self, path: str) -> Any:
        assert self.coll is not None
        assert self.client is not None
        client = self.client
        response = self.coll.call(lambda: client.get(path))
        response.raise_for_status()
        return response.json()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.fleet.procs["collector"].poll() is not None:
                raise RuntimeError("drill: the collector exited; see "
                                   f"{self.workdir / 'collector.log'}")
            try:
                if self.get("/readyz") is not None:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("drill: the collector did not become ready")

    def subscribe(self) -> None:
        assert self.receiver is not None
        key = self.post("/v1/subscribers", {"name": "drill"})["api_key"]
        created = self.post("/v1/subscriptions",
                            {"url": self.receiver.url, "description": "the drill's receiver"},
                            headers={"Authorization": f"Bearer {key}"})
        self.receiver.set_secret(created["secret"])

    def warm_up(self) -> None:
        """Until every probe uploads steadily; then the operator approves them all.

        A probe that starts sends three uploads within a second (an empty heartbeat, then
        its first results as they come): a detector learning its cadence from them takes it
        for 1 s and, at the drill's scaled margin, sees every fresh probe flap between alive
        and silent for a few cadences. Approving the probes once they are steady, as an
        operator would after checking them, keeps the start-up out of the detector: batches
        of a probe not yet approved never reach it (their ``approved`` flag is set at
        ingest)."""
        spawned = datetime.now(UTC).timestamp()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            # seen well after its process started: past its start-up burst
            steady = [p for p in self.get("/v1/probes") if p["asn"] is not None and
                      p["last_seen_at"] is not None and datetime.fromisoformat(
                          p["last_seen_at"]).timestamp() > spawned + 2 * self.cadence]
            if len(steady) >= len(self.plan.probes):
                break
            time.sleep(self.cadence / 2)
        else:
            raise RuntimeError("drill: not every probe came up (see the probe logs in "
                               f"{self.workdir / 'probes'})")
        for probe_id in self.probe_ids.values():
            self.post(f"/v1/probes/{probe_id}/approve", {})
        # the detector learns each probe's cadence (three arrivals) and target baselines
        time.sleep(WARMUP_CADENCES * self.cadence)

    # --- scenarios ------------------------------------------------------------------------

    def act(self, action: Action) -> None:
        from cutwatch.api.drill.topology import link_state

        host = {h.ns: h for h in self.plan.probes}
        if action.kind in ("link_down", "link_up"):
            link_state(self.plan, action.ns, action.dev, action.kind == "link_up")
        elif action.kind == "kill_probe":
            self.fleet.stop(action.ns, kill=True)
        elif action.kind == "start_probe":
            self.fleet.start_probe(host[action.ns])
        elif action.kind == "nft":
            in_ns(action.ns, "nft", "-f", "-", stdin=self.fill(action.args[0]))
        elif action.kind == "nft_off":
            in_ns(action.ns, "nft", "flush", "ruleset")
        elif action.kind == "netem":
            try:
                in_ns(action.ns, "tc", "qdisc", "replace", "dev", action.dev, "root", "netem",
                      *action.args)
            except RuntimeError as exc:
                if "unknown" not in str(exc):
                    raise
                self.say(f"this kernel has no netem; shaping {action.dev} with tbf "
                         f"({' '.join(TBF)}) instead")
                in_ns(action.ns, "tc", "qdisc", "replace", "dev", action.dev, "root", "tbf",
                      *TBF)
        elif action.kind == "netem_off":
            in_ns(action.ns, "tc", "qdisc", "del", "dev", action.dev, "root")
        elif action.kind == "start_forger":
            self.fleet.start_forger(action.ns, action.args[0])
        elif action.kind == "stop_forger":
            self.fleet.stop("forger")
        elif action.kind == "stop_collector":
            self.fleet.stop("collector")
        elif action.kind == "start_collector":
            self.fleet.start_collector(self.workdir / "drill.mmdb")
            self.wait_ready()
        else:
            raise ValueError(f"unknown action {action.kind}")

    def fill(self, text: str) -> str:
        """Put the running target hosts' addresses and ports into an nft script."""
        intl, forger = self.fleet.targets["intl"], self.fleet.targets.get("forger", {})
        values = {"intl": intl["address"], "intl_dns": intl["dns"], "intl_http": intl["http"],
                  "intl_https": intl["https"], "forger": forger.get("address", ""),
                  "forger_port": forger.get("dns", "")}
        for key, value in values.items():
            text = text.replace("{" + key + "}", str(value))
        return text

    def run(self, scenario: Scenario) -> Outcome:
        assert self.receiver is not None
        receiver, cadence = self.receiver, self.cadence
        self.say(f"{scenario.name}: {scenario.what}")
        try:
            for action in scenario.prepare:
                self.act(action)
            cut_at, cut_wall = time.monotonic(), time.time()
            for n, action in enumerate(scenario.cut):
                if n and scenario.stagger:
                    time.sleep(scenario.stagger)
                self.act(action)
        except RuntimeError as exc:
            # the tool refused (a missing kernel feature): undo what can be, say it, go on
            for action in scenario.restore:
                with suppress(RuntimeError, KeyError):
                    self.act(action)
            outcome = Outcome(scenario, [], time.monotonic(), time.time(), time.time())
            outcome.problems.append(f"could not cut: {exc}")
            self.say(f"{scenario.name}: FAIL {outcome.problems[0]}")
            return outcome
        if scenario.negative:
            time.sleep(scenario.hold * cadence)
        else:
            # an event opens on what is known then (silence: a suspected blackout); its kind
            # may come with the backlogs, which ``judge`` follows by event id
            wanted = {e.entity for e in scenario.expect}
            receiver.wait_for(cut_at, lambda got: wanted <= {
                a.entity for a in got if a.action == "opened"}, 5 * cadence)
            time.sleep(cadence)  # measurements inside the gap, for the backlogs to show
        restore_wall = time.time()
        for action in scenario.restore:
            self.act(action)
        if scenario.negative:
            # "Nothing happened": any opening would have come within this window; the
            # scenarios before showed that openings do come (positive controls).
            receiver.wait_for(cut_at, lambda got: any(a.action == "opened" for a in got),
                              (QUIET_CADENCES + 3) * cadence)
        else:
            entities = {e.entity for e in scenario.expect}
            receiver.wait_for(cut_at, lambda got: entities <= {
                a.entity for a in got if a.action == "resolved"},
                RESOLVE_CADENCES * cadence + drill_params(cadence)["condition_hold_s"])
        time.sleep(QUIET_CADENCES * cadence)  # late transitions (retracted, other entities)
        outcome = Outcome(scenario, receiver.since(cut_at), cut_at, cut_wall, restore_wall)
        judge(outcome, cadence)
        self.say(f"{scenario.name}: {'PASS' if outcome.passed else 'FAIL'} "
                 f"{'; '.join(outcome.problems)}")
        return outcome

    def run_all(self, names: Sequence[str] = ()) -> list[Outcome]:
        chosen = [s for s in scenarios(self.plan) if not names or s.name in names]
        return [self.run(s) for s in chosen]

    # --- teardown ---------------------------------------------------------------------------

    def close(self) -> None:
        try:
            self.fleet.stop_all()
            if self.receiver is not None:
                self.receiver.stop()
            if self.client is not None and self.coll is not None:
                client = self.client
                self.coll.call(client.close)
            if self.coll is not None:
                self.coll.close()
        finally:
            if self.net is not None:
                unchanged = self.net.root_unchanged()
                self.net.close()
                if not unchanged:
                    self.say("WARNING: the root namespace's routes changed during the drill")
            if self._own_dir:
                shutil.rmtree(self.workdir, ignore_errors=True)


def table(outcomes: Sequence[Outcome]) -> str:
    """scenario | expected | received | delay | verdict, as plain text."""
    rows = [("scenario", "expected", "received", "delay", "verdict")]
    for o in outcomes:
        delays = [d for d in o.delays.values() if d is not None]
        rows.append((o.scenario.name, expected_text(o.scenario), received_text(o.arrivals),
                     ", ".join(f"{d:.1f} s" for d in delays) or "-",
                     "PASS" if o.passed else "FAIL: " + "; ".join(o.problems)))
    widths = [min(60, max(len(r[i]) for r in rows)) for i in range(4)]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) if len(row[i]) <= widths[i] else row[i]
                 for i in range(4)]
        lines.append(" | ".join([*cells, row[4]]))
    return "\n".join(lines)


def run_drill(cadence: float, names: Sequence[str], out: TextIO = sys.stdout,
              on_ready: Callable[[Drill], None] | None = None,
              on_arrival: Callable[[Arrival], None] | None = None) -> list[Outcome]:
    with Drill(cadence, out=out, on_arrival=on_arrival) as drill:
        if on_ready is not None:
            on_ready(drill)
        outcomes = drill.run_all(names)
    print(table(outcomes), file=out, flush=True)
    return outcomes
