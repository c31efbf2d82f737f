"""Sybil rule: how many independent sources an event's evidence comes from.

An operator (the holder of an enrollment token) can enrol as many probes as it likes, in as
many networks as it can reach, and make them all fall silent. Such an event is still raised,
but flagged ``single_source`` unless its probes belong to at least ``min_operators``
operators and, for an area (country, province, city), lie in at least ``min_networks``
networks. A network event (one ASN) has one network by nature: operators alone count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cutwatch.detectors.model import EntityType
from cutwatch.detectors.params import Params

NETWORK_TYPES: frozenset[EntityType] = frozenset({"asn", "asn_subdivision"})


def count(members: Iterable[int], operator_of: Sequence[str | None],
          asn_of: Sequence[int | None]) -> tuple[int, int]:
    """Distinct operators and known networks of the probes ``members``; a probe with no
    operator counts as its own (data that names none cannot be held to the rule)."""
    operators: set[str | int] = set()
    networks: set[int] = set()
    for p in members:
        op = operator_of[p]
        operators.add(p if op is None else op)
        asn = asn_of[p]
        if asn is not None:
            networks.add(asn)
    return len(operators), len(networks)


def single_source(entity_type: EntityType, operators: int, networks: int,
                  params: Params) -> bool:
    """Whether evidence from ``operators`` operators in ``networks`` known networks is too
    narrow for an unflagged event on an entity of this type. With no network known at all
    (a collector without a GeoIP database) only the operator rule applies, as the network
    rule of ``decide.judge`` does not either."""
    if operators < params.min_operators:
        return True
    if entity_type in NETWORK_TYPES:
        return False
    return 0 < networks < params.min_networks
