"""Real data: Iran's national shutdown of 8 January 2026, as IODA's active probing saw it.

A simulated fleet in Iran follows the active-probing curve (``detectors/ioda.py``): probes
go dark province by province from 16:00 UTC, keep measuring (domestic targets answer,
international ones do not) and stay dark.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from cutwatch.detectors.fleet import FleetSpec, build_fleet
from cutwatch.detectors.ioda import dark_spans, level_at, ranks, read_signal
from cutwatch.detectors.ioda import ioda_stream as stream
from cutwatch.detectors.model import parse_time
from cutwatch.detectors.replay import replay


def _curve(shared_data: Path) -> tuple[list[float], list[float]]:
    with (shared_data / "ioda-iran-2026-01" / "signals.csv").open(encoding="utf-8") as f:
        return read_signal(f)


def _run(lines: list[str]) -> list[dict[str, Any]]:
    return [t.to_json() for t in replay(lines)]


@pytest.mark.slow
def test_staggered_national_shutdown_opens_a_country_event_early(shared_data: Path) -> None:
    curve = _curve(shared_data)
    lines = list(stream(curve, parse_time("2026-01-08T04:00:00Z"),
                        parse_time("2026-01-08T18:00:00Z"), order="province"))
    transitions = _run(lines)
    assert transitions
    first = min(parse_time(t["at"]) for t in transitions)
    assert first >= parse_time("2026-01-08T16:00:00Z")  # nothing during the ordinary day
    country = [t for t in transitions if t["event"]["entity"]["type"] == "country"
               and t["event"]["entity"].get("access") is None]
    assert country, "no country-level event"
    # the curve is at 53 % of normal at 16:30 and 7 % at 17:00: the country is named by 17:00
    assert parse_time(country[0]["at"]) <= parse_time("2026-01-08T17:00:00Z")
    event = country[-1]["event"]
    assert event["entity"]["code"] == "IR"
    assert any(t["event"]["evidence"].get("path") == "level" for t in transitions)
    assert event["probes_affected"] >= 0.8 * 40
    assert parse_time(event["start"]) <= parse_time("2026-01-08T16:15:00Z")
    assert event["end"] is None  # it lasts (restoration came weeks later)


@pytest.mark.slow
def test_an_ordinary_december_day_raises_nothing(shared_data: Path) -> None:
    curve = _curve(shared_data)
    lines = list(stream(curve, parse_time("2025-12-10T00:00:00Z"),
                        parse_time("2025-12-10T12:00:00Z"), order="random"))
    assert len(lines) > 20_000  # a positive control of the fleet itself: it reports
    assert _run(lines) == []


def test_probes_follow_the_curve_by_rank() -> None:
    curve = ([0.0, 1800.0, 3600.0], [96.0, 48.0, 0.0])
    assert level_at(curve, 900.0) == 72.0
    assert level_at(curve, -5.0) == 96.0
    assert level_at(curve, 9999.0) == 0.0
    # a probe of rank 0.5 is dark once the curve is below half of normal (96): from 1800 s
    assert dark_spans(curve, 0.5, 0.0, 3600.0, 96.0) == [(1860.0, 3600.0)]
    assert dark_spans(curve, 0.0, 0.0, 3600.0, 96.0) == []


def test_probes_go_dark_network_by_network() -> None:
    fleet = build_fleet(FleetSpec(countries=("IR",), probes_per_country=(20,)),
                        random.Random(1))
    rank = ranks(fleet, "network", random.Random(2))
    by_rank = sorted(fleet, key=lambda p: -rank[p.info.id])
    asns = [p.info.asn for p in by_rank]
    # each network's probes are contiguous in the order, and nobody goes dark at 90 %+
    assert [a for i, a in enumerate(asns) if i == 0 or asns[i - 1] != a] == sorted(set(asns))
    assert max(rank.values()) < 0.9
