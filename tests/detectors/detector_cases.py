"""Detector cases as rows: (scenario on a small simulated fleet, expected transitions).

A transition is written (action, status, kind, entity type, entity code, access); repeats
of the same row in a row (an ``updated`` as more backlogs arrive) are folded into one.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cutwatch.detectors.fleet import FleetSpec
from cutwatch.detectors.replay import replay
from cutwatch.detectors.scenarios import Scenario, build

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


def backlog_confirmed(kind: str, entity_type: str, code: str,
                      access: str | None = None) -> list[Row]:
    """A silence event: opened as a suspected blackout, confirmed as ``kind`` once the
    backlogs arrive, resolved."""
    where = (entity_type, code, access)
    return [("opened", "suspected", "blackout", *where), ("updated", "confirmed", kind, *where),
            ("resolved", "resolved", kind, *where)]


def live(kind: str, entity_type: str, code: str) -> list[Row]:
    """A live-condition event: opened confirmed (in-region measurements prove it), resolved."""
    return [("opened", "confirmed", kind, entity_type, code, None),
            ("resolved", "resolved", kind, entity_type, code, None)]


CASES: list[tuple[Scenario, list[Row]]] = [
    (sc("province blackout", "blackout", "subdivision", "MM-01"),
     backlog_confirmed("blackout", "subdivision", "MM-01")),
    (sc("country blackout", "blackout", "country", "TH"),
     backlog_confirmed("blackout", "country", "TH")),
    (sc("ISP outage", "blackout", "asn", "AS64500"),
     backlog_confirmed("blackout", "asn", "AS64500")),
    (sc("city blackout", "blackout", "city", "MM-01/City1-MM-01"),
     backlog_confirmed("blackout", "city", "MM-01/City1-MM-01")),
    (sc("fixed-only province", "blackout", "subdivision", "MM-03", access="fixed"),
     backlog_confirmed("blackout", "subdivision", "MM-03", "fixed")),
    (sc("mobile-only shutdown", "blackout", "country", "MM", access="mobile"),
     backlog_confirmed("blackout", "country", "MM", "mobile")),
    (sc("international cut, collector abroad", "international_cut", "country", "MM"),
     backlog_confirmed("international_cut", "country", "MM")),
    (sc("international cut, collector at home", "international_cut_live", "country", "MM"),
     live("international_cut", "country", "MM")),
    (sc("DNS block", "block", "country", "MM", target="social", method="dns"),
     live("service_block", "country", "MM")),
    (sc("throttling", "throttling", "country", "MM"),
     live("throttling", "country", "MM")),
    (sc("grid blackout", "power", "subdivision", "MM-02"),
     backlog_confirmed("power_outage", "subdivision", "MM-02")),
    # must not alarm
    (sc("one probe loses power", "single_power", "subdivision", "MM-01", minutes=90), []),
    (sc("mass reboot", "mass_reboot", minutes=3), []),
    (sc("target down for everyone", "target_down", minutes=60, target="social"), []),
    (sc("collector down", "collector_down", minutes=25), []),
    (sc("slow for everyone", "target_slow", minutes=40), []),
]
