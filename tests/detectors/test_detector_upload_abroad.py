"""An upload reaching a collector abroad proves international links work (the drill found a
confirmed international_cut raised while every probe kept uploading to the collector abroad,
because the only international target host was down)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from cutwatch.detectors.engine import Engine
from cutwatch.detectors.model import ProbeInfo, Upload
from cutwatch.wire import Batch, Heartbeat, Result

T0 = 1_600_000_000.0


def _result(target: str, scope: str, at: float, ok: bool) -> Result:
    return Result(id=uuid.uuid4(), kind="tcp", target=target, scope=scope,
                  measured_at=datetime.fromtimestamp(at, UTC), duration_ms=30.0, ok=ok,
                  failure=None if ok else "generic_timeout_error")


def _run(collector_abroad: bool, down_for: set[str]) -> list[dict[str, Any]]:
    """Six probes in AA (two networks) and three in BB keep uploading every minute; from
    minute 20 the one international target fails from the countries ``down_for`` while the
    domestic one works."""
    engine = Engine()
    probes = [ProbeInfo(f"a{i}", "AA", "AA-01", asn=1 + i % 2,
                        collector_abroad=collector_abroad) for i in range(6)]
    probes += [ProbeInfo(f"b{i}", "BB", "BB-01", asn=3) for i in range(3)]
    for p in probes:
        engine.register(p)
    out: list[dict[str, Any]] = []
    for k in range(60):
        now = T0 + 60 * k
        out += [t.to_json() for t in engine.evaluate_until(now)]
        for n, p in enumerate(probes):
            cut = k >= 20 and p.country in down_for
            results = [_result("gov", "domestic", now - 10, True),
                       _result("search", "international", now - 5, not cut)]
            batch = Batch(schema_version=1, batch_id=uuid.uuid4(), probe_id=p.id,
                          sent_at=datetime.fromtimestamp(now, UTC),
                          heartbeat=Heartbeat(seq=k + 1, spool_depth=0, dropped_total=0),
                          results=results)
            engine.upload(Upload(now + n * 0.5, batch))
    return out


def test_a_collector_at_home_sees_the_international_cut() -> None:
    # positive control: the uploads do not cross the cut international link
    opened = [t["event"] for t in _run(False, {"AA"}) if t["action"] == "opened"]
    assert [(e["kind"], e["entity"]["code"]) for e in opened] == [("international_cut", "AA")]


@pytest.mark.parametrize(("down_for", "expected"), [
    # the target host is down: the fleet's only international target fails from everywhere
    ({"AA", "BB"}, []),
    # reached from BB but not from AA, whose uploads still cross the border: a block of that
    # target, not a cut of every international link
    ({"AA"}, [("service_block", "AA")]),
])
def test_uploads_reaching_a_collector_abroad_rule_it_out(
        down_for: set[str], expected: list[tuple[str, str]]) -> None:
    opened = [t["event"] for t in _run(True, down_for) if t["action"] == "opened"]
    assert [(e["kind"], e["entity"]["code"]) for e in opened] == expected


def test_the_backlog_of_an_international_cut_is_not_a_block() -> None:
    """AA's international link is cut for five minutes: its probes, uploading abroad, fall
    silent, then deliver a backlog in which every international target failed, and the round
    measured after the repair half a minute later. That is the cut the gap's verdict names,
    not a block of those targets (the blackout drill raised a false service_block for an ISP
    after its international-cut scenario)."""
    engine = Engine()
    probes = [ProbeInfo(f"a{i}", "AA", "AA-01", asn=1 + i % 2) for i in range(6)]
    probes += [ProbeInfo(f"b{i}", "BB", "BB-01", asn=3) for i in range(3)]
    for p in probes:
        engine.register(p)
    out: list[dict[str, Any]] = []
    held: dict[str, list[Result]] = {p.id: [] for p in probes}

    def send(p: ProbeInfo, results: list[Result], at: float, seq: int) -> None:
        batch = Batch(schema_version=1, batch_id=uuid.uuid4(), probe_id=p.id,
                      sent_at=datetime.fromtimestamp(at, UTC),
                      heartbeat=Heartbeat(seq=seq, spool_depth=0, dropped_total=0),
                      results=results)
        engine.upload(Upload(at, batch))

    for k in range(50):
        now = T0 + 60 * k
        out += [t.to_json() for t in engine.evaluate_until(now)]
        later = []
        for n, p in enumerate(probes):
            cut = 20 <= k < 25 and p.country == "AA"
            this_round = [_result("gov", "domestic", now - 10, True),
                          _result("search", "international", now - 5, not cut),
                          _result("news", "international", now - 4, not cut)]
            if cut:
                held[p.id] += this_round  # the upload crosses the cut link: spooled
            elif held[p.id]:
                # the link is back: the spool goes first; the next round comes after
                send(p, held[p.id], now + n * 0.5, 2 * k)
                held[p.id] = []
                later.append((p, n, this_round))
            else:
                send(p, this_round, now + n * 0.5, 2 * k)
        if later:
            out += [t.to_json() for t in engine.evaluate_until(now + 30)]
            for p, n, results in later:
                send(p, results, now + 30 + n * 0.5, 2 * k + 1)
    out += [t.to_json() for t in engine.evaluate_until(T0 + 60 * 60)]
    kinds = [(t["event"]["kind"], t["event"]["entity"]["code"]) for t in out
             if t["action"] == "opened"]
    assert kinds, "the silence of AA's probes raises an event (positive control)"
    assert not [k for k in kinds if k[0] == "service_block"], kinds
