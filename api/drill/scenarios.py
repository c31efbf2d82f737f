"""The drill's cuts as data, and the pure judgement of what the subscriber received.

A scenario names what to break (``Action`` rows the runner carries out with ``ip``, ``tc``
or signals) and which webhooks must follow (``Expect``); ``judge`` compares the arrivals with
that and says, in one line each, what was wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from cutwatch.api.drill.receiver import Arrival
from cutwatch.api.drill.topology import Plan

ActionKind = Literal["link_down", "link_up", "kill_probe", "start_probe", "stop_collector",
                     "start_collector", "netem", "netem_off", "nft", "nft_off", "start_forger",
                     "stop_forger"]


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    ns: str = ""
    dev: str = ""
    args: tuple[str, ...] = ()
    """``nft`` script or ``tc`` arguments; ``{intl}``, ``{intl_dns}``, ``{intl_http[s]}``,
    ``{forger}`` and ``{forger_port}`` are filled in by the runner."""


@dataclass(frozen=True)
class Expect:
    kind: str
    entity: str
    """``type:code`` as in the webhook, e.g. ``country:MM`` or ``asn:AS64601``."""
    confirmed: bool = False
    """A transition with status ``confirmed`` must follow (the backlogs proved it)."""
    method: str | None = None
    """A service block's method the event must name."""


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    cut: tuple[Action, ...]
    restore: tuple[Action, ...]
    expect: tuple[Expect, ...] = ()
    forbid_prefixes: tuple[str, ...] = ()
    """Entities (``type:code`` prefixes) no transition may name, e.g. the other country."""
    forbid_types: tuple[str, ...] = ()
    """Entity types no transition may name, e.g. ``country`` for a one-ISP cut."""
    prepare: tuple[Action, ...] = ()
    """Done before the cut's clock starts (e.g. the forger that a rule will point at)."""
    stagger: float = 0.0
    """Seconds between the cut's actions (a staggered reboot)."""
    hold: float = 0.0
    """Cadences the cut lasts for a negative case (positive ones last until opened)."""

    @property
    def negative(self) -> bool:
        return not self.expect


