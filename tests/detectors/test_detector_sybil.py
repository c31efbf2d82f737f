"""Sybil rule: one operator's probes falling silent raise at most a ``single_source`` event."""

from __future__ import annotations

import uuid
from typing import Any

from cutwatch.detectors.engine import Engine
from cutwatch.detectors.model import ProbeInfo, heartbeat_upload
from cutwatch.detectors.params import Params
from cutwatch.detectors.sources import count, single_source

T0 = 1_600_000_000.0


def _fleet(cut_ops: dict[str, float]) -> list[dict[str, Any]]:
    """Province AA-01: six probes of ``mallory`` and three of ``alice`` across AS1/AS2;
    AA-02 and country BB stay up. Probes whose operator is in ``cut_ops`` stop uploading at
    that offset (seconds after T0)."""
    probes = [ProbeInfo(f"m{i}", "AA", "AA-01", asn=1 + i % 2, operator="mallory")
              for i in range(6)]
    probes += [ProbeInfo(f"a{i}", "AA", "AA-01", asn=1 + i % 2, operator="alice")
               for i in range(3)]
    probes += [ProbeInfo(f"q{i}", "AA", "AA-02", asn=1 + i % 2, operator="bob")
               for i in range(6)]
    probes += [ProbeInfo(f"b{i}", "BB", "BB-01", asn=3, operator="carol") for i in range(6)]
    engine = Engine()
    for p in probes:
        engine.register(p)
    out: list[dict[str, Any]] = []
    for k in range(120):  # two hours at a 60 s cadence
        now = T0 + 60 * k
        out += [t.to_json() for t in engine.evaluate_until(now)]
        for n, p in enumerate(probes):
            stop = cut_ops.get(p.operator or "")
            if stop is None or now - T0 <= stop:
                engine.upload(heartbeat_upload(p.id, uuid.uuid4(), now + n * 0.5))
    return out


def _events(transitions: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for t in transitions:
        out.setdefault(t["event"]["id"], []).append(t)
    return out


def test_one_operator_across_two_networks_is_single_source() -> None:
    events = _events(_fleet({"mallory": 1800}))
    assert events, "the silence of six probes in two networks raises an event"
    for transitions in events.values():
        for t in transitions:  # never an unflagged transition
            assert t["event"]["single_source"] is True
            assert t["event"]["evidence"]["sources"]["operators"] == 1
    opened = [t["event"] for ts in events.values() for t in ts if t["action"] == "opened"]
    assert opened[0]["entity"]["code"] == "AA-01"
    assert opened[0]["evidence"]["sources"] == {"operators": 1, "networks": 2}


def test_two_operators_make_a_normal_event() -> None:
    events = _events(_fleet({"mallory": 1800, "alice": 1800}))
    opened = [t["event"] for ts in events.values() for t in ts if t["action"] == "opened"]
    assert [(e["entity"]["code"], e["single_source"]) for e in opened] == [("AA-01", False)]
    assert opened[0]["evidence"]["sources"] == {"operators": 2, "networks": 2}


def test_a_second_operator_joining_clears_the_flag() -> None:
    # mallory's probes go first; alice's follow five minutes later and join the event
    events = _events(_fleet({"mallory": 1800, "alice": 2100}))
    (transitions,) = events.values()
    flags = [(t["action"], t["event"]["single_source"]) for t in transitions]
    assert flags[0] == ("opened", True)
    cleared = flags.index(("updated", False))
    assert all(flag is True for _, flag in flags[:cleared])
    assert all(flag is False for _, flag in flags[cleared:])


def test_rule_by_entity_kind() -> None:
    params = Params()
    assert single_source("subdivision", 2, 1, params)  # one network: an area needs two
    assert not single_source("asn", 2, 1, params)  # a network event has one by nature
    assert single_source("asn", 1, 1, params)
    assert not single_source("country", 2, 0, params)  # no network known: operators only
    assert not single_source("country", 2, 2, params)


def test_probes_without_an_operator_count_as_their_own() -> None:
    assert count([0, 1, 2], [None, None, "x"], [None, 5, 5]) == (3, 1)
    assert count([0, 1], ["x", "x"], [1, 2]) == (1, 2)
