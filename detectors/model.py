"""The detector's nouns: probes and their entities, inputs, events and their transitions.

Inputs come from the replay stream or the database; transitions leave as the JSON object of
docs/events.md (``Transition.to_json``), the same in replay output, webhook payloads and the
API.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple, cast, get_args
from uuid import UUID

from cutwatch.detectors import codes
from cutwatch.wire import Batch, Clock, Heartbeat

EntityType = Literal["country", "subdivision", "city", "asn", "asn_subdivision"]
Kind = Literal["blackout", "international_cut", "service_block", "throttling", "power_outage",
               "unknown"]
# ``merged``: the event was absorbed into a wider one (``evidence.merged_into``): its probes
# are still in an outage, now claimed by that event; ``retracted`` means "not a shutdown".
Status = Literal["suspected", "confirmed", "resolved", "retracted", "merged"]
Action = Literal["opened", "updated", "resolved", "retracted", "merged"]

# The order in which candidates are taken: places before networks (a province blackout also
# silences the ISPs that live there), wider before narrower within each.
RANK: Final[dict[EntityType, int]] = {
    "country": 0, "subdivision": 1, "city": 2, "asn": 3, "asn_subdivision": 4,
}
EVENT_NAMESPACE: Final = uuid.UUID("6f1c2a2e-5b7d-4f7e-9a53-cb0e1d7a4c11")


class EntityKey(NamedTuple):
    """One entity, optionally narrowed to one access type (``mobile``-only, ...)."""

    type: EntityType
    code: str
    access: str | None = None

    def to_json(self, name: str) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "code": self.code, "name": name}
        # where it lies, spelled out so consumers need not parse codes
        parts = codes.parse(self.type, self.code)
        if parts.asn is not None:
            out["asn"] = parts.asn
        if self.type != "country" and parts.subdivision:
            out["subdivision"] = parts.subdivision
            out["country"] = parts.country
        elif self.type == "city" and parts.country:
            out["country"] = parts.country
        if self.access is not None:
            out["access"] = self.access
        return out


@dataclass(frozen=True, slots=True)
class ProbeInfo:
    """Where a probe is: what the volunteer declared plus what the collector derived."""

    id: str
    country: str | None = None
    subdivision: str | None = None
    city: str | None = None
    asn: int | None = None
    access: str | None = None
    operator: str | None = None
    """Who vouches for the probe (the enrollment token's holder); None: unknown, and then the
    probe counts as its own operator (replays of data that names none keep their events)."""
    collector_abroad: bool = True
    """Whether the probe's uploads cross an international link to reach the collector (it is
    hosted abroad, as designed): then an upload arriving proves international links work."""

    def entities(self) -> list[tuple[EntityKey, str]]:
        """Every entity the probe belongs to, with a display name, unscoped then scoped."""
        base: list[tuple[EntityKey, str]] = []
        if self.country:
            base.append((EntityKey("country", self.country), place_name(self.country)))
        if self.subdivision:
            base.append((EntityKey("subdivision", self.subdivision),
                         place_name(self.subdivision)))
            if self.city:
                base.append((EntityKey("city", codes.city_code(self.subdivision, self.city)),
                             self.city))
        elif self.city and self.country:
            base.append((EntityKey("city", codes.city_code(self.country, self.city)), self.city))
        if self.asn is not None:
            network = codes.asn_code(self.asn)
            base.append((EntityKey("asn", network), network))
            if self.subdivision:
                code = codes.asn_subdivision_code(self.asn, self.subdivision)
                base.append((EntityKey("asn_subdivision", code), code))
        if self.access is None:
            return base
        return base + [(EntityKey(k.type, k.code, self.access), n) for k, n in base]


@dataclass(frozen=True, slots=True)
class Upload:
    """One batch as the collector received it; ``received_at`` is the engine's clock."""

    received_at: float
    batch: Batch


def heartbeat_upload(probe_id: str, batch_id: UUID, at: float) -> Upload:
    """A trusted upload with no results (the probe is alive and says nothing more), built
    without validation: simulated fleets and RIPE Atlas connection logs."""
    batch = Batch.model_construct(
        schema_version=1, batch_id=batch_id, probe_id=probe_id,
        sent_at=datetime.fromtimestamp(at, UTC), clock=Clock.model_construct(),
        heartbeat=Heartbeat.model_construct(seq=0, spool_depth=0, dropped_total=0,
                                            started_at=None, software=None),
        results=[])
    return Upload(at, batch)


@dataclass(slots=True)
class Event:
    """An event as the engine keeps it; ``snapshot`` is what leaves in a transition."""

    id: str
    entity: EntityKey
    entity_name: str
    signal: str
    kind: Kind
    status: Status
    start: float
    end: float | None
    detected_at: float
    confidence: float
    members: set[int]
    probes_total: int
    evidence: dict[str, Any] = field(default_factory=dict)
    asns_affected: list[int] = field(default_factory=list)
    closed_at: float | None = None
    refined: bool = False
    silence_bracket: tuple[float, float] | None = None  # the onset as the uploads bound it
    single_source: bool = False  # evidence from too few operators or networks (Sybil rule)

    def snapshot(self) -> EventSnapshot:
        # a copy: the event's evidence keeps changing after this transition has left
        return EventSnapshot(
            id=self.id, status=self.status, kind=self.kind,
            entity=MappingProxyType(self.entity.to_json(self.entity_name)),
            start=iso(self.start), end=None if self.end is None else iso(self.end),
            detected_at=iso(self.detected_at), confidence=round(self.confidence, 4),
            probes_affected=len(self.members), probes_total=self.probes_total,
            asns_affected=tuple(sorted(self.asns_affected)),
            evidence=MappingProxyType(copy.deepcopy(self.evidence)),
            single_source=self.single_source)