@dataclass
class Outcome:
    scenario: Scenario
    arrivals: list[Arrival]
    cut_at: float
    cut_wall: float
    restore_wall: float
    delays: dict[str, float | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


# In one ISP router: its clients' queries to the international resolver answered by a
# forger on the router (conntrack makes the answers come from the resolver's address) ...
DNAT = """table ip cwdrill_nat {
  chain pre { type nat hook prerouting priority -100;
    ip daddr {intl} udp dport {intl_dns} dnat to {forger}:{forger_port}; }
}"""
# ... or their connections to the international HTTPS server reset.
RESET = """table inet cwdrill {
  chain cut { type filter hook forward priority 0;
    ip daddr {intl} tcp dport {intl_https} reject with tcp reset; }
}"""
# On the international host itself: its plain web server down (a closed port) for everyone.
DOWN = """table inet cwdrill {
  chain cut { type filter hook input priority 0;
    tcp dport {intl_http} reject with tcp reset; }
}"""
NETEM = ("delay", "300ms", "rate", "2mbit")
# Kernels built without netem (some VMs) still shape with a token bucket: rate only.
TBF = ("rate", "1mbit", "burst", "16kbit", "latency", "500ms")


def scenarios(layout: Plan) -> list[Scenario]:
    """The drill's program, in the order it runs (each starts from a healthy network)."""
    first, second = layout.places[0], layout.places[1]
    a, b = first.country.code, second.country.code
    isp_asn = first.country.isps[0].asn
    uplinks_down = tuple(Action("link_down", ns, dev) for ns, dev in first.isp_uplinks)
    uplinks_up = tuple(Action("link_up", ns, dev) for ns, dev in first.isp_uplinks)
    isp_ns, isp_dev = first.isp_uplinks[0]
    intl_ns, intl_dev = first.uplink
    isp2_asn, isp2_ns = first.country.isps[1].asn, first.isps[1]
    isp2_gw, isp2_dev = first.isp_uplinks[1]
    isp2_lan = first.isp_lans[1].replace(".0/24", ".1")
    victim = next(h for h in layout.probes if h.country == second.country)
    half = [h for n, h in enumerate(layout.probes) if n % 2 == 0]
    return [
        Scenario("country blackout", f"every ISP uplink of {a} down",
                 uplinks_down, uplinks_up,
                 expect=(Expect("blackout", f"country:{a}", confirmed=True),),
                 forbid_prefixes=(f"country:{b}", f"subdivision:{b}")),
        Scenario("one ISP cut", f"AS{isp_asn}'s uplink down",
                 (Action("link_down", isp_ns, isp_dev),), (Action("link_up", isp_ns, isp_dev),),
                 expect=(Expect("blackout", f"asn:AS{isp_asn}"),),
                 forbid_types=("country",), forbid_prefixes=(f"subdivision:{b}",)),
        Scenario("international cut", f"{a}'s international link down",
                 (Action("link_down", intl_ns, intl_dev),),
                 (Action("link_up", intl_ns, intl_dev),),
                 expect=(Expect("international_cut", f"country:{a}"),),
                 forbid_prefixes=(f"country:{b}",)),
        Scenario("DNS injection", f"AS{isp2_asn} forges the international name's answer",
                 (Action("nft", isp2_ns, args=(DNAT,)),),
                 (Action("nft_off", isp2_ns), Action("stop_forger")),
                 expect=(Expect("service_block", f"asn:AS{isp2_asn}", method="dns"),),
                 forbid_types=("country",),
                 prepare=(Action("start_forger", isp2_ns, args=(isp2_lan,)),)),
        Scenario("TCP reset", f"AS{isp2_asn} resets connections to the international HTTPS",
                 (Action("nft", isp2_ns, args=(RESET,)),), (Action("nft_off", isp2_ns),),
                 expect=(Expect("service_block", f"asn:AS{isp2_asn}", method="tcp"),),
                 forbid_types=("country",)),
        Scenario("throttling", f"AS{isp2_asn}'s uplink slowed with tc netem (delay, rate)",
                 (Action("netem", isp2_ns, "uplink", NETEM),
                  Action("netem", isp2_gw, isp2_dev, NETEM)),
                 (Action("netem_off", isp2_ns, "uplink"), Action("netem_off", isp2_gw, isp2_dev)),
                 expect=(Expect("throttling", f"asn:AS{isp2_asn}"),), forbid_types=("country",)),
        Scenario("probe power loss", f"probe {victim.ns} killed",
                 (Action("kill_probe", victim.ns),), (Action("start_probe", victim.ns),),
                 hold=4),
        Scenario("target down for everyone", "the international web server refuses everyone",
                 (Action("nft", layout.intl, args=(DOWN,)),), (Action("nft_off", layout.intl),),
                 hold=6),
        Scenario("collector restarted", "the collector stopped and started again",
                 (Action("stop_collector"),), (Action("start_collector"),), hold=3),
        Scenario("staggered reboot", f"{len(half)} probes killed one after another, restarted",
                 tuple(Action("kill_probe", h.ns) for h in half),
                 tuple(Action("start_probe", h.ns) for h in half), hold=3, stagger=1.0),
    ]


def expected_text(scenario: Scenario) -> str:
    if scenario.negative:
        return "no event"
    parts = []
    for e in scenario.expect:
        steps = "opened, confirmed, resolved" if e.confirmed else "opened, resolved"
        parts.append(f"{e.kind} {e.entity} ({steps})")
    return "; ".join(parts)


def received_text(arrivals: Sequence[Arrival]) -> str:
    if not arrivals:
        return "nothing"
    return "; ".join(f"{a.action} {a.kind} {a.entity} {a.status}" for a in arrivals)


def judge(outcome: Outcome, cadence: float) -> None:
    """Fill ``outcome.problems`` (empty: passed) and the opened delays."""
    scenario, got = outcome.scenario, outcome.arrivals
    for arrival in got:
        # updates of an event opened before this scenario (late refinements) are not its own
        forbidden = arrival.entity_type in scenario.forbid_types or \
            any(arrival.entity.startswith(p) for p in scenario.forbid_prefixes)
        if forbidden and arrival.action == "opened":
            outcome.problems.append(f"unexpected {arrival.action} {arrival.kind} "
                                    f"{arrival.entity}")
    if scenario.negative:
        openings = [a for a in got if a.action == "opened"]
        if openings:
            outcome.problems.append("an event was opened: " + received_text(openings))
        return
    for arrival in got:
        if arrival.type != f"outage.{arrival.action}":
            outcome.problems.append(f"type {arrival.type} for a {arrival.action} transition")
    for e in scenario.expect:
        # One event, followed by its id: a cut the collector cannot see through opens on
        # silence (a suspected blackout) and takes its kind when the backlogs arrive.
        ids = [a.event_id for a in got if a.entity == e.entity and a.kind == e.kind]
        mine = [a for a in got if ids and a.event_id == ids[0]]
        opened = next((a for a in mine if a.action == "opened"), None)
        delay = None if opened is None else opened.at - outcome.cut_at
        outcome.delays[e.entity] = delay
        if delay is None:
            outcome.problems.append(f"no opened {e.kind} {e.entity}")
            continue
        if delay > 3 * cadence:
            outcome.problems.append(f"opened {e.entity} after {delay:.1f} s > 3 cadences")
        if e.method and not any(a.method == e.method for a in mine):
            methods = sorted({str(a.method) for a in mine})
            outcome.problems.append(f"{e.entity} method {', '.join(methods)}, not {e.method}")
        if e.confirmed and not any(a.status == "confirmed" for a in mine):
            outcome.problems.append(f"{e.entity} never confirmed")
        resolved = next((a for a in mine if a.action == "resolved"), None)
        if resolved is None:
            outcome.problems.append(f"{e.entity} not resolved")
            continue
        _check_edges(outcome, e, resolved, cadence)


def _check_edges(outcome: Outcome, e: Expect, resolved: Arrival, cadence: float) -> None:
    from datetime import datetime

    def at(text: str | None) -> float | None:
        return None if text is None else datetime.fromisoformat(text).timestamp()

    start, end = at(resolved.start), at(resolved.end)
    if start is None or abs(start - outcome.cut_wall) > cadence:
        outcome.problems.append(f"{e.entity} start {resolved.start} not within one cadence "
                                "of the cut")
    if end is None or abs(end - outcome.restore_wall) > cadence:
        outcome.problems.append(f"{e.entity} end {resolved.end} not within one cadence "
                                "of the repair")
