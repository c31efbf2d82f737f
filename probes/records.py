"""The wire records a probe builds (result, batch with clock and heartbeat) as plain data.

The probe does not import pydantic (see ``cutwatch.probes.validate``); the collector validates what
arrives with its models (``cutwatch.wire``), and ``tests/probes/test_wire_contract.py`` holds
every batch the real uploader sends to ``docs/wire-format.schema.json``. A ``Result`` checks
its own invariants when it is made (the same bounds as the wire model), so a check's bug
fails where it happens, not as a batch the collector refuses; it serialises to the same
compact JSON as the model (UTC as ``Z``), byte for byte, which the spool codec relies on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cutwatch.failures import FAILURES, Failure
from cutwatch.vocab import MAX_OFFSET_MS, CheckKind, Family, Scope, to_utc

_KINDS = frozenset(("dns", "tcp", "http", "gateway", "icmp", "traceroute"))
_SCOPES = frozenset(("lan", "domestic", "international"))
_FAMILIES = frozenset(("ipv4", "ipv6"))


def timestamp(value: datetime | None) -> str | None:
    """RFC 3339 as the collector's models write it: UTC with ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dumps(data: Any) -> str:
    # Compact, UTF-8 as is, and no NaN/Infinity (the collector refuses them).
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, kw_only=True)
class Result:
    """One measurement: one check of one target, from one probe, at one moment."""

    id: UUID
    kind: CheckKind
    target: str
    scope: Scope | None = None
    family: Family | None = None
    measured_at: datetime
    duration_ms: float
    ok: bool
    failure: Failure | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in _KINDS:
            problems.append(f"kind {self.kind!r}")
        if not 1 <= len(self.target) <= 255:
            problems.append("target length")
        if self.scope is not None and self.scope not in _SCOPES:
            problems.append(f"scope {self.scope!r}")
        if self.family is not None and self.family not in _FAMILIES:
            problems.append(f"family {self.family!r}")
        if not (math.isfinite(self.duration_ms) and 0 <= self.duration_ms <= 86_400_000):
            problems.append(f"duration_ms {self.duration_ms!r}")
        if self.failure is not None and self.failure not in FAILURES:
            problems.append(f"failure {self.failure!r}")
        if problems:
            raise ValueError(f"invalid result: {', '.join(problems)}")
        object.__setattr__(self, "measured_at", to_utc(self.measured_at))

    def to_wire(self) -> dict[str, Any]:
        """The wire object, in the wire model's field order."""
        return {"id": str(self.id), "kind": self.kind, "target": self.target,
                "scope": self.scope, "family": self.family,
                "measured_at": timestamp(self.measured_at), "duration_ms": float(self.duration_ms),
                "ok": self.ok, "failure": self.failure, "details": self.details}

    def to_json(self) -> str:
        return dumps(self.to_wire())

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Result:
        """A result as ``to_wire`` wrote it (the spool's rows): ``ValueError`` if not one."""
        try:
            return cls(id=UUID(data["id"]), kind=data["kind"], target=data["target"],
                       scope=data["scope"], family=data["family"],
                       measured_at=datetime.fromisoformat(data["measured_at"]),
                       duration_ms=float(data["duration_ms"]), ok=bool(data["ok"]),
                       failure=data["failure"], details=dict(data["details"]))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a stored result: {exc!r}") from None


def batch_json(*, batch_id: UUID, probe_id: str, sent_at: datetime, synced: bool | None,
               offset_ms: float | None, seq: int, spool_depth: int, dropped_total: int,
               started_at: datetime | None, software: str,
               results: list[Result]) -> str:
    """One upload's JSON (``cutwatch.wire.Batch``), in the model's field order."""
    if offset_ms is not None and not (math.isfinite(offset_ms)
                                      and abs(offset_ms) <= MAX_OFFSET_MS):
        offset_ms = None  # a broken clock measurement is not worth refusing the batch for
    return dumps({
        "schema_version": 1, "batch_id": str(batch_id), "probe_id": probe_id,
        "sent_at": timestamp(to_utc(sent_at)),
        "clock": {"synced": synced, "offset_ms": offset_ms},
        "heartbeat": {"seq": seq, "spool_depth": spool_depth, "dropped_total": dropped_total,
                      "started_at": timestamp(started_at), "software": software[:64]},
        "results": [r.to_wire() for r in results],
    })


@dataclass(frozen=True)
class Ack:
    """The parts of the collector's acknowledgement (``cutwatch.wire.BatchAck``) the probe
    acts on."""

    batch_id: str
    accepted: int
    duplicates: int
    refused: tuple[str, ...]  # the one-line reason of each result refused for good
    server_time: datetime


def parse_ack(body: bytes) -> Ack | None:
    """The acknowledgement in a 2xx body, or None when it is not one (a captive portal, a
    proxy answering 200, JSON of another shape)."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            return None
        refused = data.get("refused", [])
        server_time = datetime.fromisoformat(data["server_time"])
        if server_time.tzinfo is None or not isinstance(refused, list):
            return None
        ack = Ack(batch_id=str(UUID(data["batch_id"])), accepted=_count(data["accepted"]),
                  duplicates=_count(data["duplicates"]),
                  refused=tuple(str(r["detail"]) for r in refused), server_time=server_time)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return ack


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value
