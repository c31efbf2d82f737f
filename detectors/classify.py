"""Classification from backlogs: what each returning probe measured while it was silent.

A probe that kept measuring with its gateway up and nothing beyond it proves a blackout;
domestic up and international down, an international cut; no measurements in the gap (or
the gateway down too), a power outage; everything fine, no shutdown at all (only its uploads
failed: the collector was unreachable). The event takes the kind most of its probes agree on.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

from cutwatch.detectors.model import Kind
from cutwatch.detectors.params import Params
from cutwatch.detectors.state import DOMESTIC, INTERNATIONAL, LAN, GapRecord

# What a probe's gap says, and what an event of that label becomes.
KIND_OF: dict[str, Kind] = {"blackout": "blackout", "international_cut": "international_cut",
                            "power": "power_outage"}
# Fewer probes than this have no inner ranks to trim their extremes to.
_TRIM_MIN = 3
# A measurement hole's edges are bracketed to within a quarter of the hole at most.
_HOLE_STEP = 4


@dataclass(frozen=True, slots=True)
class GapVerdict:
    """One probe's reading of its gap: a label, and brackets around the onset and the end
    (the last success and first failure, the last failure and first success again)."""

    label: str  # blackout | international_cut | power | none | unknown | nodata
    onset_lo: float
    onset_hi: float
    end_lo: float
    end_hi: float

    @property
    def onset(self) -> float:
        return (self.onset_lo + self.onset_hi) / 2

    @property
    def end(self) -> float:
        return (self.end_lo + self.end_hi) / 2


def _fail_share(results: list[tuple[float, int, bool]], scope: int) -> float | None:
    values = [ok for _, s, ok in results if s == scope]
    return None if not values else 1 - sum(values) / len(values)


def judge_gap(gap: GapRecord, bucket: float, measured_before: bool,
              params: Params) -> GapVerdict:
    verdict = _read_gap(gap, bucket, measured_before, params)
    if gap.rebooted and verdict.label in ("none", "unknown"):
        # the probe restarted in its gap and nothing else explains the silence: power
        return GapVerdict("power", verdict.onset_lo, verdict.onset_hi, verdict.end_lo,
                          verdict.end_hi)
    return verdict


def _read_gap(gap: GapRecord, bucket: float, measured_before: bool,
              params: Params) -> GapVerdict:
    end = gap.end if gap.end is not None else gap.start
    span = max(end - gap.start, bucket)
    within = sorted(r for r in gap.results if gap.start - bucket <= r[0] <= end)
    if not within:
        if not measured_before:
            return GapVerdict("nodata", gap.start, gap.start, end, end)
        return GapVerdict("power", gap.start, gap.start, end, end)
    times = [t for t, _, _ in within]
    covered = len({int((t - gap.start) // bucket) for t in times if t >= gap.start})
    if covered / max(1.0, span // bucket) < params.gap_coverage_power:
        hole_from, hole_to = _largest_hole([gap.start, *times, end])
        step = min(bucket, (hole_to - hole_from) / _HOLE_STEP)
        return GapVerdict("power", hole_from, hole_from + step, hole_to - step, hole_to)
    lan_fail = _fail_share(within, LAN)
    if lan_fail is not None and lan_fail > params.gap_lan_fail_power:
        fails = [t for t, s, ok in within if s == LAN and not ok]
        return GapVerdict("power", fails[0], fails[0], fails[-1], fails[-1])
    ext = [r for r in within if r[1] != LAN]
    fail_times = [t for t, _, ok in ext if not ok]
    if not fail_times:
        return GapVerdict("none" if ext else "unknown", gap.start, gap.start, end, end)
    first_fail, last_fail = fail_times[0], fail_times[-1]
    before = [t for t, _, ok in ext if ok and t < first_fail]
    after = [t for t, _, ok in ext if ok and t > last_fail]
    last_ok = before[-1] if before else max(gap.prior_ok, gap.start - bucket)
    first_ok = after[0] if after else end
    brackets = (last_ok, first_fail, last_fail, first_ok)
    if (last_fail - first_fail + bucket) < params.gap_fail_span * span:
        return GapVerdict("none", *brackets)
    period = [r for r in ext if first_fail <= r[0] <= last_fail]
    intl, dom = _fail_share(period, INTERNATIONAL), _fail_share(period, DOMESTIC)
    down, up = params.gap_down_share, params.gap_up_max_fail
    if intl is not None and intl >= down and dom is not None and dom <= up:
        return GapVerdict("international_cut", *brackets)
    if (intl is None or intl >= down) and (dom is None or dom >= down):
        return GapVerdict("blackout", *brackets)
    return GapVerdict("unknown", *brackets)


def _largest_hole(times: list[float]) -> tuple[float, float]:
    best = (times[0], times[-1])
    width = -1.0
    for a, b in itertools.pairwise(times):
        if b - a > width:
            best, width = (a, b), b - a
    return best


@dataclass(frozen=True, slots=True)
class EventVerdict:
    label: str
    voters: int
    agree: int
    start: float
    end: float | None


def judge_event(verdicts: list[GapVerdict], members: int, params: Params,
                start_within: tuple[float, float] | None = None,
                end_before: float | None = None) -> EventVerdict | None:
    """The label most returning probes agree on, with refined start and end.

    Probes measure at different moments, so the onset lies after (nearly) all their last
    successes and before (nearly) all their first failures: the middle of that bracket
    (10%/90% quantiles, for robustness) is far tighter than any one probe's; when the
    brackets do not overlap (a staggered onset or restoration), the 10% quantile of the
    probes' onsets and the 90% quantile of their ends. ``start_within``
    (the bracket the uploads' own silence gives) and ``end_before`` (uploads arrived again)
    narrow it further.
    """
    votes = [v for v in verdicts if v.label != "nodata"]
    if len(votes) < min(params.min_probes, members) or not votes:
        return None
    label, agree = Counter(v.label for v in votes).most_common(1)[0]
    if agree < params.confirm_share * len(votes) or label == "unknown":
        return None
    chosen = [v for v in votes if v.label == label]
    q = params.edge_quantile
    lo = quantile([v.onset_lo for v in chosen], 1 - q)
    hi = quantile([v.onset_hi for v in chosen], q)
    if start_within is not None and start_within[0] <= hi and start_within[1] >= lo:
        lo, hi = max(lo, start_within[0]), min(hi, start_within[1])
    # brackets that do not overlap: the probes went dark (came back) at different times, a
    # staggered onset (restoration): the event spans from its first tenth to its last tenth,
    # but never from one probe's extreme (with 3 probes the 90 % rank is the last one, and
    # one probe whose first check after the repair failed would move the end)
    k = max(1, int(q * (len(chosen) - 1) + 0.5)) if len(chosen) >= _TRIM_MIN else 0
    start = (lo + hi) / 2 if lo <= hi else sorted(v.onset for v in chosen)[k]
    lo = quantile([v.end_lo for v in chosen], 1 - q)
    hi = quantile([v.end_hi for v in chosen], q)
    if end_before is not None and end_before >= lo:
        hi = min(hi, end_before)
    end = (lo + hi) / 2 if lo <= hi else sorted(v.end for v in chosen)[-1 - k]
    return EventVerdict(label, len(votes), agree, start, end)


def quantile(values: list[float], q: float) -> float:
    """The value at rank ``q`` (nearest rank) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]
