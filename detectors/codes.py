"""Entity codes, written and read here only.

``MM`` (country, ISO 3166-1), ``MM-07`` (subdivision, ISO 3166-2), ``MM-07/Bago`` or
``MM/Bago`` (city, inside its subdivision or country), ``AS9988`` (network),
``AS9988/MM-07`` (one network in one subdivision); an entity reference is ``TYPE:CODE``
(``subdivision:MM-07``). The detector writes them from what a probe declares; the API, the
filters of webhooks and feeds and the simulator read them back with ``parse``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ASN = re.compile(r"^(?:AS)?(\d+)$", re.IGNORECASE)


def asn_code(asn: int) -> str:
    return f"AS{asn}"


def city_code(place: str, city: str) -> str:
    """A city inside its subdivision (or its country, when none is declared)."""
    return f"{place}/{city}"


def asn_subdivision_code(asn: int, subdivision: str) -> str:
    return f"{asn_code(asn)}/{subdivision}"


def parse_asn(text: str) -> int | None:
    """``AS9988`` (any case) or ``9988`` -> 9988; None for anything else."""
    match = _ASN.match(text.strip())
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class Parts:
    """What a code says: its network, its place (the country or subdivision code it lies
    in, or is) and a city's name."""

    asn: int | None = None
    place: str | None = None
    city: str | None = None

    @property
    def subdivision(self) -> str | None:
        return self.place if self.place is not None and "-" in self.place else None

    @property
    def country(self) -> str | None:
        if self.place is None:
            return None
        return self.place.split("-")[0] if "-" in self.place else self.place


def parse(entity_type: str, code: str) -> Parts:
    """The parts of ``code`` for an entity of ``entity_type`` (no validation: a code the
    detector did not write gives whatever parts it has)."""
    head, sep, tail = code.partition("/")
    if entity_type in ("country", "subdivision"):
        return Parts(place=code)
    if entity_type == "city":
        return Parts(place=head, city=tail if sep else None)
    if entity_type == "asn":
        return Parts(asn=parse_asn(head))
    if entity_type == "asn_subdivision":
        return Parts(asn=parse_asn(head), place=tail if sep else None)
    return Parts()


def parse_ref(value: str) -> tuple[str | None, str]:
    """``TYPE:CODE`` -> (type, code); a bare ``CODE`` -> (None, code). The type is not
    checked here (callers answer their own error)."""
    entity_type, sep, code = value.partition(":")
    return (entity_type, code) if sep else (None, value)
