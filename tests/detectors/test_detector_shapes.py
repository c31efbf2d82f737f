"""Shapes real shutdowns take, as rows of (scenario, hours simulated, expected transitions).

Staggered onsets (networks and provinces going dark one after another over 15 min or an
hour), partial restoration, a mass reboot whose probes come back before and after the event
opens, throttling that flickers inside one episode.
"""

from __future__ import annotations

import uuid

import pytest
from detector_cases import FLEET, Row, backlog_confirmed, rows, run, sc

from cutwatch.detectors.engine import Engine
from cutwatch.detectors.fleet import FleetSpec
from cutwatch.detectors.model import ProbeInfo, Upload, heartbeat_upload, parse_time
from cutwatch.detectors.replay import drive
from cutwatch.detectors.scenarios import T0, Scenario, build

COUNTRY = ("country", "MM")
SHAPES: list[tuple[Scenario, float, list[Row]]] = [
    (sc("staggered over 15 min", "blackout", *COUNTRY, spread_min=15), 3.0,
     backlog_confirmed("blackout", *COUNTRY)),
    (sc("staggered over 1 h", "blackout", *COUNTRY, minutes=120, spread_min=60), 4.0,
     backlog_confirmed("blackout", *COUNTRY)),
    (sc("province staggered over 1 h", "blackout", "subdivision", "MM-01", minutes=90,
        spread_min=60), 4.0,
     # one city first, widened (same event) to the province as the rest follow
     [("opened", "suspected", "blackout", "city", "MM-01/City1-MM-01", None),
      ("updated", "suspected", "blackout", "subdivision", "MM-01", None),
      *backlog_confirmed("blackout", "subdivision", "MM-01")[1:]]),
    (sc("partial restoration", "blackout", *COUNTRY, minutes=60, partial=0.3), 3.5,
     backlog_confirmed("blackout", *COUNTRY)),
    (sc("mass reboot of one country", "mass_reboot", *COUNTRY, minutes=8, spread_min=4), 3.0,
     [("opened", "suspected", "blackout", *COUNTRY, None),
      ("updated", "confirmed", "power_outage", *COUNTRY, None),
      ("resolved", "resolved", "power_outage", *COUNTRY, None)]),
    (sc("flickering throttling", "throttling", *COUNTRY, minutes=160, flicker_min=6), 5.0,
     [("opened", "confirmed", "throttling", *COUNTRY, None),
      ("resolved", "resolved", "throttling", *COUNTRY, None)]),
]


@pytest.mark.parametrize(("scenario", "hours", "expected"), SHAPES,
                         ids=[s[0].name for s in SHAPES])
def test_shape(scenario: Scenario, hours: float, expected: list[Row]) -> None:
    lines, _ = build(FLEET, [scenario], hours, seed=3)
    transitions = run(list(lines))
    # late backlogs refining a resolved event (settle_s) are not part of the shape
    assert [r for r in rows(transitions) if r[:2] != ("updated", "resolved")] == expected
    final = transitions[-1]["event"]
    start = T0 + scenario.start_h * 3600
    end = start + scenario.minutes * 60
    if scenario.effect == "mass_reboot":
        return
    if scenario.partial:  # the event says how many were still dark when it resolved
        assert final["evidence"]["probes_still_silent"] >= 3
    # the event spans the episode: from its first probes going dark to its end
    assert -60 <= parse_time(final["start"]) - start <= 0.2 * scenario.spread_min * 60 + 60
    assert final["end"] is not None
    assert abs(parse_time(final["end"]) - end) <= 120


def test_a_resolved_outage_is_not_rewritten_by_a_later_reboot() -> None:
    # an ISP outage (01:30-02:00), then its probes reboot 20 minutes after it ended, inside
    # settle_s: the reboot's gaps must not turn the resolved blackout into a power outage
    outage = sc("ISP outage", "blackout", "asn", "AS64500", minutes=30)
    reboot = Scenario("reboot", None, "mass_reboot", "asn", "AS64500", start_h=2 + 20 / 60,
                      minutes=8, spread_min=3)
    lines, _ = build(FLEET, [outage, reboot], 3.5, seed=3)
    transitions = run(list(lines))
    events: dict[str, list[dict[str, object]]] = {}
    for t in transitions:
        events.setdefault(t["event"]["id"], []).append(t["event"])
    first, *later = events.values()
    assert {e["kind"] for e in first[1:]} == {"blackout"}
    assert parse_time(str(first[-1]["end"])) == pytest.approx(T0 + 2 * 3600, abs=60)
    assert [e[-1]["kind"] for e in later] == ["power_outage"]  # the reboot: its own event


def test_provinces_going_dark_one_after_another_become_one_country_event() -> None:
    # seed 1 of the full fleet: two provinces open their own events before the country
    # qualifies; the country event takes the first (same id) and absorbs the other
    scenario = sc("staggered over 15 min", "blackout", *COUNTRY, minutes=60, spread_min=15)
    lines, _ = build(FleetSpec(), [scenario], 3.0, seed=1)
    transitions = run(list(lines))
    final = {t["event"]["id"]: t["event"] for t in transitions}
    claims = [e for e in final.values() if e["status"] != "merged"]
    merged = [e for e in final.values() if e["status"] == "merged"]
    # merged, never retracted: to a subscriber a retraction says "not a shutdown"
    assert [t["action"] for t in transitions if t["event"]["id"] == merged[0]["id"]][-1] \
        == "merged"
    assert not [t for t in transitions if t["action"] == "retracted"]
    assert [(e["entity"]["type"], e["entity"]["code"], e["kind"]) for e in claims] == [
        ("country", "MM", "blackout")]
    assert len(merged) == 1
    assert merged[0]["evidence"]["merged_into"] == claims[0]["id"]
    widened = {w["code"] for w in claims[0]["evidence"]["widened_from"]}
    assert merged[0]["entity"]["code"] in widened


def test_probes_still_dark_after_a_partial_restoration_raise_no_new_event() -> None:
    # a country of 16 probes goes dark; 12 come back after 40 min, 4 of the 6 in XX-1 stay
    # dark: the country event resolves (4 of 16 is under close_fraction) and those 4, whose
    # silence it explained, must not open a province event of their own afterwards
    probes = [ProbeInfo(f"p{i}", "XX", "XX-1" if i < 6 else "XX-2", None,
                        1 + (i // 3 if i < 6 else i % 2), "fixed") for i in range(16)]
    stay = {"p0", "p1", "p3", "p4"}
    t0, dark = 1_600_000_000.0, 1_600_000_000.0 + 7200
    back, end = dark + 2400, dark + 3 * 3600

    def uploads() -> list[Upload]:
        out = []
        for n, p in enumerate(probes):
            t = t0 + n * 3.7
            while t < end:
                # p2 (XX-1) misses a few uploads after the event resolved: the province is
                # judged again, with the 4 old silences in it
                blip = p.id == "p2" and dark + 4000 <= t < dark + 4400
                if not blip and not (dark <= t < (end if p.id in stay else back)):
                    out.append(heartbeat_upload(p.id, uuid.uuid4(), t))
                t += 60
        return sorted(out, key=lambda u: u.received_at)

    transitions = [t.to_json() for t in drive(Engine(), [*probes, *uploads()])]
    assert rows(transitions) == [
        ("opened", "suspected", "blackout", "country", "XX", None),
        ("resolved", "resolved", "blackout", "country", "XX", None)]
    assert transitions[-1]["event"]["evidence"]["probes_still_silent"] == 4
