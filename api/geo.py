"""Network facts from a source address: ASN and country through an offline MMDB file.

The operator supplies the database (MaxMind GeoLite2-ASN / GeoLite2-Country, DB-IP lite or
ipinfo lite); ``maxminddb`` reads it locally, so no address ever leaves the collector. The
caller looks the address up, keeps the two facts, and drops the address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import maxminddb

_ASN_TEXT = re.compile(r"^(?:AS)?(\d{1,10})$", re.IGNORECASE)


@dataclass(frozen=True)
class Network:
    """What the collector learns about where an upload came from (never the address itself)."""

    asn: int | None
    country: str | None


UNKNOWN = Network(asn=None, country=None)


class GeoLookup:
    """Reads one or more MMDB files and merges what they know about an address."""

    def __init__(self, readers: Sequence[maxminddb.Reader]) -> None:
        self._readers = tuple(readers)

    @classmethod
    def open(cls, paths: Iterable[Path]) -> GeoLookup:
        readers = []
        for path in paths:
            if not path.is_file():
                raise FileNotFoundError(f"GeoIP database not found: {path}")
            readers.append(maxminddb.open_database(str(path)))
        return cls(readers)

    @property
    def configured(self) -> bool:
        return bool(self._readers)

    def lookup(self, address: str | None) -> Network:
        if not address or not self._readers:
            return UNKNOWN
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return UNKNOWN
        asn: int | None = None
        country: str | None = None
        for reader in self._readers:
            record = reader.get(ip)
            if not isinstance(record, Mapping):
                continue
            asn = asn if asn is not None else _asn(record)
            country = country or _country(record)
        return Network(asn=asn, country=country)

    def close(self) -> None:
        for reader in self._readers:
            reader.close()


def _asn(record: Mapping[str, Any]) -> int | None:
    # MaxMind / DB-IP: autonomous_system_number (int); ipinfo lite: asn ("AS13335").
    for key in ("autonomous_system_number", "asn"):
        value = record.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            match = _ASN_TEXT.match(value.strip())
            if match:
                return int(match.group(1))
    return None


def _country(record: Mapping[str, Any]) -> str | None:
    # MaxMind / DB-IP: country.iso_code; ipinfo lite: country_code.
    country = record.get("country")
    candidates = [
        country.get("iso_code") if isinstance(country, Mapping) else None,
        record.get("country_code"),
    ]
    for value in candidates:
        if isinstance(value, str) and len(value) == 2 and value.isalpha():
            return value.upper()
    return None
