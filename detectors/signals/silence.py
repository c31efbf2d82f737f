"""What the silence signals (burst, level) share: how a silence event opens (its onset
bracket from the uploads, its members) and where its start goes when it widens.

A silence is seen only through uploads that stop: each probe's onset lies between its last
arrival and the next one it owed, so the event's start is a bracket that the members'
backlogs judge later (``classify.judge_event``).
"""

from __future__ import annotations

from collections.abc import Sequence, Set

from cutwatch.detectors.classify import quantile
from cutwatch.detectors.entities import Entity
from cutwatch.detectors.signals.base import EngineView, Opening
from cutwatch.detectors.state import ALIVE


def opening(view: EngineView, ent: Entity, members: Set[int], path: str) -> Opening:
    """A silence event of ``ent`` opening now, its silent probes ``members`` (``path``: the
    signal that judged it, burst | level)."""
    probes, params = view.probes, view.params
    last = [probes[p].silent_since for p in members]
    owed = [probes[p].silent_since + probes[p].cadence for p in members]
    q = params.edge_quantile
    # the edge quantiles, so that one probe's odd cadence does not set the bracket
    start = quantile(last, 1 - q)
    bracket = (start, max(start, quantile(owed, q)))
    evidence: dict[str, object] = {"signal": "silence"}
    if path == "level":
        evidence["path"] = "level"
    # probes whose silence began with this one but that came back before it opened (a mass
    # reboot) are part of it: their backlogs must vote on what it was
    early = params.burst_window_s
    back = {p for p in ent.members if p not in members
            and probes[p].liveness == ALIVE and probes[p].silent_since
            and probes[p].silent_since >= start - early
            and (probes[p].gap is not None or p in view.verdicts)}
    return Opening(start, evidence, frozenset(members) | back, bracket)


def resolved_end(view: EngineView, members: Set[int], start: float,
                 returns: Sequence[float]) -> float:
    """Uploads say when the probes were back, half a cadence late on average: the end is
    that much before the rank of returns most of them agree on."""
    cadence = quantile([view.probes[p].cadence for p in members], 0.5)
    return max(start, quantile(list(returns), view.params.end_return_quantile) - cadence / 2)


def widened_start(view: EngineView, start: float, affected: Set[int]) -> float:
    """A staggered fall: the wider event began with its first parts, not its last."""
    first = quantile([view.probes[p].silent_since for p in affected],
                     view.params.edge_quantile)
    return min(start, first)


class SilenceEdges:
    """Burst and level open, widen and end their events alike (the functions above); the
    signal's ``name`` is the path it records."""

    name: str

    def describe(self, view: EngineView, ent: Entity, members: Set[int]) -> Opening:
        return opening(view, ent, members, self.name)

    def widened_start(self, view: EngineView, start: float, affected: Set[int]) -> float:
        return widened_start(view, start, affected)

    def resolved_end(self, view: EngineView, members: Set[int], start: float,
                     returns: Sequence[float], stopped: float) -> float:
        return resolved_end(view, members, start, returns)
