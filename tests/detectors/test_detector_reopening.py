"""A long shutdown with an hour's reopening: the event keeps its start.

Replaying the Iran data through its restoration showed the country event's start rewritten
to a later day: probes back for an hour during the shutdown, then dark again, delivered the
backlogs of their second silence, and the event took its start from them. Gaps begun after an
event opened may vote on its kind but do not move its start.
"""

from __future__ import annotations

from cutwatch.detectors.ioda import ioda_stream
from cutwatch.detectors.model import parse_time
from cutwatch.detectors.replay import replay

H = 3600.0
T = 1_767_000_600.0  # a half hour: the drop runs from here to T + 30 min


def curve() -> tuple[list[float], list[float]]:
    """Reachable share of a country's /24s every 30 min: normal for three days, 5 % from T
    (after a half-hour fall), 60 % for an hour from T + 6 h, 5 % again, normal from T + 12 h."""
    times, values = [], []
    t = T - 3 * 24 * H
    while t < T + 20 * H:
        rel = t - T
        value = 100.0 if rel <= 0 else 5.0
        if 6 * H < rel <= 7 * H:
            value = 60.0
        if rel > 12 * H:
            value = 100.0
        times.append(t)
        values.append(value)
        t += 1800
    return times, values


def test_a_reopening_inside_a_shutdown_does_not_move_its_start() -> None:
    lines = ioda_stream(curve(), T - 26 * H, T + 16 * H, probes=30, cadence_s=300.0,
                        order="network")
    country = [t for t in (tr.to_json() for tr in replay(lines))
               if t["event"]["entity"]["code"] == "IR"]
    assert country, "the shutdown raises a country event (positive control)"
    assert len({t["event"]["id"] for t in country}) == 1
    kinds = {t["event"]["kind"] for t in country}
    assert "international_cut" in kinds, kinds  # the backlogs, reopening included, voted
    # the fall runs from T to T + 30 min; every start the event ever gave lies in it (give or
    # take the brackets), never at the reopening (T + 7 h)
    starts = [parse_time(t["event"]["start"]) for t in country]
    assert all(T - 0.5 * H <= s <= T + 0.75 * H for s in starts), \
        [round((s - T) / H, 2) for s in starts]
    resolved = [t for t in country if t["action"] == "resolved"]
    assert resolved
    assert parse_time(resolved[0]["event"]["end"]) >= T + 11 * H
