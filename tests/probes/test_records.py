"""The probe's plain wire records write what the collector's models write, byte for byte, and
refuse what they refuse."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from cutwatch import wire
from cutwatch.probes.records import Result, batch_json, parse_ack

MOMENT = datetime(2026, 12, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=6, minutes=30)))


def fields(**changes: Any) -> dict[str, Any]:
    return {"id": uuid.UUID(int=7), "kind": "dns", "target": "dns-é", "scope": "lan",
            "family": "ipv6", "measured_at": MOMENT, "duration_ms": 12, "ok": False,
            "failure": "dns_nxdomain_error",
            "details": {"answers": [{"data": "2001:db8::1"}], "rtt_ms": 1.5, "note": "ünï"}
            } | changes


@pytest.mark.parametrize("changes", [{}, {"scope": None, "family": None, "failure": None,
                                          "ok": True, "details": {}},
                                     {"measured_at": MOMENT.replace(microsecond=0)}])
def test_a_result_is_written_as_the_wire_model_writes_it(changes: dict[str, Any]) -> None:
    ours = Result(**fields(**changes))
    theirs = wire.Result(**fields(**changes))
    assert ours.to_json() == theirs.model_dump_json()
    assert ours.measured_at == theirs.measured_at
    assert ours.measured_at.tzinfo == UTC
    assert Result.from_wire(json.loads(ours.to_json())) == ours


@pytest.mark.parametrize("changes", [
    {"kind": "smtp"}, {"target": ""}, {"target": "t" * 256}, {"scope": "mars"},
    {"family": "ipv5"}, {"duration_ms": -1}, {"duration_ms": float("nan")},
    {"duration_ms": 86_400_001}, {"failure": "made_up"},
    {"measured_at": datetime(1999, 12, 31, 23, 0, tzinfo=UTC)},
    {"measured_at": datetime(2026, 1, 1)},  # noqa: DTZ001 - naive on purpose
])
def test_a_result_the_wire_model_refuses_cannot_be_made(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - pydantic's ValidationError is one too
        wire.Result(**fields(**changes))
    with pytest.raises(ValueError, match=r"invalid result|year|offset"):
        Result(**fields(**changes))


def test_details_that_json_cannot_carry_are_refused() -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        Result(**fields(details={"rtt_ms": float("inf")})).to_json()


def test_a_batch_is_what_the_wire_model_writes() -> None:
    results = [Result(**fields()), Result(**fields(id=uuid.UUID(int=8), ok=True, failure=None))]
    ours = batch_json(batch_id=uuid.UUID(int=1), probe_id="p-1", sent_at=MOMENT, synced=True,
                      offset_ms=-12.5, seq=3, spool_depth=4, dropped_total=5,
                      started_at=MOMENT - timedelta(days=1), software="cutwatch/0.1",
                      results=results)
    theirs = wire.Batch(
        schema_version=1, batch_id=uuid.UUID(int=1), probe_id="p-1", sent_at=MOMENT,
        clock=wire.Clock(synced=True, offset_ms=-12.5),
        heartbeat=wire.Heartbeat(seq=3, spool_depth=4, dropped_total=5,
                                 started_at=MOMENT - timedelta(days=1), software="cutwatch/0.1"),
        results=[wire.Result(**fields()), wire.Result(**fields(id=uuid.UUID(int=8), ok=True,
                                                                failure=None))])
    assert ours == theirs.model_dump_json()


def test_only_an_acknowledgement_of_the_right_shape_is_one() -> None:
    good = {"batch_id": str(uuid.UUID(int=1)), "accepted": 2, "duplicates": 0,
            "refused": [{"index": 1, "id": None, "detail": "results.1.kind: bad"}],
            "server_time": "2026-12-02T01:00:00Z"}
    ack = parse_ack(json.dumps(good).encode())
    assert ack is not None
    assert (ack.batch_id, ack.accepted, ack.refused) == (str(uuid.UUID(int=1)), 2,
                                                         ("results.1.kind: bad",))
    for bad in [b"<html>captive portal</html>", b"[]", b"{}",
                json.dumps(good | {"batch_id": "x"}).encode(),
                json.dumps(good | {"accepted": "2"}).encode(),
                json.dumps(good | {"server_time": "2026-12-02T01:00:00"}).encode(),
                json.dumps({k: v for k, v in good.items() if k != "duplicates"}).encode()]:
        assert parse_ack(bad) is None, bad
