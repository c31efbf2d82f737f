"""IODA country signals -> replay stream: a simulated fleet whose reporting share follows one.

IODA publishes, per country, the share of its usual level that each signal (active probing,
BGP, ...) reaches, in 30-minute steps. A fleet of probes inside the country is made to follow
the active-probing curve: each probe has a rank, and it is dark (its uploads fail, its
international targets fail, domestic ones still answer: a national-intranet shutdown) while
the curve is below that rank. Which probes go first is the ``order``: network by network,
province by province, or at random. The rest is the simulator's (``simulate.py``).
"""

from __future__ import annotations

import bisect
import csv
import heapq
import random
import statistics
from collections.abc import Iterator
from typing import Literal, TextIO

from cutwatch.detectors.fleet import FleetSpec, SimProbe, build_fleet
from cutwatch.detectors.model import parse_time
from cutwatch.detectors.simulate import Effect, churn_effects, probe_line, probe_lines

ACTIVE_PROBING = "Active Probing (#/24s Up)"
Order = Literal["network", "province", "random"]
Curve = tuple[list[float], list[float]]  # times, values (blank rows left out)
CEILING = 0.9
"""Highest rank of a probe: the curve's ordinary wobble (a few percent under its normal)
darkens no one, and a curve back at this share of normal has every probe back."""


def read_signal(source: TextIO, column: str = ACTIVE_PROBING) -> Curve:
    """(times, values) of one column of an IODA export; blank cells are skipped."""
    times: list[float] = []
    values: list[float] = []
    for number, row in enumerate(csv.DictReader(source), 2):
        try:
            at = parse_time(row["Time (UTC)"].replace(" ", "T") + "Z")
            text = (row.get(column) or "").strip()
        except (KeyError, ValueError, AttributeError):
            raise ValueError(f"line {number}: not an IODA signal row with {column!r}") from None
        if not text:
            continue
        try:
            values.append(float(text))
        except ValueError:
            raise ValueError(f"line {number}: {column} {text!r} is not a number") from None
        times.append(at)
    return times, values


def level_at(curve: Curve, at: float) -> float:
    """The curve at ``at``, linear between its points, flat beyond its ends."""
    times, values = curve
    i = bisect.bisect_right(times, at)
    if i == 0:
        return values[0]
    if i == len(times):
        return values[-1]
    t0, t1, v0, v1 = times[i - 1], times[i], values[i - 1], values[i]
    return v0 + (v1 - v0) * (at - t0) / (t1 - t0)


def dark_spans(curve: Curve, rank: float, start: float, end: float, normal: float,
               step: float = 60.0) -> list[tuple[float, float]]:
    """Intervals of [start, end) in which the curve, as a share of ``normal``, is below
    ``rank`` (sampled every ``step`` seconds)."""
    spans: list[tuple[float, float]] = []
    since: float | None = None
    t = start
    while t < end:
        dark = level_at(curve, t) / normal < rank
        if dark and since is None:
            since = t
        elif not dark and since is not None:
            spans.append((since, t))
            since = None
        t += step
    if since is not None:
        spans.append((since, end))
    return spans


def normal_level(curve: Curve, before: float) -> float:
    """The curve's normal: the median of its values before ``before`` (its own past)."""
    past = [v for t, v in zip(*curve, strict=True) if t < before] or curve[1]
    return statistics.median(past)


def restored_at(curve: Curve, after: float, normal: float,
                share: float = CEILING) -> float | None:
    """The first point at or after ``after`` at which the curve is back at ``share`` of
    ``normal``: the end of a staged restoration, when its last stage is done."""
    for t, v in zip(*curve, strict=True):
        if t >= after and v >= share * normal:
            return t
    return None


def ranks(probes: list[SimProbe], order: Order, rng: random.Random,
          ceiling: float = CEILING) -> dict[str, float]:
    """Each probe's rank in (0, ``ceiling``]: the first to go dark have the highest. Below
    ``ceiling`` so that the curve's ordinary wobble (a few percent) darkens no one."""
    def key(p: SimProbe) -> tuple[object, ...]:
        tie = rng.random()
        if order == "network":
            return (p.info.asn or 0, tie)
        if order == "province":
            return (p.info.subdivision or "", tie)
        return (tie,)

    ordered = sorted(probes, key=key)
    n = len(ordered)
    return {p.info.id: ceiling * (n - i - 0.5) / n for i, p in enumerate(ordered)}


def ioda_stream(curve: Curve, start: float, end: float, country: str = "IR",
                probes: int = 40, order: Order = "network", seed: int = 1,
                cadence_s: float = 60.0, churn_per_day: float = 0.3) -> Iterator[str]:
    """Replay stream lines of a fleet in ``country`` following ``curve`` over [start, end).

    The curve's normal level is the median of its values before ``start`` (its own past)."""
    rng = random.Random(seed)
    spec = FleetSpec(countries=(country,), subdivisions=5, cities=2,
                     probes_per_country=(probes,), fixed_asns=3, mobile_asns=2,
                     night_off_share=0.0, cadence_s=cadence_s)
    fleet = build_fleet(spec, rng)
    normal = normal_level(curve, start)
    rank = ranks(fleet, order, rng)
    effects: dict[str, list[Effect]] = {}
    for p in fleet:
        eff = churn_effects(rng, start, end, churn_per_day)
        for a, b in dark_spans(curve, rank[p.info.id], start, end, normal):
            eff += [Effect(a, b, "upload_fail"), Effect(a, b, "international_fail")]
        effects[p.info.id] = eff
    for p in fleet:
        yield probe_line(p)
    streams = [probe_lines(p, effects[p.info.id], start, end, cadence_s, seed * 100_003 + n)
               for n, p in enumerate(fleet)]
    for _, line in heapq.merge(*streams):
        yield line
