"""Throttling, live: ``throttle_min_results`` consecutive results of one target at
``throttle_factor`` x the probe's own baseline and ``throttle_min_extra_ms`` above it; kept
only where controls outside the entity reach that target at their usual speed (a target slow
for everyone raises nothing)."""

from __future__ import annotations

from collections.abc import Mapping, Set

from cutwatch.detectors import conditions as cond
from cutwatch.detectors.classify import quantile
from cutwatch.detectors.decide import Verdict
from cutwatch.detectors.entities import Entity
from cutwatch.detectors.model import Kind
from cutwatch.detectors.params import Params
from cutwatch.detectors.signals.base import ConditionEdges, EngineView, Opening
from cutwatch.detectors.state import ProbeState, TargetState


class Throttling(ConditionEdges):
    name = "throttling"
    raises = "throttling"
    kind: Kind = "throttling"
    params = ("throttle_min_results", "throttle_factor", "throttle_min_extra_ms", "min_probes",
              "open_fraction", "control_min_probes", "control_ok_fraction", "churn_floor",
              "max_surprise", "part_fraction", "part_min_probes", "min_asns", "network_surprise")

    def probe_condition(self, probe: ProbeState, targets: Mapping[str, TargetState],
                        params: Params) -> dict[str, str] | None:
        slow = sorted(n for n, t in targets.items() if t.slow_run >= params.throttle_min_results)
        return dict.fromkeys(slow, "") if slow else None

    def judge(self, view: EngineView, ent: Entity, churn: float) -> Verdict | None:
        affected = ent.conditions.get(self.raises, set())
        if not cond.enough(view, ent, affected):
            return None
        slow = {t for p in affected for t in cond.detail(view, p, self.raises)}
        fast_elsewhere = {t for t in slow if cond.controlled(view, ent, t, slow=True)}
        affected = {p for p in affected
                    if not fast_elsewhere.isdisjoint(cond.detail(view, p, self.raises))}
        return cond.judge_live(view, ent, self.raises, affected)

    def describe(self, view: EngineView, ent: Entity, members: Set[int]) -> Opening:
        # each probe's first slow measurement of the targets that make its condition, read
        # at the early edge quantile: the first probes to slow down, not one probe's blip
        firsts: list[float] = []
        targets: set[str] = set()
        for p in members:
            slow = cond.detail(view, p, self.raises)
            states = view.probes[p].targets or {}
            since = [s.slow_since for t in slow if (s := states.get(t)) is not None and s.slow_run]
            if since:
                firsts.append(min(since))
            targets.update(slow)
        start = quantile(firsts, view.params.edge_quantile) if firsts else view.clock
        return Opening(start, {"signal": self.raises, "targets": sorted(targets)},
                       frozenset(members))

    def ended(self, view: EngineView, members: set[int], start: float, now: float) -> float:
        # each probe's end lies between its last slow measurement and the fast one after it;
        # the middle of the bracket nearly all agree on (the median fast one when none)
        lows: list[float] = []
        highs: list[float] = []
        for p in members:
            # the probe's last slow result of the episode, whichever target it was, and the
            # first fast one after it (a small page can come fast in a throttled round: its
            # own run ending early must not end the probe's throttling)
            slowed = [t for t in (view.probes[p].targets or {}).values()
                      if t.slow_until >= start]
            if not slowed or any(t.slow_run for t in slowed):
                continue
            last = max(t.slow_until for t in slowed)
            after = [t.fast_since for t in slowed if t.fast_since > last]
            if after:
                lows.append(last)
                highs.append(min(after))
        if not highs:
            return now
        q = view.params.edge_quantile
        lo, hi = quantile(lows, 1 - q), quantile(highs, q)
        return (lo + hi) / 2 if lo <= hi else quantile(highs, 0.5)


SIGNAL = Throttling()
