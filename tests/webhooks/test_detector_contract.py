"""Contract with the detector: its real transitions are valid payloads and filter as expected.

The detector's own scenario generator and replay engine produce the transitions; each one
goes through the payload builder and the documented schema of its type.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cutwatch.api.webhooks import payloads, schemas
from cutwatch.api.webhooks.filters import Filters, matches


@pytest.mark.slow
def test_detector_transitions_are_valid_payloads_and_filter_by_place() -> None:
    from cutwatch.detectors.fleet import FleetSpec
    from cutwatch.detectors.replay import replay
    from cutwatch.detectors.scenarios import build, positives

    chosen = [s for s in positives() if s.kind == "blackout" and s.access is None and (
        (s.entity_type, s.code) in {("subdivision", "MM-01"), ("asn", "AS64500")})]
    assert len(chosen) == 2
    lines, _truth = build(FleetSpec(), chosen, hours=5.0)
    transitions = list(replay(lines))
    assert transitions, "the detector raised nothing for two positive scenarios"
    for item in transitions:
        schemas.validate(payloads.build(item, "https://c.example", datetime.now(UTC)))

    def delivered(wanted: dict[str, object]) -> set[str]:
        filters = Filters.model_validate(wanted)
        return {t.event.entity["code"] for t in transitions
                if matches(filters, t, already_told=False)}

    assert {t.event.entity["code"] for t in transitions} >= {"MM-01", "AS64500"}
    # An ISP may span countries, so a country filter does not take a whole-ASN event.
    assert delivered({"entities": [{"type": "country", "code": "MM", "children": True}]}) == {
        "MM-01"}
    assert delivered({"entities": [{"type": "asn", "code": "64500", "children": True}]}) == {
        "AS64500"}
    assert delivered({"entities": [{"type": "country", "code": "TH", "children": True}]}) == (
        set())
