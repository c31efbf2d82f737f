"""International cut, live: every international target of a probe failing while a domestic
one works and its gateway answers, from a probe whose collector is at home (its uploads still
arrive without an international link; a probe whose uploads cross one proves, by arriving,
that international links work, and a cut shows in its backlog instead)."""

from __future__ import annotations

from collections.abc import Mapping, Set

from cutwatch.detectors import conditions as cond
from cutwatch.detectors.decide import Verdict
from cutwatch.detectors.entities import Entity
from cutwatch.detectors.model import Kind
from cutwatch.detectors.params import Params
from cutwatch.detectors.signals.base import ConditionEdges, EngineView, Opening
from cutwatch.detectors.state import DOMESTIC, INTERNATIONAL, ProbeState, TargetState


def holds(probe: ProbeState, targets: Mapping[str, TargetState], params: Params) -> bool:
    # the batch carrying these results reached the collector: from a probe whose uploads
    # cross an international link, that is an international success newer than any of them
    if probe.info.collector_abroad:
        return False
    return cut_pattern(targets, params)


def cut_pattern(targets: Mapping[str, TargetState], params: Params) -> bool:
    """Every international target failing while a domestic one works: what a cut of the
    international links looks like from one probe, wherever its collector is."""
    intl = [t for t in targets.values() if t.scope == INTERNATIONAL]
    dom_ok = any(t.scope == DOMESTIC and t.fail_run == 0 and t.n_ok for t in targets.values())
    return bool(intl) and dom_ok and all(t.fail_run >= params.fail_min_results for t in intl)


class International(ConditionEdges):
    name = "international"
    raises = "international"
    kind: Kind = "international_cut"
    params = ("min_probes", "open_fraction", "churn_floor", "max_surprise", "part_fraction",
              "part_min_probes", "min_asns", "network_surprise")

    def probe_condition(self, probe: ProbeState, targets: Mapping[str, TargetState],
                        params: Params) -> dict[str, str] | None:
        return {} if holds(probe, targets, params) else None

    def judge(self, view: EngineView, ent: Entity, churn: float) -> Verdict | None:
        affected = ent.conditions.get(self.raises, set())
        if not cond.enough(view, ent, affected):
            return None
        return cond.judge_live(view, ent, self.raises, affected)

    def describe(self, view: EngineView, ent: Entity, members: Set[int]) -> Opening:
        return Opening(cond.onset(view, members), {"signal": self.raises}, frozenset(members))

    def ended(self, view: EngineView, members: set[int], start: float, now: float) -> float:
        return cond.ended(view, members, start, now)


SIGNAL = International()