class TransitionError(ValueError):
    """An object that is not a docs/events.md transition (one line: what is wrong)."""


@dataclass(frozen=True, slots=True)
class EventSnapshot:
    """The event as one transition carries it (docs/events.md), immutable: what the store,
    the outbox, the feeds and the webhooks receive. Times are RFC 3339 UTC strings."""

    id: str
    status: Status
    kind: Kind
    entity: Mapping[str, Any]
    start: str
    end: str | None
    detected_at: str
    confidence: float
    probes_affected: int
    probes_total: int
    asns_affected: tuple[int, ...]
    evidence: Mapping[str, Any]
    single_source: bool = False
    """The evidence comes from too few operators (or, for an area, networks)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "status": self.status, "kind": self.kind,
            "entity": dict(self.entity), "start": self.start, "end": self.end,
            "detected_at": self.detected_at, "confidence": self.confidence,
            "probes_affected": self.probes_affected, "probes_total": self.probes_total,
            "asns_affected": list(self.asns_affected), "single_source": self.single_source,
            "evidence": copy.deepcopy(dict(self.evidence)),
        }

    @classmethod
    def from_json(cls, data: Any) -> EventSnapshot:
        if not isinstance(data, Mapping):
            raise TransitionError("event: expected an object")
        try:
            entity, evidence = data["entity"], data.get("evidence") or {}
            if not isinstance(entity, Mapping) or not isinstance(evidence, Mapping):
                raise TransitionError("event: entity and evidence must be objects")
            if data["status"] not in get_args(Status) or data["kind"] not in get_args(Kind):
                raise TransitionError(f"event: status {data['status']!r} or kind "
                                      f"{data['kind']!r} is not of docs/events.md")
            if not data["id"]:
                raise TransitionError("event transition without event.id")
            return cls(
                id=str(data["id"]), status=data["status"], kind=data["kind"],
                entity=MappingProxyType(dict(entity)), start=str(data["start"]),
                end=None if data.get("end") is None else str(data["end"]),
                detected_at=str(data["detected_at"]), confidence=float(data["confidence"]),
                probes_affected=int(data["probes_affected"]),
                probes_total=int(data["probes_total"]),
                asns_affected=tuple(int(a) for a in data.get("asns_affected") or ()),
                evidence=MappingProxyType(copy.deepcopy(dict(evidence))),
                single_source=bool(data.get("single_source", False)))
        except KeyError as exc:
            raise TransitionError(f"event: missing {exc.args[0]}") from None
        except TransitionError:
            raise
        except (TypeError, ValueError) as exc:
            raise TransitionError(f"event: {exc}") from None


@dataclass(frozen=True, slots=True)
class Transition:
    """One transition of one event (docs/events.md); ``to_json`` is its wire object and
    ``from_json`` reads one back (stored rows, a replay's output), raising
    ``TransitionError``."""

    action: Action
    at: float
    event: EventSnapshot

    def to_json(self) -> dict[str, Any]:
        return {"type": "event", "action": self.action, "at": iso(self.at),
                "event": self.event.to_json()}

    @classmethod
    def from_json(cls, data: Any) -> Transition:
        if not isinstance(data, Mapping):
            raise TransitionError("expected an event transition object")
        action = data.get("action")
        if data.get("type") != "event" or action not in get_args(Action):
            raise TransitionError(f"not an event transition: type={data.get('type')!r} "
                                  f"action={action!r}")
        event = data.get("event")
        if not isinstance(event, Mapping) or not event.get("id"):
            raise TransitionError("event transition without event.id")
        try:
            at = parse_time(str(data["at"]))
        except (KeyError, ValueError):
            raise TransitionError(f"at: not an RFC 3339 time: {data.get('at')!r}") from None
        return cls(cast(Action, action), at, EventSnapshot.from_json(event))


@lru_cache(maxsize=4096)
def place_name(code: str) -> str:
    """English name of an ISO 3166 country or subdivision code, when pycountry is installed
    (the service extra); the code itself otherwise."""
    try:
        import pycountry
    except ImportError:
        return code
    table: Any = pycountry.subdivisions if "-" in code else pycountry.countries
    found = table.get(code=code) if "-" in code else table.get(alpha_2=code)
    return str(found.name) if found is not None else code


def event_id(entity: EntityKey, signal: str, start: float) -> str:
    """Deterministic: the same stream gives the same ids, run after run."""
    name = f"{entity.type}|{entity.code}|{entity.access or ''}|{signal}|{int(start)}"
    return str(uuid.uuid5(EVENT_NAMESPACE, name))


def iso(ts: float) -> str:
    return datetime.fromtimestamp(round(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
