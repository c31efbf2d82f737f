"""Service block, live: a target failing while the probe's other targets work, with the
method from the failure (dns | tcp | tls | http); kept only where probes outside the entity
reach the target (a target down for everyone raises nothing)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Set

from cutwatch.detectors import conditions as cond
from cutwatch.detectors.decide import Verdict
from cutwatch.detectors.entities import Entity
from cutwatch.detectors.model import Kind
from cutwatch.detectors.params import Params
from cutwatch.detectors.signals import international
from cutwatch.detectors.signals.base import ConditionEdges, EngineView, Opening
from cutwatch.detectors.state import LAN, ProbeState, TargetState


class Block(ConditionEdges):
    name = "block"
    raises = "block"
    kind: Kind = "service_block"
    params = ("min_probes", "open_fraction", "control_min_probes", "control_ok_fraction",
              "churn_floor", "max_surprise", "part_fraction", "part_min_probes", "min_asns",
              "network_surprise")

    def probe_condition(self, probe: ProbeState, targets: Mapping[str, TargetState],
                        params: Params) -> dict[str, str] | None:
        if international.holds(probe, targets, params):
            return None  # every international target failing is a cut, not blocks
        if probe.gap is not None and international.cut_pattern(targets, params):
            # A backlog after a silence, every international target failing in it: what kept
            # the probe from uploading to its collector abroad (an international cut, which
            # the gap's verdict names), not blocks; fresh results decide once it is judged.
            return None
        failing = {name: t for name, t in targets.items()
                   if t.scope != LAN and t.fail_run >= params.fail_min_results}
        working = any(t.scope != LAN and t.fail_run == 0 and t.n_ok for t in targets.values())
        if not (failing and working):
            return None
        return {name: t.method for name, t in sorted(failing.items())}

    def judge(self, view: EngineView, ent: Entity, churn: float) -> Verdict | None:
        affected = ent.conditions.get(self.raises, set())
        if not cond.enough(view, ent, affected):
            return None
        blocked = cond.blocked_targets(view, ent, affected)
        if not blocked:
            return None
        affected = {p for p in affected
                    if not blocked.keys().isdisjoint(cond.detail(view, p, self.raises))}
        return cond.judge_live(view, ent, self.raises, affected)

    def describe(self, view: EngineView, ent: Entity, members: Set[int]) -> Opening:
        blocked = cond.blocked_targets(view, ent, members)
        return Opening(cond.onset(view, members), {
            "signal": self.raises, "targets": sorted(blocked),
            "methods": sorted(set(blocked.values())),
            "method": Counter(blocked.values()).most_common(1)[0][0] if blocked else None},
            frozenset(members))

    def ended(self, view: EngineView, members: set[int], start: float, now: float) -> float:
        return cond.ended(view, members, start, now)


SIGNAL = Block()
