"""The operator's target catalogue: a TOML file on the collector, handed to probes at check-in.

Targets carry an optional ``country``: a target of one country is sent only to that country's
probes, tagged ``domestic``; a target without one is sent to every probe, tagged
``international`` (unless it names its ``tag`` itself, e.g. ``lan``). The file is validated
with the target models of ``cutwatch.catalogue`` at start (a broken file stops the service
with one line) and re-read when it changes (a broken edit keeps the last good version and is
logged).
Without a file (``CUTWATCH_CATALOGUE`` unset) the catalogue is empty.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from cutwatch.catalogue import BlockPage, Catalogue, Schedule, Target

log = logging.getLogger(__name__)

_TARGET: TypeAdapter[Any] = TypeAdapter(Target)


class CatalogueError(Exception):
    """The catalogue file is unusable; the message is one line."""


@dataclass(frozen=True)
class OperatorCatalogue:
    entries: tuple[tuple[str | None, dict[str, Any]], ...] = ()  # (country, target fields)
    block_pages: tuple[BlockPage, ...] = ()
    schedule: Schedule | None = None

    def for_probe(self, country: str | None) -> Catalogue:
        targets = []
        for target_country, fields in self.entries:
            if target_country is not None and target_country != (country or "").upper():
                continue
            tag = "domestic" if target_country is not None else "international"
            targets.append(_TARGET.validate_python({"tag": tag} | fields))
        return Catalogue(targets=tuple(targets), block_pages=self.block_pages)


def parse(path: Path) -> OperatorCatalogue:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"catalogue {path}: {exc}") from None
    unknown = set(data) - {"targets", "block_pages", "schedule"}
    if unknown:
        raise CatalogueError(f"catalogue {path}: unknown section(s) {', '.join(sorted(unknown))}")
    entries = []
    names: set[str] = set()
    try:
        for index, raw in enumerate(data.get("targets", [])):
            fields = dict(raw)
            country = fields.pop("country", None)
            country = str(country).upper() if country is not None else None
            # Validate now, with the tag a probe would get, so errors surface at start.
            try:
                _TARGET.validate_python({"tag": "international"} | fields)
            except ValidationError as exc:
                raise CatalogueError(f"catalogue {path}: targets.{index}."
                                     f"{_where(exc)}") from None
            if fields.get("name") in names:
                raise CatalogueError(f"catalogue {path}: targets.{index}: duplicate name "
                                     f"{fields['name']!r}")
            names.add(fields["name"])
            entries.append((country, fields))
        pages = tuple(BlockPage.model_validate(p) for p in data.get("block_pages", []))
        schedule = Schedule.model_validate(data["schedule"]) if "schedule" in data else None
    except ValidationError as exc:
        raise CatalogueError(f"catalogue {path}: {_where(exc)}") from None
    return OperatorCatalogue(tuple(entries), pages, schedule)


def _where(exc: ValidationError) -> str:
    """``field.path: message`` of the first error, without pydantic's union tags."""
    error = exc.errors()[0]
    kinds = {"dns", "tcp", "http", "gateway", "icmp", "traceroute"}
    where = ".".join(str(p) for p in error["loc"] if p not in kinds)
    return f"{where}: {error['msg']}"


class CatalogueFile:
    """The catalogue at ``path``, re-read when the file changes; the last good one on errors."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._mtime: float | None = None
        self._current = OperatorCatalogue()
        if path is not None:
            self._current = parse(path)
            self._mtime = path.stat().st_mtime

    def get(self) -> OperatorCatalogue:
        if self.path is None:
            return self._current
        try:
            mtime = self.path.stat().st_mtime
            if mtime != self._mtime:
                self._mtime = mtime
                self._current = parse(self.path)
                log.info("catalogue reloaded from %s", self.path)
        except (OSError, CatalogueError) as exc:
            log.error("keeping the last good catalogue: %s", exc)
        return self._current
