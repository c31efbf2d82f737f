"""Probes switched off at night by one shared timer: excused once their habit is learned."""

from __future__ import annotations

import pytest
from detector_cases import rows, run

from cutwatch.detectors.fleet import FleetSpec
from cutwatch.detectors.model import ProbeInfo, parse_time
from cutwatch.detectors.params import Params
from cutwatch.detectors.replay import replay
from cutwatch.detectors.scenarios import T0, build
from cutwatch.detectors.state import ProbeState


def test_time_of_day_profile_excuses_the_usual_off_slot() -> None:
    params = Params()
    probe = ProbeState(0, ProbeInfo("p"), [], params)
    day = 86_400.0
    for d in range(3):  # on 06:00-22:00 for three days
        t = T0 + d * day + 6 * 3600
        while t < T0 + d * day + 22 * 3600:
            probe.learn_arrival(t, params)
            t += 300
    assert probe.usually_off(T0 + 3 * day + 22 * 3600 + 60, params)
    assert not probe.usually_off(T0 + 3 * day + 14 * 3600, params)
    fresh = ProbeState(1, ProbeInfo("q"), [], params)
    fresh.learn_arrival(T0 + 6 * 3600, params)
    assert not fresh.usually_off(T0 + 22 * 3600 + 60, params)  # no habit known yet


@pytest.mark.slow
def test_nights_after_the_first_raise_nothing() -> None:
    # 70% of one country's probes go off at 22:00 +- 2 min and back at 06:00, three nights:
    # the first night cannot be told from a power cut; the next ones are the probes' habit
    spec = FleetSpec(probes_per_country=(30, 12, 9), night_off_share=0.7, night_jitter_s=120,
                     night_countries=("MM",), cadence_s=300.0)
    lines = list(build(spec, [], 80.0, seed=5, churn_per_day=0.0)[0])
    transitions = run(lines)
    first = [t for t in transitions if parse_time(t["at"]) <= T0 + 36 * 3600]
    later = [t for t in transitions if parse_time(t["at"]) > T0 + 36 * 3600]
    assert rows(first)[:3] == [
        ("opened", "suspected", "blackout", "country", "MM", None),
        ("updated", "confirmed", "power_outage", "country", "MM", None),
        ("resolved", "resolved", "power_outage", "country", "MM", None)]
    # later backlogs may still refine the resolved event
    assert set(rows(first)[3:]) <= {("updated", "resolved", "power_outage", "country", "MM",
                                     None)}
    assert rows(later) == []
    # the control: without the time-of-day profile the same nights alarm again
    blind = [t.to_json() for t in replay(lines, Params(tod_presence=0.0))]
    assert len([t for t in blind if t["action"] == "opened"]) >= 3
