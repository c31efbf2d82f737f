"""What of a probe the public may see: no group of fewer than the minimum of probes.

A pure policy over the listed probes. A probe's city shows only when at least ``minimum``
probes share its country, province and city; its province likewise; its network (ASN) when
at least ``minimum`` probes of its country share it; a probe whose country has fewer is not
published at all. The volunteer's free-text name never is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar


class Located(Protocol):
    @property
    def country(self) -> str: ...
    @property
    def subdivision(self) -> str | None: ...
    @property
    def city(self) -> str | None: ...
    @property
    def asn(self) -> int | None: ...


V = TypeVar("V", bound="Publishable")


class Publishable(Located, Protocol):
    def model_copy(self: V, *, update: dict[str, object] | None = None,
                   deep: bool = False) -> V: ...


@dataclass(frozen=True)
class Counts:
    minimum: int
    countries: Counter[str]
    subdivisions: Counter[tuple[str, str | None]]
    cities: Counter[tuple[str, str | None, str | None]]
    networks: Counter[tuple[str, int | None]]

    @classmethod
    def of(cls, probes: Iterable[Located], minimum: int) -> Counts:
        listed = list(probes)
        return cls(
            minimum=minimum,
            countries=Counter(p.country for p in listed),
            subdivisions=Counter((p.country, p.subdivision) for p in listed),
            cities=Counter((p.country, p.subdivision, p.city) for p in listed),
            networks=Counter((p.country, p.asn) for p in listed),
        )

    def shows_country(self, probe: Located) -> bool:
        return self.countries[probe.country] >= self.minimum


def generalise(probe: V, counts: Counts) -> V:
    """``probe`` with every field of a too-small group (and the name) left out."""
    enough = counts.minimum
    subdivision_ok = counts.subdivisions[(probe.country, probe.subdivision)] >= enough
    city_ok = subdivision_ok and counts.cities[
        (probe.country, probe.subdivision, probe.city)] >= enough
    network_ok = counts.networks[(probe.country, probe.asn)] >= enough
    return probe.model_copy(update={
        "name": None,
        "subdivision": probe.subdivision if subdivision_ok else None,
        "city": probe.city if city_ok else None,
        "asn": probe.asn if network_ok else None,
    })
