"""What every signal is (``Signal``), and what it may read of the engine (``EngineView``).

A signal judges one entity from the engine's counters and returns a ``Verdict`` (or None),
and says how an event of its opens (``Opening``: start, evidence, members) and where its start
goes when it widens to a wider entity. Silence signals (burst, level) raise ``silence``
events; live signals (international, block, throttling) also say which of a probe's target
states make its condition and when it ended. Signals and the lifecycle read the engine
through ``EngineView`` only: they never register, upload or advance it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, Protocol

from cutwatch.detectors.classify import GapVerdict
from cutwatch.detectors.decide import Verdict
from cutwatch.detectors.entities import Entity, EntityIndex
from cutwatch.detectors.model import Kind
from cutwatch.detectors.params import Params
from cutwatch.detectors.state import ProbeState, TargetState


class ConditionEdges:
    """The edges every live condition shares: its start is read from its measurements and
    kept when it widens; its probes never left, so it ends when the condition stopped."""

    def widened_start(self, view: EngineView, start: float, affected: Set[int]) -> float:
        return start

    def resolved_end(self, view: EngineView, members: Set[int], start: float,
                     returns: Sequence[float], stopped: float) -> float:
        return max(start, stopped)


class EngineView(Protocol):
    """The engine as the signals and the lifecycle see it: read-only."""

    @property
    def params(self) -> Params: ...
    @property
    def index(self) -> EntityIndex: ...
    @property
    def probes(self) -> Sequence[ProbeState]: ...
    @property
    def asn_of(self) -> Sequence[int | None]: ...
    @property
    def operator_of(self) -> Sequence[str | None]: ...
    @property
    def alive(self) -> int: ...
    @property
    def burst(self) -> int: ...
    @property
    def old(self) -> int: ...
    @property
    def clock(self) -> float: ...
    @property
    def measuring(self) -> Mapping[str, Set[int]]: ...
    @property
    def dirty(self) -> Set[int]: ...
    @property
    def cond_dirty(self) -> Set[int]: ...
    @property
    def verdicts(self) -> Mapping[int, GapVerdict]: ...
    def churn(self, now: float) -> float: ...


@dataclass(frozen=True, slots=True)
class Opening:
    """How an event opens, as the signal that judged it says: its start; the bracket the
    start lies in when evidence still to come (backlogs) will judge it, else None; its
    evidence; its members (the verdict's affected probes and any the signal adds)."""

    start: float
    evidence: dict[str, Any]
    members: frozenset[int]
    bracket: tuple[float, float] | None = None


class Signal(Protocol):
    """One signal: a name, the event signal it raises, the kind its events open as, the
    ``Params`` it reads, and its judgement of one entity (``churn``: the fleet's learned rate
    of new silences per burst window)."""

    @property
    def name(self) -> str: ...
    @property
    def raises(self) -> str: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def params(self) -> tuple[str, ...]: ...
    def judge(self, view: EngineView, ent: Entity, churn: float) -> Verdict | None: ...

    def describe(self, view: EngineView, ent: Entity, members: Set[int]) -> Opening:
        """How the event this signal judged on ``ent`` (its probes ``members``) opens now."""
        ...

    def widened_start(self, view: EngineView, start: float, affected: Set[int]) -> float:
        """The start of an event (begun at ``start``) once it widens to a wider entity whose
        affected probes are ``affected``."""
        ...

    def resolved_end(self, view: EngineView, members: Set[int], start: float,
                     returns: Sequence[float], stopped: float) -> float:
        """The end of an event (begun at ``start``) resolving now, without backlogs to read
        it from: ``returns``, when its probes were seen back (at least one time); ``stopped``,
        when its condition first fell below the threshold."""
        ...


class LiveSignal(Signal, Protocol):
    """A condition measured by the probes themselves, live (not a silence)."""

    def probe_condition(self, probe: ProbeState, targets: Mapping[str, TargetState],
                        params: Params) -> dict[str, str] | None:
        """This probe's condition now (``targets``: its live target states): {target: method}
        (``""`` where no method applies; no targets for an international cut), or None when
        it does not hold."""
        ...

    def ended(self, view: EngineView, members: set[int], start: float, now: float) -> float:
        """When the condition of an event's probes stopped (seen at ``now``)."""
        ...
