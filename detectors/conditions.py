"""What the live signals (international cut, service block, throttling) share: the evidence
threshold, the entity verdict, controls, and the brackets of a condition's start and end.

A block needs controls: the same target measured fine from outside the entity's country.
A target failing from the controls too is down for everyone, and raises nothing.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Set
from typing import TYPE_CHECKING

from cutwatch.detectors.decide import Verdict, judge
from cutwatch.detectors.entities import Entity
from cutwatch.detectors.state import ALIVE

if TYPE_CHECKING:
    from cutwatch.detectors.signals.base import EngineView


def detail(eng: EngineView, probe: int, signal: str) -> dict[str, str]:
    """The targets (and methods) of one probe's live condition."""
    return (eng.probes[probe].conditions or {}).get(signal, {})


def controlled(eng: EngineView, ent: Entity, target: str, slow: bool = False) -> bool:
    """The target is reached (fast, with ``slow``) from outside the entity: it is not down
    (or slow) for everyone."""
    params = eng.params
    ok = bad = 0
    for p in eng.measuring.get(target, ()):
        probe = eng.probes[p]
        if probe.liveness != ALIVE or probe.targets is None:
            continue
        if p in ent.members:
            continue
        state = probe.targets.get(target)
        if state is None:
            continue
        if state.fail_run >= params.fail_min_results or \
                (slow and state.slow_run >= params.throttle_min_results):
            bad += 1
        elif state.fail_run == 0 and state.n_ok:
            ok += 1
    return ok >= params.control_min_probes and ok >= params.control_ok_fraction * (ok + bad)


def blocked_targets(eng: EngineView, ent: Entity, members: Set[int]) -> dict[str, str]:
    """Targets failing from the entity's affected probes while controls reach them."""
    methods: dict[str, Counter[str]] = {}
    for p in members:
        for name, method in detail(eng, p, "block").items():
            methods.setdefault(name, Counter())[method] += 1
    return {name: c.most_common(1)[0][0] for name, c in sorted(methods.items())
            if controlled(eng, ent, name)}


def enough(eng: EngineView, ent: Entity, affected: Set[int]) -> bool:
    """The evidence threshold of every live condition: ``min_probes`` and ``open_fraction``
    of the entity's alive probes."""
    params = eng.params
    return len(affected) >= params.min_probes and len(affected) >= params.open_fraction * ent.alive


def judge_live(eng: EngineView, ent: Entity, signal: str, affected: Set[int]) -> Verdict | None:
    """The entity's verdict on a live condition held by ``affected`` (its probes whose
    condition counts, once the signal has set aside what controls explain)."""
    params = eng.params
    ents, probes = eng.index.entities, eng.probes
    unaffected = (p for p in ent.members if probes[p].liveness == ALIVE and p not in affected)
    return judge(ent, affected, unaffected, ent.alive, params.churn_floor,
                 lambda i: (len(ents[i].conditions.get(signal, ())), ents[i].alive),
                 eng.asn_of, params)


def onset(eng: EngineView, members: Set[int]) -> float:
    """Start of a condition event: each probe's onset lies between its last success and its
    first failure of a target; probes measure at different moments, so together they bracket
    it tightly."""
    lows: list[float] = []
    highs: list[float] = []
    for p in members:
        targets = eng.probes[p].targets or {}
        failing = [t for t in targets.values() if t.fail_run >= eng.params.fail_min_results]
        if failing:
            first = min(failing, key=lambda t: t.fail_since)
            highs.append(first.fail_since)
            lows.append(first.last_ok_at or first.fail_since)
    return _midpoint(lows, highs, eng.params.edge_quantile) if highs else eng.clock


def ended(eng: EngineView, members: Set[int], start: float, now: float) -> float:
    """End of a condition event: between the probes' last failures and first successes."""
    lows: list[float] = []
    highs: list[float] = []
    for p in members:
        failed = [t for t in (eng.probes[p].targets or {}).values()
                  if t.last_fail_at >= start and t.last_ok_at > t.last_fail_at]
        if failed:
            lows.append(max(t.last_fail_at for t in failed))
            highs.append(min(t.last_ok_at for t in failed))
    return _midpoint(lows, highs, eng.params.edge_quantile) if highs else now


def _midpoint(lows: list[float], highs: list[float], q: float) -> float:
    """The middle of the bracket nearly all probes agree on (after 90% of the lows, before
    90% of the highs, with ``q`` = 0.1); the median high when they do not overlap."""
    lo, hi = sorted(lows)[int((1 - q) * (len(lows) - 1))], sorted(highs)[int(q * len(highs))]
    return (lo + hi) / 2 if lo <= hi else statistics.median(highs)
