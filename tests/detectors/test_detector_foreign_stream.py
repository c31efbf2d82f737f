"""A stream written with other habits than our simulator: no gateway check, no retried
batch, backlogs in chunks of 50 results, other networks and names. The contract is the
format, not our simulator's quirks."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from detector_cases import CASES as DETECTOR_CASES
from detector_cases import rows, run, stream

from cutwatch.detectors.engine import Engine
from cutwatch.detectors.model import ProbeInfo, Upload, parse_time
from cutwatch.detectors.replay import replay
from cutwatch.wire import Batch, Heartbeat, Result

T0 = 1_700_000_000


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _stream(cut: Callable[[dict[str, object], float], bool], domestic_up: bool) -> list[str]:
    rng = random.Random(1)
    probes: list[dict[str, object]] = []
    for i in range(40):
        country = "IR" if i < 28 else "TR"
        probes.append({"id": f"x{i}", "country": country,
                       "subdivision": f"{country}-{i % 4 + 1:02d}", "city": f"c{i % 3}",
                       "asn": [44244, 197207, 58224, 12880][i // 4 % 4] if country == "IR"
                       else 9121 + i % 2, "access": "mobile" if i % 4 == 0 else "fixed"})
    uploads: list[tuple[float, str]] = []
    for p in probes:
        seq, spool, t = 0, [], T0 + rng.uniform(0, 60)
        while t < T0 + 12_000:
            down = cut(p, t - T0)
            for target, scope in (("gov", "domestic"), ("search", "international"),
                                  ("wiki", "international")):
                ok = not down or (domestic_up and scope == "domestic")
                spool.append({"id": str(uuid.UUID(int=rng.getrandbits(128))), "kind": "tcp",
                              "target": target, "scope": scope, "measured_at": _iso(t),
                              "duration_ms": rng.uniform(20, 80), "ok": ok,
                              "failure": None if ok else "generic_timeout_error"})
            if not down and not 9000 <= t - T0 < 9900:  # the collector is down 9000..9900
                while spool:
                    chunk, spool = spool[:50], spool[50:]
                    seq += 1
                    at = t + rng.uniform(0.1, 2)
                    uploads.append((at, json.dumps({"type": "upload", "received_at": _iso(at),
                                                    "batch": {
                        "schema_version": 1, "batch_id": str(uuid.UUID(int=rng.getrandbits(128))),
                        "probe_id": p["id"], "sent_at": _iso(t), "results": chunk,
                        "heartbeat": {"seq": seq, "spool_depth": len(spool),
                                      "dropped_total": 0}}})))
            t += 60
    return [json.dumps({"type": "probe", "probe": p}) for p in probes] + \
        [line for _, line in sorted(uploads)]


CASES = [
    ("province", lambda p, t: p["subdivision"] == "IR-02" and 3600 <= t < 6000, False,
     ("subdivision", "IR-02", None, "blackout")),
    ("mobile", lambda p, t: p["country"] == "IR" and p["access"] == "mobile"
     and 3600 <= t < 6000, False, ("country", "IR", "mobile", "blackout")),
    ("international", lambda p, t: p["country"] == "IR" and 3600 <= t < 6000, True,
     ("country", "IR", None, "international_cut")),
]


@pytest.mark.parametrize(("name", "cut", "domestic_up", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_foreign_stream(name: str, cut: Callable[[dict[str, object], float], bool],
                        domestic_up: bool, expected: tuple[str, str, str | None, str]) -> None:
    transitions = [t.to_json() for t in replay(_stream(cut, domestic_up))]
    events = {t["event"]["id"]: t["event"] for t in transitions}
    assert len(events) == 1  # and nothing for the collector's own outage at 9000 s
    event = next(iter(events.values()))
    entity = event["entity"]
    assert (entity["type"], entity["code"], entity.get("access"), event["kind"]) == expected
    assert event["status"] == "resolved"
    assert abs(parse_time(event["start"]) - (T0 + 3600)) <= 60
    assert abs(parse_time(event["end"]) - (T0 + 6000)) <= 60
    opened = next(t for t in transitions if t["action"] == "opened")
    assert parse_time(opened["at"]) - (T0 + 3600) <= 150


def _result(target: str, at: float, ok: bool) -> Result:
    return Result(id=uuid.uuid4(), kind="tcp", target=target, scope="international",
                  measured_at=datetime.fromtimestamp(at, UTC), duration_ms=50.0, ok=ok,
                  failure=None if ok else "connection_reset")


@pytest.mark.parametrize("newest_first", [False, True])
def test_results_listed_in_any_order(newest_first: bool) -> None:
    # six probes in AA see target x fail twice and work again, all in one batch; listed
    # newest first, the failures must not read as the present (a false service block)
    engine = Engine()
    probes = [ProbeInfo(f"a{i}", "AA", asn=1 + i % 2) for i in range(6)] + \
        [ProbeInfo(f"b{i}", "BB", asn=3) for i in range(3)]
    for p in probes:
        engine.register(p)
    transitions = []
    for k in range(12):
        now = T0 + 60 * k
        transitions += engine.evaluate_until(now)
        for n, p in enumerate(probes):
            results = [_result("web", now - 5, True), _result("x", now - 5, True)]
            if k == 6 and p.country == "AA":
                results[1:] = [_result("x", now - 50, False), _result("x", now - 30, False),
                               _result("x", now - 5, True)]
                if newest_first:
                    results.reverse()
            batch = Batch(schema_version=1, batch_id=uuid.uuid4(), probe_id=p.id,
                          sent_at=datetime.fromtimestamp(now, UTC),
                          heartbeat=Heartbeat(seq=k, spool_depth=0, dropped_total=0),
                          results=results)
            engine.upload(Upload(now + n, batch))
    transitions += engine.evaluate_until(T0 + 60 * 12)
    assert [t.to_json() for t in transitions] == []


def test_a_target_name_with_commas_and_colons() -> None:
    # catalogue names are free text on the wire ("Facebook, Inc.: web"); a blocked one is
    # reported under its own name, as the same block under a plain name is
    block = next(c for c in DETECTOR_CASES if c[0].name == "DNS block")
    name = "social, video: web"
    lines = [line.replace('"target":"social"', f'"target":{json.dumps(name)}')
             for line in stream(block[0])]
    transitions = run(lines)
    assert rows(transitions) == block[1]
    assert transitions[-1]["event"]["evidence"]["targets"] == [name]
