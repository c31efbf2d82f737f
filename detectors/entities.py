"""Entity index: which probes make up each entity, its parts, and live counters.

Counters (alive probes, probes in a silence burst, probes with a live condition) are kept up
to date as probes change state, so an evaluation reads them instead of scanning probes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cutwatch.detectors.model import EntityKey, ProbeInfo


class HasEntities(Protocol):
    entities: list[int]

# Which entity a probe's entity is split into (its "parts"); access splits every unscoped one.
CHILD_TYPE = {"country": "subdivision", "subdivision": "city", "asn": "asn_subdivision"}


class Entity:
    __slots__ = (
        "alive", "burst", "children", "conditions", "country", "idx", "key", "level_base",
        "level_samples", "members", "name", "old",
    )

    def __init__(self, idx: int, key: EntityKey, name: str, country: str | None) -> None:
        self.idx = idx
        self.key = key
        self.name = name
        self.country = country  # the one country it lies in, None when it spans several
        self.members: set[int] = set()
        self.alive = 0
        self.burst: set[int] = set()
        self.old: set[int] = set()  # silent beyond a burst window, within the level window
        self.level_samples: list[float] = []  # silent shares, one per level_sample_s (a ring)
        self.level_base = 0.0  # their median: the entity's usual silent share
        self.conditions: dict[str, set[int]] = {}
        self.children: dict[str, set[int]] = {}  # partition name -> child entity indexes

    @property
    def active(self) -> int:
        return self.alive + len(self.burst)

    @property
    def expected(self) -> int:
        """Probes that reported within the level window (the level's denominator)."""
        return self.alive + len(self.burst) + len(self.old)

    def silent_share(self) -> float:
        n = self.expected
        return (len(self.burst) + len(self.old)) / n if n else 0.0

    def sample_level(self, history: int) -> None:
        """Add the current silent share to the baseline ring and refresh its median."""
        samples = self.level_samples
        samples.append(self.silent_share())
        if len(samples) > history:
            del samples[0]
        ordered = sorted(samples)
        self.level_base = ordered[len(ordered) // 2]


class EntityIndex:
    def __init__(self) -> None:
        self.entities: list[Entity] = []
        self.by_key: dict[EntityKey, int] = {}
        self.countries: dict[str, int] = {}

    def attach(self, probe: int, info: ProbeInfo) -> list[int]:
        """Add a probe to its entities (creating them) and return their indexes."""
        pairs = info.entities()
        idxs: list[int] = []
        by_key: dict[EntityKey, int] = {}
        for key, name in pairs:
            idx = self.by_key.get(key)
            if idx is None:
                idx = len(self.entities)
                self.entities.append(Entity(idx, key, name, info.country))
                self.by_key[key] = idx
                if key.type == "country" and key.access is None:
                    self.countries[key.code] = idx
            self.entities[idx].members.add(probe)
            if self.entities[idx].country != info.country:
                # an entity seen in two countries (an ASN) lies in no single one
                self.entities[idx].country = None
            idxs.append(idx)
            by_key[key] = idx
        for key, idx in by_key.items():
            parent = self.entities[idx]
            if key.access is None and info.access is not None:
                scoped = by_key.get(EntityKey(key.type, key.code, info.access))
                if scoped is not None:
                    parent.children.setdefault("access", set()).add(scoped)
            child_type = CHILD_TYPE.get(key.type)
            for other, cidx in by_key.items():
                if other.type == child_type and other.access == key.access:
                    parent.children.setdefault(child_type, set()).add(cidx)
        return idxs

    def ancestors(self, idx: int, probes: Sequence[HasEntities]) -> set[int]:
        """Entities strictly wider than this one that hold all of its probes (any dimension:
        a mobile operator's ASN lies inside its country's mobile scope)."""
        ent = self.entities[idx]
        if not ent.members:
            return set()
        first = next(iter(ent.members))
        return {a for a in probes[first].entities
                if a != idx and len(self.entities[a].members) > len(ent.members)
                and ent.members <= self.entities[a].members}

    def detach(self, probe: int, idxs: list[int]) -> None:
        for idx in idxs:
            self.entities[idx].members.discard(probe)
