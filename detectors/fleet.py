"""Simulated fleets: probes spread over countries, provinces, cities, networks and access types.

Used by ``cutwatch simulate`` and the benchmark. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cutwatch.detectors.model import EntityKey, ProbeInfo


@dataclass(frozen=True, slots=True)
class SimProbe:
    info: ProbeInfo
    phase: float  # seconds into each cadence period at which it uploads
    night_off: tuple[float, float] | None  # (off, on) seconds of day, UTC; None: always on


@dataclass(frozen=True, slots=True)
class FleetSpec:
    """Countries with provinces; each country has a few fixed ISPs and mobile operators."""

    countries: tuple[str, ...] = ("MM", "TH", "KH")
    subdivisions: int = 3
    cities: int = 2
    probes_per_country: tuple[int, ...] = (48, 18, 12)
    fixed_asns: int = 2
    mobile_asns: int = 2
    mobile_share: float = 0.35
    night_off_share: float = 0.15
    night_countries: tuple[str, ...] | None = None
    """Only these countries' probes switch off at night (None: all countries)."""
    night_jitter_s: float = 1800.0
    """Spread of switch-off times between probes (a shared timer would be near 0)."""
    cadence_s: float = 60.0
    measure_every: int = 1
    """Measure the catalogue every this many upload rounds (1: every round)."""


def build_fleet(spec: FleetSpec, rng: random.Random) -> list[SimProbe]:
    probes: list[SimProbe] = []
    for ci, country in enumerate(spec.countries):
        count = spec.probes_per_country[ci % len(spec.probes_per_country)]
        fixed = [64500 + ci * 100 + i for i in range(spec.fixed_asns)]
        mobile = [64550 + ci * 100 + i for i in range(spec.mobile_asns)]
        for n in range(count):
            sub = f"{country}-{n % spec.subdivisions + 1:02d}"
            city = f"City{n // spec.subdivisions % spec.cities + 1}-{sub}"
            is_mobile = rng.random() < spec.mobile_share
            asn = rng.choice(mobile if is_mobile else fixed)
            # spread the networks over the provinces so each province has several
            if n < spec.subdivisions * 2:
                asn = (fixed + mobile)[n % (len(fixed) + len(mobile))]
                is_mobile = asn in mobile
            night = None
            nightly = spec.night_countries is None or country in spec.night_countries
            if rng.random() < spec.night_off_share and nightly:
                off = 22 * 3600 + rng.uniform(-spec.night_jitter_s, spec.night_jitter_s)
                night = (off, off + 8 * 3600 + rng.uniform(-spec.night_jitter_s,
                                                           spec.night_jitter_s))
            info = ProbeInfo(f"{country.lower()}-{n:03d}", country, sub, city, asn,
                             "mobile" if is_mobile else "fixed")
            probes.append(SimProbe(info, rng.uniform(0, spec.cadence_s), night))
    return probes


def select(probes: list[SimProbe], entity_type: str, code: str,
           access: str | None = None) -> list[SimProbe]:
    """The probes of one entity, as the detector's entity codes name them."""
    key = EntityKey(entity_type, code)  # type: ignore[arg-type]
    return [p for p in probes if key in {k for k, _ in p.info.entities()}
            and (access is None or p.info.access == access)]
