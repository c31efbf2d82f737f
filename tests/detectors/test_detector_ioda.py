"""Real data: Iran's national shutdown of 8 January 2026, as IODA's active probing saw it.

A simulated fleet in Iran follows the active-probing curve (``detectors/ioda.py``): probes
go dark province by province from 16:00 UTC, keep measuring (domestic targets answer,
international ones do not), and come back with their backlogs as the curve recovers in
stages (an hour's reopening on 24 January, a third of the country on the 27th at 00:00,
most of it by 10:00, the rest on the 28th).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from cutwatch.detectors.fleet import FleetSpec, build_fleet
from cutwatch.detectors.ioda import (
    dark_spans,
    level_at,
    normal_level,
    ranks,
    read_signal,
    restored_at,
)
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


def test_a_staged_restoration_ends_when_its_last_stage_is_done() -> None:
    # ordinary 96-100, a fall to 4, back to 36 (a third), 86, then 95: the end is at 95
    curve = ([0.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0],
             [96.0, 100.0, 98.0, 4.0, 36.0, 86.0, 95.0, 97.0])
    normal = normal_level(curve, 250.0)
    assert normal == 98.0
    assert restored_at(curve, 300.0, normal) == 600.0  # 95 >= 0.9 x 98; 86 is not
    assert restored_at(curve, 300.0, normal, share=0.3) == 400.0
    assert restored_at(curve, 800.0, normal) is None


@pytest.mark.slow
def test_iran_through_the_staged_restoration(shared_data: Path) -> None:
    # 20 probes uploading every 10 min (not 40 every minute) keep three weeks, backlogs
    # included, to ~15 s; `cutwatch bench detect --data` runs 40 probes at 5 min
    curve = _curve(shared_data)
    onset = parse_time("2026-01-08T16:00:00Z")
    lines = stream(curve, parse_time("2026-01-07T16:00:00Z"),
                   parse_time("2026-01-28T12:00:00Z"), probes=20, order="province",
                   cadence_s=600.0)
    transitions = _run(list(lines))
    # a day of ordinary data first: nothing before the onset
    assert min(parse_time(t["at"]) for t in transitions) > onset
    opened = [t for t in transitions if t["action"] == "opened"]
    assert parse_time(opened[0]["at"]) <= onset + 1800  # the first province, in the fall
    country = [t for t in transitions if t["event"]["entity"]["type"] == "country"
               and t["event"]["entity"]["code"] == "IR"]
    assert parse_time(next(t for t in country if t["action"] == "opened")["at"]) \
        <= onset + 3600  # the country, while the curve reaches 7 %
    final = country[-1]["event"]
    # the backlogs (domestic targets reached, international ones not) name the kind
    assert final["kind"] == "international_cut"
    assert final["evidence"]["backlogs"]["verdict"] == "international_cut"
    assert final["status"] == "resolved"
    assert onset <= parse_time(final["start"]) <= onset + 3600
    # it stays open through the 18 dark days and the hour's reopening of 24 January, and
    # resolves in the restoration: after its first stage (27 Jan 00:00) and before the
    # last (back at 90 % of normal, 28 Jan 10:00), saying part of the country is still dark
    resolved = next(t for t in country if t["action"] == "resolved")
    first_stage = parse_time("2026-01-26T23:30:00Z")
    last_stage = restored_at(curve, onset + 86_400, normal_level(curve, onset - 86_400))
    assert last_stage == parse_time("2026-01-28T10:00:00Z")
    assert first_stage <= parse_time(resolved["at"]) <= last_stage
    assert first_stage <= parse_time(final["end"]) <= last_stage
    assert final["evidence"]["probes_still_silent"] >= 1
