"""Shapes real shutdowns take, as rows of (scenario, hours simulated, expected transitions).

Staggered onsets (networks and provinces going dark one after another over 15 min or an
hour), partial restoration, a mass reboot whose probes come back before and after the event
opens, throttling that flickers inside one episode.
"""

from __future__ import annotations

import pytest
from detector_cases import FLEET, Row, backlog_confirmed, rows, run, sc

from detectors.model import parse_time
from detectors.scenarios import T0, Scenario, build

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
    # the event spans the episode: from its first probes going dark to its end
    assert -60 <= parse_time(final["start"]) - start <= 0.2 * scenario.spread_min * 60 + 60
    assert final["end"] is not None
    assert abs(parse_time(final["end"]) - end) <= 120
