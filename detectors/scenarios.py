"""Scenario catalogue: every kind of event and every must-not-alarm case, with ground truth.

``build`` turns a fleet and a list of scenarios into replay stream lines plus a truth list
(``kind`` null for negative cases, which must raise no event).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from cutwatch.detectors.fleet import FleetSpec, SimProbe, build_fleet, select
from cutwatch.detectors.model import iso, parse_time
from cutwatch.detectors.simulate import Effect, churn_effects, probe_line, probe_lines

T0 = parse_time("2021-02-15T00:00:00Z")

EFFECTS = {
    "blackout": ("upload_fail", "domestic_fail"),
    "international_cut": ("upload_fail", "international_fail"),
    "international_cut_live": ("international_fail",),
    "power": ("off",),
    "block": ("block",),
    "throttling": ("slow",),
    "target_down": ("down",),
    "target_slow": ("slow",),
    "collector_down": ("upload_fail",),
    "single_power": ("off",),
    "mass_reboot": ("off",),
}


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    kind: str | None  # the event expected; None: must raise nothing
    effect: str
    entity_type: str = "country"
    code: str = ""
    access: str | None = None
    start_h: float = 1.0
    minutes: float = 30.0
    target: str = ""
    method: str = ""
    spread_min: float = 0.0
    """Staggered onset: each probe's effect begins at a random point of this many minutes
    after the start (networks and provinces going dark one after another)."""
    partial: float = 0.0
    """Partial restoration: this share of the probes stays affected for as long again."""
    flicker_min: float = 0.0
    """Flickering: the effect pauses for this many minutes in every half hour."""

    def effects(self, probes: list[SimProbe], rng: random.Random) -> dict[str, list[Effect]]:
        start = T0 + self.start_h * 3600
        end = start + self.minutes * 60
        if self.effect in ("target_down", "target_slow", "collector_down") or \
                (self.effect == "mass_reboot" and not self.code):
            chosen = probes
        else:
            chosen = select(probes, self.entity_type, self.code, self.access)
            if self.effect == "single_power":
                chosen = chosen[:1]
        out: dict[str, list[Effect]] = {}
        lasting = set(rng.sample(range(len(chosen)), round(self.partial * len(chosen))))
        for n, p in enumerate(chosen):
            s, e = start, end
            if self.spread_min:
                s = min(end - 60, start + rng.uniform(0, self.spread_min * 60))
            if n in lasting:
                e = end + self.minutes * 60
            if self.effect == "mass_reboot":
                s = start + rng.uniform(0, max(120.0, self.spread_min * 60))
                e = s + rng.uniform(60, max(150.0, self.minutes * 60))
            spans = [(s, e)]
            if self.flicker_min:
                pause = self.flicker_min * 60
                spans = [(a, min(e, a + 1800 - pause)) for a in _steps(s, e, 1800.0)]
            out[p.info.id] = [Effect(a, b, what, self.target, self.method)
                              for a, b in spans for what in EFFECTS[self.effect]]
        return out

    def truth(self, probes: list[SimProbe]) -> dict[str, Any]:
        start = T0 + self.start_h * 3600
        affected = len(select(probes, self.entity_type, self.code, self.access)) \
            if self.code else len(probes)
        out = asdict(self)
        out.update(start=iso(start), end=iso(start + self.minutes * 60), probes=affected,
                   entity={"type": self.entity_type, "code": self.code, "access": self.access})
        return out


def _steps(start: float, end: float, step: float) -> list[float]:
    return [start + i * step for i in range(int((end - start) // step) + 1)
            if start + i * step < end]


def build(spec: FleetSpec, scenarios: list[Scenario], hours: float, seed: int = 1,
          churn_per_day: float = 0.3) -> tuple[Iterator[str], list[dict[str, Any]]]:
    """Stream lines (probe registrations, then uploads by ``received_at``) and the truth."""
    rng = random.Random(seed)
    probes = build_fleet(spec, rng)
    effects: dict[str, list[Effect]] = {p.info.id: [] for p in probes}
    for sc in scenarios:
        for pid, eff in sc.effects(probes, rng).items():
            effects[pid].extend(eff)
    t1 = T0 + hours * 3600
    for p in probes:
        effects[p.info.id].extend(churn_effects(rng, T0, t1, churn_per_day))
    truth = [sc.truth(probes) for sc in scenarios]
    # a probe that keeps uploading through an international cut reaches the collector at
    # home: its stream says so (elsewhere an arriving upload proves international links work)
    home = {pid for pid, eff in effects.items()
            if {(e.start, e.end) for e in eff if e.what == "international_fail"}
            - {(e.start, e.end) for e in eff if e.what == "upload_fail"}}

    def lines() -> Iterator[str]:
        for p in probes:
            yield probe_line(p, collector_abroad=p.info.id not in home)
        streams = [probe_lines(p, effects[p.info.id], T0, t1, spec.cadence_s,
                               seed * 100_003 + n, spec.measure_every)
                   for n, p in enumerate(probes)]
        for _, line in heapq.merge(*streams):
            yield line

    return lines(), truth


def positives() -> list[Scenario]:
    """One of every kind, well apart in time, on a three-country fleet."""
    return [
        Scenario("province blackout", "blackout", "blackout", "subdivision", "MM-01",
                 start_h=1.0, minutes=60),
        Scenario("country blackout", "blackout", "blackout", "country", "KH",
                 start_h=2.5, minutes=45),
        Scenario("ISP outage", "blackout", "blackout", "asn", "AS64500", start_h=4.0,
                 minutes=30),
        Scenario("mobile-only shutdown", "blackout", "blackout", "country", "MM",
                 access="mobile", start_h=5.5, minutes=40),
        Scenario("international cut, collector abroad", "international_cut",
                 "international_cut", "country", "MM", start_h=7.0, minutes=30),
        Scenario("international cut, collector at home", "international_cut",
                 "international_cut_live", "country", "TH", start_h=8.5, minutes=30),
        Scenario("social network blocked by DNS", "service_block", "block", "country", "MM",
                 start_h=10.0, minutes=60, target="social", method="dns"),
        Scenario("throttling", "throttling", "throttling", "country", "TH", start_h=11.5,
                 minutes=40),
        Scenario("grid blackout", "power_outage", "power", "subdivision", "MM-02",
                 start_h=13.0, minutes=40),
        Scenario("short province blackout", "blackout", "blackout", "subdivision", "MM-03",
                 start_h=14.5, minutes=6),
        Scenario("ISP outage in one province", "blackout", "blackout", "asn_subdivision",
                 "AS64501/MM-02", start_h=15.5, minutes=30),
    ]


def negatives() -> list[Scenario]:
    """Cases that must raise nothing."""
    return [
        Scenario("one probe loses power", None, "single_power", "subdivision", "MM-01",
                 start_h=1.0, minutes=90),
        Scenario("mass reboot after an update", None, "mass_reboot", start_h=2.0, minutes=3),
        Scenario("target down for everyone", None, "target_down", start_h=3.0, minutes=60,
                 target="social"),
        Scenario("collector down", None, "collector_down", start_h=5.0, minutes=25),
        Scenario("every path slow (a congested target side)", None, "target_slow",
                 start_h=6.0, minutes=40),
    ]
