"""Entity verdicts on live in-probe conditions: international cut, service block, throttling.

A block needs controls: the same target measured fine from outside the entity's country.
A target failing from the controls too is down for everyone, and raises nothing.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import TYPE_CHECKING, Any

from detectors.decide import Verdict, judge
from detectors.entities import Entity
from detectors.state import ALIVE

if TYPE_CHECKING:
    from detectors.engine import Engine


def _detail(eng: Engine, probe: int, signal: str) -> dict[str, str]:
    """The targets (and methods) of one probe's live condition."""
    return (eng.probes[probe].conditions or {}).get(signal, {})


def controlled(eng: Engine, ent: Entity, target: str, slow: bool = False) -> bool:
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
        if state.fail_run >= 2 or (slow and state.slow_run >= params.throttle_min_results):
            bad += 1
        elif state.fail_run == 0 and state.n_ok:
            ok += 1
    return ok >= params.control_min_probes and ok >= params.control_ok_fraction * (ok + bad)


def blocked_targets(eng: Engine, ent: Entity, members: set[int]) -> dict[str, str]:
    """Targets failing from the entity's affected probes while controls reach them."""
    methods: dict[str, Counter[str]] = {}
    for p in members:
        for name, method in _detail(eng, p, "block").items():
            methods.setdefault(name, Counter())[method] += 1
    return {name: c.most_common(1)[0][0] for name, c in sorted(methods.items())
            if controlled(eng, ent, name)}


def judge_condition(eng: Engine, ent: Entity, signal: str) -> Verdict | None:
    params = eng.params
    affected = ent.conditions.get(signal, set())
    if len(affected) < params.min_probes or len(affected) < params.open_fraction * ent.alive:
        return None
    if signal == "block":
        blocked = blocked_targets(eng, ent, affected)
        if not blocked:
            return None
        affected = {p for p in affected if not blocked.keys().isdisjoint(_detail(eng, p, signal))}
    elif signal == "throttling":
        slow = {t for p in affected for t in _detail(eng, p, signal)}
        fast_elsewhere = {t for t in slow if controlled(eng, ent, t, slow=True)}
        affected = {p for p in affected if not fast_elsewhere.isdisjoint(_detail(eng, p, signal))}
    ents, probes = eng.index.entities, eng.probes
    unaffected = (p for p in ent.members if probes[p].liveness == ALIVE and p not in affected)
    return judge(ent, affected, unaffected, ent.alive, params.churn_floor,
                 lambda i: (len(ents[i].conditions.get(signal, ())), ents[i].alive),
                 eng.asn_of, params)


def describe(eng: Engine, ent: Entity, signal: str,
             members: set[int]) -> tuple[float, dict[str, Any]]:
    """Start time and evidence of a condition event."""
    # each probe's onset lies between its last success and its first failure of a target;
    # probes measure at different moments, so together they bracket it tightly
    lows: list[float] = []
    highs: list[float] = []
    for p in members:
        targets = eng.probes[p].targets or {}
        failing = [t for t in targets.values() if t.fail_run >= 2]
        if failing:
            first = min(failing, key=lambda t: t.fail_since)
            highs.append(first.fail_since)
            lows.append(first.last_ok_at or first.fail_since)
    start = _midpoint(lows, highs) if highs else eng.clock
    evidence: dict[str, Any] = {"signal": signal}
    if signal == "block":
        blocked = blocked_targets(eng, ent, members)
        evidence["targets"] = sorted(blocked)
        evidence["methods"] = sorted(set(blocked.values()))
        evidence["method"] = Counter(blocked.values()).most_common(1)[0][0] if blocked else None
    elif signal == "throttling":
        evidence["targets"] = sorted({t for p in members for t in _detail(eng, p, signal)})
        # the slow run began that many of the probes' own measurement rounds ago (not a
        # fixed minute each: the default schedule measures every 30 s)
        pace = statistics.median(eng.probes[p].measure_every or 60.0 for p in members)
        start = eng.clock - eng.params.throttle_min_results * pace
    return start, evidence


def ended(eng: Engine, members: set[int], start: float, now: float) -> float:
    """End of a condition event: between the probes' last failures and first successes."""
    lows: list[float] = []
    highs: list[float] = []
    for p in members:
        failed = [t for t in (eng.probes[p].targets or {}).values()
                  if t.last_fail_at >= start and t.last_ok_at > t.last_fail_at]
        if failed:
            lows.append(max(t.last_fail_at for t in failed))
            highs.append(min(t.last_ok_at for t in failed))
    return _midpoint(lows, highs) if highs else now


def _midpoint(lows: list[float], highs: list[float]) -> float:
    """The middle of the bracket nearly all probes agree on (after 90% of the lows, before
    90% of the highs); the median high when they do not overlap."""
    lo, hi = sorted(lows)[int(0.9 * (len(lows) - 1))], sorted(highs)[int(0.1 * len(highs))]
    return (lo + hi) / 2 if lo <= hi else statistics.median(highs)
