"""The wire format's closed vocabularies and limits, without pydantic.

Both sides read these: the collector's models (``cutwatch.wire``, ``cutwatch.catalogue``) and
the probe's plain records and parsers (``cutwatch.probes.records``,
``cutwatch.probes.targets``), which must not import pydantic (it is most of a Raspberry Pi
probe's memory budget).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final, Literal

SCHEMA_VERSION: Final = 1
MAX_RESULTS_PER_BATCH: Final = 5000
# A clock more than a year off is broken, not skewed.
MAX_OFFSET_MS: Final = 366 * 86_400_000

CheckKind = Literal["dns", "tcp", "http", "gateway", "icmp", "traceroute"]
# Where a target sits relative to the probe: its own LAN (gateway, home resolver), its own
# country, or abroad. This is what tells a home fault from a regional or a gateway cut.
Scope = Literal["lan", "domestic", "international"]
Family = Literal["ipv4", "ipv6"]
Access = Literal["fixed", "mobile", "satellite"]

# Every wire timestamp names an instant in these years, whatever its UTC offset. Far wider
# than any real clock error, and narrow enough that converting to UTC, PostgreSQL's
# timestamptz and the detector's float seconds can never overflow (year 1 with a +01:00
# offset would). The collector narrows this further around its own clock (api.admission).
FIRST_YEAR: Final = 2000
LAST_YEAR: Final = 2199


def to_utc(value: datetime) -> datetime:
    """An aware timestamp in UTC, within the wire's years (``ValueError`` otherwise)."""
    if value.tzinfo is None:
        raise ValueError("timestamp must have a UTC offset")
    # The year is checked before the conversion, which is what would overflow.
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"year must be between {FIRST_YEAR} and {LAST_YEAR}")
    utc = value.astimezone(UTC)
    if not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise ValueError(f"year must be between {FIRST_YEAR} and {LAST_YEAR}")
    return utc


def compiled_patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """A catalogue's block-page patterns, each one a valid regular expression."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad block pattern {pattern!r}: {exc}") from None
    return patterns
