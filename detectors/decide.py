"""Decisions: is an entity down, as a whole, far beyond its usual churn?

The model is Disco's burst of simultaneous disconnections made probabilistic: under normal
churn each active probe starts a silence within one burst window with probability ``churn``,
so the number that did is Binomial(n, churn); a burst whose tail probability is below
``max_surprise`` (and which meets the evidence thresholds) is an outage. ``confidence`` is
the posterior of "down" against that null with an even prior. Hysteresis: an entity opens at
``open_fraction`` of its active probes and its event closes at ``close_fraction``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from cutwatch.detectors.entities import Entity
from cutwatch.detectors.params import Params

# Terms this small relative to the sum no longer change a float total.
_EPS = 1e-17


@dataclass(frozen=True, slots=True)
class Verdict:
    affected: frozenset[int]
    total: int
    confidence: float
    asns: tuple[int, ...]
    path: str = "burst"  # which silence signal: burst | level (conditions: burst)


def binomial_tail(n: int, k: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exact to float precision for any n.

    Terms are walked with the ratio recurrence in log space from the largest one summed, so
    nothing underflows: below the mean the complement (k terms) is taken, above it the tail
    is summed until its terms no longer change the total (they fall geometrically past the
    mode), which is a few hundred terms even for n in the millions.
    """
    if k <= 0 or p >= 1.0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    log_ratio = math.log(p) - math.log1p(-p)

    def log_pmf(i: int) -> float:
        return (math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                + i * math.log(p) + (n - i) * math.log1p(-p))

    if k <= n * p:
        # P(X < k) = sum of pmf(0..k-1); pmf grows up to k-1 < mode, so walk down from it
        top = log_pmf(k - 1)
        total, log_term = 0.0, top
        for i in range(k - 1, -1, -1):
            term = math.exp(log_term - top)
            total += term
            if term < _EPS * total:
                break
            if i:  # pmf(i - 1) / pmf(i) = i / (n - i + 1) / ratio
                log_term += math.log(i) - math.log(n - i + 1) - log_ratio
        return min(1.0, max(0.0, 1.0 - math.exp(top) * total))
    top = log_pmf(k)  # the largest term of the tail (k lies past the mode)
    total, log_term = 0.0, top
    for i in range(k, n + 1):
        term = math.exp(log_term - top)
        total += term
        if term < _EPS * total:
            break
        if i < n:  # pmf(i + 1) / pmf(i) = (n - i) / (i + 1) * ratio
            log_term += math.log(n - i) - math.log(i + 1) + log_ratio
    return min(1.0, math.exp(top + math.log(total)))


def confidence(surprise: float) -> float:
    return 1.0 / (1.0 + surprise)


def network_spread(affected: Iterable[int], unaffected: Iterable[int],
                   asn_of: Sequence[int | None], churn: float,
                   params: Params) -> tuple[tuple[int, ...], bool]:
    """ASNs in which at least ``open_fraction`` of the entity's probes are affected, and
    whether the area stays surprising without its most affected network (else one ISP's
    outage plus a coincidental silence elsewhere would pass for an area-wide one)."""
    hit = Counter(asn_of[p] for p in affected)
    rest = Counter(asn_of[p] for p in unaffected)
    spread = tuple(sorted(
        a for a, k in hit.items() if a is not None and k / (k + rest[a]) >= params.open_fraction
    ))
    if not hit:
        return spread, False
    top, top_hits = hit.most_common(1)[0]
    others = sum(hit.values()) - top_hits
    others_active = others + sum(rest.values()) - rest[top]
    beyond = others > 0 and binomial_tail(others_active, others, churn) <= params.network_surprise
    return spread, beyond


def whole(entity: Entity, share: Callable[[int], tuple[int, int]], params: Params) -> bool:
    """Every populated part of the entity is affected too (else a part explains it)."""
    for parts in entity.children.values():
        for idx in parts:
            k, n = share(idx)
            if n >= params.part_min_probes and k / n < params.part_fraction:
                return False
    return True


def judge(entity: Entity, affected: Collection[int], unaffected: Iterable[int], active: int,
          churn: float, share: Callable[[int], tuple[int, int]],
          asn_of: Sequence[int | None], params: Params) -> Verdict | None:
    """The verdict on one entity, or None when the evidence is not enough."""
    k = len(affected)
    if k < params.min_probes or active <= 0 or k / active < params.open_fraction:
        return None
    surprise = binomial_tail(active, k, max(churn, params.churn_floor))
    if surprise > params.max_surprise:
        return None
    if not whole(entity, share, params):
        return None
    asns, beyond_one = network_spread(affected, unaffected, asn_of,
                                      max(churn, params.churn_floor), params)
    networks_known = any(asn_of[p] is not None for p in affected)
    if entity.key.type not in ("asn", "asn_subdivision") and networks_known and \
            (len(asns) < params.min_asns or not beyond_one):
        return None  # (a fleet that declares no networks cannot be held to this rule)
    return Verdict(frozenset(affected), active, confidence(surprise), asns)
