"""Transitions leave the engine as a frozen typed model; its JSON reads back to an equal
model, and what is not a docs/events.md transition is refused with one line."""

from __future__ import annotations

import dataclasses

import pytest
from detector_cases import CASES, run, stream

from cutwatch.detectors.model import Transition, TransitionError

PROVINCE = next(c[0] for c in CASES if c[0].name == "province blackout")


def test_transitions_round_trip_and_are_frozen() -> None:
    transitions = run(stream(PROVINCE))
    assert transitions[0]["action"] == "opened"
    for wire in transitions:
        typed = Transition.from_json(wire)
        assert typed.to_json() == wire
        assert Transition.from_json(typed.to_json()) == typed
    with pytest.raises(dataclasses.FrozenInstanceError):
        typed.event.status = "retracted"  # type: ignore[misc]
    with pytest.raises(TypeError):
        typed.event.evidence["signal"] = "other"  # type: ignore[index]


@pytest.mark.parametrize(("wire", "message"), [
    ({"type": "event", "action": "exploded", "event": {"id": "x"}}, "not an event transition"),
    ({"type": "event", "action": "opened", "event": {}}, "without event.id"),
    ({"type": "event", "action": "opened", "at": "yesterday", "event": {"id": "x"}},
     "at: not an RFC 3339 time"),
    ({"type": "event", "action": "opened", "at": "2021-02-15T01:02:00Z",
      "event": {"id": "x", "status": "suspected"}}, "event: missing"),
    ({"type": "event", "action": "opened", "at": "2021-02-15T01:02:00Z",
      "event": {"id": "x", "status": "gone", "kind": "blackout", "entity": {}}},
     "is not of docs/events.md"),
])
def test_what_is_not_a_transition(wire: dict[str, object], message: str) -> None:
    with pytest.raises(TransitionError, match=message):
        Transition.from_json(wire)
