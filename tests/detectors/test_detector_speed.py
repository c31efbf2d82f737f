"""Onset -> ``opened`` at the default settings: the probe's default schedule (heartbeat
uploads and pulse measurements, ``cutwatch.probes.targets.Schedule``) and the detector's default
``Params``, on a simulated fleet (simulated time: nothing here waits on a wall clock).

Every kind must open within 120 s of its onset (the p95 requirement; ``cutwatch bench
detect`` measures the medians over the suites).
"""

from __future__ import annotations

import dataclasses

import pytest
from detector_cases import FLEET, run, sc

from cutwatch.detectors.bench import default_schedule_spec
from cutwatch.detectors.model import parse_time
from cutwatch.detectors.scenarios import T0, Scenario, build
from cutwatch.probes.targets import Schedule

SPEC = default_schedule_spec(FLEET)
# 40 min of history first: cadences, target baselines and the level's first samples
CASES = [(dataclasses.replace(s, start_h=40 / 60), kind) for s, kind in [
    (sc("country blackout", "blackout", "country", "MM"), "blackout"),
    (sc("international cut, collector at home", "international_cut_live", "country", "MM"),
     "international_cut"),
    (sc("DNS block", "block", "country", "MM", target="social", method="dns"),
     "service_block"),
    (sc("throttling", "throttling", "country", "MM"), "throttling"),
]]


def test_the_bench_fleet_follows_the_probe_defaults() -> None:
    schedule = Schedule()
    assert SPEC.cadence_s == schedule.upload
    assert SPEC.cadence_s * SPEC.measure_every == schedule.pulse


@pytest.mark.parametrize(("scenario", "kind"), CASES, ids=[c[0].name for c in CASES])
def test_every_kind_opens_within_two_minutes(scenario: Scenario, kind: str) -> None:
    onset = T0 + scenario.start_h * 3600
    lines, _ = build(SPEC, [scenario], scenario.start_h + 0.25, seed=5)
    opened = [t for t in run(list(lines)) if t["action"] == "opened"]
    assert opened, "nothing opened"
    first = opened[0]
    assert first["event"]["entity"]["code"] == scenario.code
    if scenario.effect != "blackout":  # silence opens as a suspected blackout
        assert first["event"]["kind"] == kind
    assert 0 < parse_time(first["at"]) - onset <= 120
    # the start is the onset, not a fixed number of minutes before the opening
    assert abs(parse_time(first["event"]["start"]) - onset) <= 60
