"""Detector cases as rows: (scenario on a small simulated fleet, expected transitions).

A transition is written (action, status, kind, entity type, entity code, access); repeats
of the same row in a row (an ``updated`` as more backlogs arrive) are folded into one.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from detectors.fleet import FleetSpec
from detectors.replay import replay
from detectors.scenarios import Scenario, build

FLEET = FleetSpec(probes_per_country=(30, 12, 9), night_off_share=0.0)
Row = tuple[str, str, str, str, str, str | None]


@lru_cache(maxsize=32)
def stream(scenario: Scenario, hours: float = 3.0, seed: int = 3) -> tuple[str, ...]:
    lines, _ = build(FLEET, [scenario], hours, seed=seed)
    return tuple(lines)


def run(lines: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    return [t.to_json() for t in replay(lines)]


def rows(transitions: list[dict[str, Any]]) -> list[Row]:
    out: list[Row] = []
    for t in transitions:
        e = t["event"]
        row = (t["action"], e["status"], e["kind"], e["entity"]["type"], e["entity"]["code"],
               e["entity"].get("access"))
        if not out or out[-1] != row:
            out.append(row)
    return out


def sc(name: str, effect: str, entity_type: str = "country", code: str = "",
       access: str | None = None, minutes: float = 40, **kw: Any) -> Scenario:
    return Scenario(name, None, effect, entity_type, code, access, start_h=1.5,
                    minutes=minutes, **kw)


OPEN_BLACKOUT = ("opened", "suspected", "blackout")
CASES: list[tuple[Scenario, list[Row]]] = [
    (sc("province blackout", "blackout", "subdivision", "MM-01"), [
        (*OPEN_BLACKOUT, "subdivision", "MM-01", None),
        ("updated", "confirmed", "blackout", "subdivision", "MM-01", None),
        ("resolved", "resolved", "blackout", "subdivision", "MM-01", None)]),
    (sc("country blackout", "blackout", "country", "TH"), [
        (*OPEN_BLACKOUT, "country", "TH", None),
        ("updated", "confirmed", "blackout", "country", "TH", None),
        ("resolved", "resolved", "blackout", "country", "TH", None)]),
    (sc("ISP outage", "blackout", "asn", "AS64500"), [
        (*OPEN_BLACKOUT, "asn", "AS64500", None),
        ("updated", "confirmed", "blackout", "asn", "AS64500", None),
        ("resolved", "resolved", "blackout", "asn", "AS64500", None)]),
    (sc("city blackout", "blackout", "city", "MM-01/City1-MM-01"), [
        (*OPEN_BLACKOUT, "city", "MM-01/City1-MM-01", None),
        ("updated", "confirmed", "blackout", "city", "MM-01/City1-MM-01", None),
        ("resolved", "resolved", "blackout", "city", "MM-01/City1-MM-01", None)]),
    (sc("fixed-only province", "blackout", "subdivision", "MM-03", access="fixed"), [
        (*OPEN_BLACKOUT, "subdivision", "MM-03", "fixed"),
        ("updated", "confirmed", "blackout", "subdivision", "MM-03", "fixed"),
        ("resolved", "resolved", "blackout", "subdivision", "MM-03", "fixed")]),
    (sc("mobile-only shutdown", "blackout", "country", "MM", access="mobile"), [
        (*OPEN_BLACKOUT, "country", "MM", "mobile"),
        ("updated", "confirmed", "blackout", "country", "MM", "mobile"),
        ("resolved", "resolved", "blackout", "country", "MM", "mobile")]),
    (sc("international cut, collector abroad", "international_cut", "country", "MM"), [
        (*OPEN_BLACKOUT, "country", "MM", None),
        ("updated", "confirmed", "international_cut", "country", "MM", None),
        ("resolved", "resolved", "international_cut", "country", "MM", None)]),
    (sc("international cut, collector at home", "international_cut_live", "country", "MM"), [
        ("opened", "confirmed", "international_cut", "country", "MM", None),
        ("resolved", "resolved", "international_cut", "country", "MM", None)]),
    (sc("DNS block", "block", "country", "MM", target="social", method="dns"), [
        ("opened", "confirmed", "service_block", "country", "MM", None),
        ("resolved", "resolved", "service_block", "country", "MM", None)]),
    (sc("throttling", "throttling", "country", "MM"), [
        ("opened", "confirmed", "throttling", "country", "MM", None),
        ("resolved", "resolved", "throttling", "country", "MM", None)]),
    (sc("grid blackout", "power", "subdivision", "MM-02"), [
        (*OPEN_BLACKOUT, "subdivision", "MM-02", None),
        ("updated", "confirmed", "power_outage", "subdivision", "MM-02", None),
        ("resolved", "resolved", "power_outage", "subdivision", "MM-02", None)]),
    # must not alarm
    (sc("one probe loses power", "single_power", "subdivision", "MM-01", minutes=90), []),
    (sc("mass reboot", "mass_reboot", minutes=3), []),
    (sc("target down for everyone", "target_down", minutes=60, target="social"), []),
    (sc("collector down", "collector_down", minutes=25), []),
    (sc("slow for everyone", "target_slow", minutes=40), []),
]
