"""What every signal is (``Signal``), and what it may read of the engine (``EngineView``).

A signal judges one entity from the engine's counters and returns a ``Verdict`` (or None).
Silence signals (burst, level) raise ``silence`` events; live signals (international, block,
throttling) also say which of a probe's target states make its condition, how an event of
theirs is described when it opens and when it ended. Signals and the lifecycle read the engine
through ``EngineView`` only: they never register, upload or advance it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from typing import Any, Protocol

from cutwatch.detectors.classify import GapVerdict
from cutwatch.detectors.decide import Verdict
from cutwatch.detectors.entities import Entity, EntityIndex
from cutwatch.detectors.model import Kind
from cutwatch.detectors.params import Params
from cutwatch.detectors.state import ProbeState, TargetState


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


class LiveSignal(Signal, Protocol):
    """A condition measured by the probes themselves, live (not a silence)."""

    def probe_condition(self, probe: ProbeState, targets: Mapping[str, TargetState],
                        params: Params) -> dict[str, str] | None:
        """This probe's condition now (``targets``: its live target states): {target: method}
        (``""`` where no method applies; no targets for an international cut), or None when
        it does not hold."""
        ...

    def describe(self, view: EngineView, ent: Entity,
                 members: set[int]) -> tuple[float, dict[str, Any]]:
        """Start and evidence of an event this signal opens."""
        ...

    def ended(self, view: EngineView, members: set[int], start: float, now: float) -> float:
        """When the condition of an event's probes stopped (seen at ``now``)."""
        ...
