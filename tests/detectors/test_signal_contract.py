"""The contract every registered signal keeps, run over the whole registry.

For each signal: its name is its own, it raises an event signal the lifecycle knows, with a
kind of the event vocabulary, and reads only documented ``Params``; on a fleet going about
its day it judges no entity affected; caught in the middle of the outage it exists for (at
the evaluation that opens the event), it judges that entity affected, with a verdict whose
probes are the entity's own, and describes the event's opening (start inside the outage,
members, evidence), its start once widened and its end once resolved. Live signals also say
nothing of a probe without targets.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path
from typing import get_args

import pytest
from detector_cases import FLEET, sc

from cutwatch.detectors.engine import Engine
from cutwatch.detectors.model import Kind, ProbeInfo, parse_time
from cutwatch.detectors.params import Params
from cutwatch.detectors.replay import replay
from cutwatch.detectors.scenarios import T0, Scenario, build
from cutwatch.detectors.signals import LIVE, RAISING, REGISTRY
from cutwatch.detectors.signals.base import Signal
from cutwatch.detectors.state import ProbeState

EVENTS_MD = Path(__file__).resolve().parents[2] / "docs" / "events.md"

# The outage each signal exists for, on the test fleet (seed, hours simulated).
OUTAGES: dict[str, tuple[Scenario, int, float]] = {
    "burst": (sc("province blackout", "blackout", "subdivision", "MM-01"), 3, 3.0),
    # a country going dark over three hours: no burst window sees it whole
    "level": (sc("staggered over 3 h", "blackout", "country", "MM", minutes=240,
                 spread_min=180), 3, 6.0),
    "international": (sc("international cut", "international_cut_live", "country", "MM"),
                      3, 3.0),
    "block": (sc("DNS block", "block", "country", "MM", target="social", method="dns"), 3, 3.0),
    "throttling": (sc("throttling", "throttling", "country", "MM"), 3, 3.0),
}


def test_registry_names_and_vocabulary() -> None:
    names = [s.name for s in REGISTRY]
    assert len(names) == len(set(names))
    assert set(names) == set(OUTAGES)
    assert set(RAISING) == {"silence", "international", "block", "throttling"}
    assert {s.raises for s in LIVE} == set(RAISING) - {"silence"}


@lru_cache(maxsize=8)
def _caught(name: str) -> tuple[Engine, str, str, float]:
    """The engine stopped at the evaluation that opened the signal's event (the generator is
    left suspended there), with the event's entity type, code and the opening time."""
    scenario, seed, hours = OUTAGES[name]
    lines, _ = build(FLEET, [scenario], hours, seed=seed)
    engine = Engine()
    signal = next(s for s in REGISTRY if s.name == name)
    for t in replay(list(lines), engine=engine):
        event = t.event
        if t.action != "opened" or event.evidence["signal"] != signal.raises:
            continue
        if signal.raises == "silence" and event.evidence.get("path", "burst") != name:
            continue
        return engine, event.entity["type"], event.entity["code"], t.at
    raise AssertionError(f"{scenario.name}: no event opened by the {name} signal")


@lru_cache(maxsize=8)
def _quiet(name: str) -> Engine:
    """The same fleet and stream, stopped a minute before the outage begins."""
    scenario, seed, hours = OUTAGES[name]
    lines, _ = build(FLEET, [scenario], hours, seed=seed)
    engine = Engine()
    for _ in replay(list(lines), engine=engine, until=T0 + scenario.start_h * 3600 - 60):
        pass
    return engine


@pytest.mark.parametrize("signal", REGISTRY, ids=[s.name for s in REGISTRY])
def test_every_signal_keeps_the_contract(signal: Signal) -> None:
    assert signal.kind in get_args(Kind)
    fields = {f.name for f in dataclasses.fields(Params)}
    assert set(signal.params) <= fields, set(signal.params) - fields
    documented = EVENTS_MD.read_text(encoding="utf-8")
    assert all(f"`{p}`" in documented for p in signal.params)
    if signal in LIVE:
        live = next(s for s in LIVE if s is signal)
        assert live.probe_condition(ProbeState(0, ProbeInfo("p"), [], Params()), {},
                                    Params()) is None

    quiet = _quiet(signal.name)
    churn = quiet.churn(quiet.clock)
    assert quiet.alive >= 40  # the fleet is up and measuring: a real negative
    assert [e.key for e in quiet.index.entities
            if signal.judge(quiet, e, churn) is not None] == []

    engine, etype, code, at = _caught(signal.name)
    start = T0 + OUTAGES[signal.name][0].start_h * 3600
    assert start < at < start + 3600 * 4
    ent = next(e for e in engine.index.entities
               if e.key.type == etype and e.key.code == code and e.key.access is None)
    verdict = signal.judge(engine, ent, engine.churn(engine.clock))
    assert verdict is not None, f"{signal.name} does not judge {etype} {code} affected"
    assert len(verdict.affected) >= engine.params.min_probes
    assert verdict.affected <= ent.members
    assert 0.5 < verdict.confidence <= 1.0
    assert verdict.total >= len(verdict.affected) * engine.params.open_fraction
    assert verdict.path == ("level" if signal.name == "level" else "burst")

    # how its event opens: a start inside the outage (a cadence of slack: the probes'
    # measurements and uploads fall anywhere in one), read from the signal's own evidence
    cadence = FLEET.cadence_s
    opening = signal.describe(engine, ent, verdict.affected)
    assert start - cadence <= opening.start <= at
    assert opening.evidence["signal"] == signal.raises
    assert (opening.evidence.get("path") == "level") == (signal.name == "level")
    assert verdict.affected <= opening.members <= ent.members
    # only a silence waits for backlogs to judge its onset, inside a bracket of one cadence
    if signal.raises == "silence":
        assert opening.bracket is not None
        assert opening.bracket[0] == opening.start <= opening.bracket[1] <= at
        assert opening.bracket[1] - opening.bracket[0] <= cadence
    else:
        assert opening.bracket is None
    # widening never moves the start later, and never before the outage
    widened = signal.widened_start(engine, opening.start, verdict.affected)
    assert start - cadence <= widened <= opening.start
    # resolving without backlogs: a silence ends as its probes came back (half a cadence
    # before their uploads say so), a condition when it stopped
    back, stopped = at + 900, at + 600
    end = signal.resolved_end(engine, verdict.affected, opening.start, [back], stopped)
    if signal.raises == "silence":
        assert end == pytest.approx(back - cadence / 2, abs=cadence / 10)
    else:
        assert end == stopped


def test_the_quiet_stop_is_before_the_outage() -> None:
    scenario = OUTAGES["burst"][0]
    assert _quiet("burst").clock <= parse_time("2021-02-15T01:29:00Z") == \
        T0 + scenario.start_h * 3600 - 60
