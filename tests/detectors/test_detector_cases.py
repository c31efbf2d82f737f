"""Table tests: each simulated case gives exactly its expected transitions."""

from __future__ import annotations

import pytest
from detector_cases import CASES, Row, rows, run, stream

from cutwatch.detectors.fleet import FleetSpec
from cutwatch.detectors.model import parse_time
from cutwatch.detectors.scenarios import T0, Scenario, build


@pytest.mark.parametrize(("scenario", "expected"), CASES, ids=[c[0].name for c in CASES])
def test_case(scenario: Scenario, expected: list[Row]) -> None:
    transitions = run(stream(scenario))
    assert rows(transitions) == expected
    if not expected:
        return
    final = transitions[-1]["event"]
    start = T0 + scenario.start_h * 3600
    end = start + scenario.minutes * 60
    opened = next(t for t in transitions if t["action"] == "opened")
    # onset -> opened within 4 minutes; start and end within a minute once backlogs arrived
    assert 0 < parse_time(opened["at"]) - start <= 240
    assert abs(parse_time(final["start"]) - start) <= 60 + (120 if scenario.effect in (
        "throttling",) else 0)
    assert final["end"] is not None
    assert abs(parse_time(final["end"]) - end) <= 90
    assert final["probes_affected"] >= 3
    assert final["confidence"] > 0.9
    if scenario.effect == "block":
        assert final["evidence"]["targets"] == ["social"]
        assert final["evidence"]["method"] == "dns"
    if scenario.access is not None:
        assert final["evidence"]["access"] == scenario.access
    if scenario.entity_type not in ("asn", "asn_subdivision"):
        assert len(final["asns_affected"]) >= 2


def test_replay_is_deterministic() -> None:
    scenario = CASES[0][0]
    first, second = run(stream(scenario)), run(list(stream(scenario)))
    assert first == second
    ids = {t["event"]["id"] for t in first}
    assert len(ids) == 1


def test_an_event_widens_when_its_city_follows_its_isp() -> None:
    # seed 2: the city's ISP goes dark 30 s before its mobile probes; the event opened on
    # the ISP-in-province is widened (same id) to the city once the city is down as a whole
    city = next(c[0] for c in CASES if c[0].name == "city blackout")
    lines, _ = build(FleetSpec(), [city], 3.0, seed=2)
    transitions = run(list(lines))
    assert rows(transitions) == [
        ("opened", "suspected", "blackout", "asn_subdivision", "AS64500/MM-01", None),
        ("updated", "suspected", "blackout", "city", "MM-01/City1-MM-01", None),
        ("updated", "confirmed", "blackout", "city", "MM-01/City1-MM-01", None),
        ("resolved", "resolved", "blackout", "city", "MM-01/City1-MM-01", None)]
    assert len({t["event"]["id"] for t in transitions}) == 1
    assert transitions[1]["event"]["evidence"]["widened_from"][0]["code"] == "AS64500/MM-01"
