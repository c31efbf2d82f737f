"""Which event transitions a subscription (or a feed query) wants: entities, kinds, status.

The same vocabulary serves webhook subscriptions (stored as JSON) and feed query parameters.
Matching is a pure function of the filter and the typed transition (``detectors.model``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cutwatch.detectors import codes
from cutwatch.detectors.model import EntityType, EventSnapshot, Kind, Transition

_SUBDIVISION = re.compile(r"[A-Za-z]{2}-[A-Za-z0-9]{1,3}")
_COUNTRY = re.compile(r"[A-Za-z]{2}")


class EntityFilter(BaseModel):
    """One entity; ``children`` widens a country / subdivision / ASN to what lies inside it."""

    model_config = ConfigDict(extra="forbid")

    type: EntityType
    code: str = Field(min_length=1, max_length=100)
    children: bool = False

    @field_validator("code")
    @classmethod
    def _normalise(cls, value: str) -> str:
        return value.strip()


class Filters(BaseModel):
    """What a subscriber wants; empty lists mean "everything"."""

    model_config = ConfigDict(extra="forbid")

    entities: list[EntityFilter] = Field(default_factory=list, max_length=500)
    kinds: list[Kind] = Field(default_factory=list)
    min_status: Literal["suspected", "confirmed"] = "suspected"
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)


@dataclass(frozen=True)
class EntityPlace:
    """Where an event's entity sits: its own code plus the country / subdivision / ASN it is in."""

    type: str
    code: str
    country: str | None
    subdivision: str | None
    asn: int | None


def _asn(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    return codes.parse_asn(str(value or ""))


def place_of(entity: Mapping[str, Any]) -> EntityPlace:
    """Locate an entity; explicit ``country``/``subdivision``/``asn`` keys win over the code.

    Codes as the detector writes them (detectors/model.py): ``MM``, ``MM-07``, city
    ``MM-07/Bago`` or ``MM/Bago``, ``AS9988``, asn_subdivision ``AS9988/MM-07``.
    """
    etype = str(entity.get("type", ""))
    code = str(entity.get("code", ""))
    parts = codes.parse(etype, code)
    head = parts.place or ""
    subdivision = entity.get("subdivision")
    country = entity.get("country")
    asn = entity.get("asn")
    if etype == "country":
        country = country or code
    elif etype == "subdivision":
        subdivision = subdivision or code
    elif etype == "city":
        if subdivision is None and _SUBDIVISION.fullmatch(head):
            subdivision = head
        elif country is None and parts.city is not None and _COUNTRY.fullmatch(head):
            country = head
    elif etype in ("asn", "asn_subdivision"):
        asn = asn if asn is not None else parts.asn
        if etype == "asn_subdivision" and subdivision is None and parts.place is not None and (
                _SUBDIVISION.fullmatch(parts.place)):
            subdivision = parts.place
    if country is None and subdivision:
        country = str(subdivision)[:2]
    return EntityPlace(
        type=etype,
        code=code,
        country=str(country).upper() if country else None,
        subdivision=str(subdivision).upper() if subdivision else None,
        asn=_asn(asn) if asn is not None else None,
    )


def entity_matches(wanted: EntityFilter, place: EntityPlace) -> bool:
    """True when the entity is the wanted one, or inside it and children are wanted."""
    if wanted.type == place.type:
        if wanted.type in ("asn",):
            return _asn(wanted.code) == place.asn
        return wanted.code.casefold() == place.code.casefold()
    if not wanted.children:
        return False
    if wanted.type == "country":
        return place.type in ("subdivision", "city", "asn_subdivision") and (
            place.country == wanted.code.upper()
        )
    if wanted.type == "subdivision":
        return place.type in ("city", "asn_subdivision") and (
            place.subdivision == wanted.code.upper()
        )
    if wanted.type == "asn":
        return place.type == "asn_subdivision" and place.asn == _asn(wanted.code)
    return False


def where_matches(filters: Filters, event: EventSnapshot) -> bool:
    """Entity and kind part of the filter: does this event concern what the subscriber follows?"""
    if filters.kinds and event.kind not in filters.kinds:
        return False
    if not filters.entities:
        return True
    place = place_of(event.entity)
    return any(entity_matches(wanted, place) for wanted in filters.entities)


def severity_matches(filters: Filters, event: EventSnapshot) -> bool:
    """Status and confidence part: is this transition strong enough to be told on its own?

    A subscriber already told about an event hears every later transition of it (see
    ``matches``), so ``resolved``/``retracted`` need not pass this test.
    """
    if event.status not in ("suspected", "confirmed"):
        return False
    if filters.min_status == "confirmed" and event.status != "confirmed":
        return False
    return event.confidence >= filters.min_confidence


def matches(filters: Filters, transition: Transition, *, already_told: bool) -> bool:
    """The whole rule: right entity and kind, strong enough, or an event already being followed.

    Once told about an event, a subscriber hears all its later transitions, even if its kind
    was revised or its confidence dropped, so an opened alert is always closed.
    """
    if already_told:
        return True
    return (where_matches(filters, transition.event)
            and severity_matches(filters, transition.event))
