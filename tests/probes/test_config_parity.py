"""The probe's config is as strict as it was when pydantic read it, with the same first error.

The pydantic models below (same names, so errors word alike) are the probe's config models as
they were before the probe stopped importing pydantic, kept here as the reference; every row
of the table and every setting set to every value of a list of wrong ones goes through both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cutwatch.catalogue import BlockPage, Schedule, Target
from cutwatch.probes import config as plain
from cutwatch.probes.config import UNION_TAGS, collector_url
from cutwatch.probes.validate import Invalid
from cutwatch.validation import describe_errors


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProbeSection(_Section):
    state_dir: Path = Path("/var/lib/cutwatch-probe")
    collectors: tuple[str, ...] = ()
    probe_id: str | None = None
    token: str | None = None
    checkin: bool = True

    @field_validator("collectors")
    @classmethod
    def _urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(collector_url(url) for url in urls)


class SpoolSection(_Section):
    max_mb: float = Field(default=20, gt=0.1, le=10_000)
    max_age_days: float = Field(default=14, gt=0, le=365)
    batch_size: int = Field(default=500, ge=1, le=5000)
    fresh_per_batch: int = Field(default=100, ge=0, le=5000)


class ProbeConfig(_Section):
    probe: ProbeSection = ProbeSection()
    schedule: Schedule = Schedule()
    spool: SpoolSection = SpoolSection()
    targets: tuple[Target, ...] = ()
    block_pages: tuple[BlockPage, ...] = ()

    @field_validator("targets")
    @classmethod
    def _unique(cls, targets: tuple[Any, ...]) -> tuple[Any, ...]:
        names = [t.name for t in targets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"target names must be unique: {', '.join(dupes)}")
        return targets


TCP = {"kind": "tcp", "name": "t", "tag": "domestic", "host": "h", "port": 1}
GOOD: dict[str, Any] = {
    "probe": {"state_dir": "/tmp/x", "collectors": ["https://c.example/", "http://127.0.0.1:1"],
              "probe_id": "p", "token": "p.s", "checkin": False},
    "schedule": {"pulse": 30, "service": 600, "jitter": 0.2, "upload": 30, "checkin": 600},
    "spool": {"max_mb": 5, "max_age_days": 7, "batch_size": 100, "fresh_per_batch": 10},
    "targets": [TCP], "block_pages": [{"name": "b", "pattern": "p"}],
}
WRONG: list[Any] = [None, "", "x", "5", "true", 0, 1, -1, 0.05, 0.5, 5.0, 10_001, 86_401,
                    True, float("nan"), [], ["ftp://x"], ["http://x/"], [1], {}, {"x": 1}]
TABLE: list[tuple[str, Any]] = [
    ("empty", {}),
    ("every setting", GOOD),
    ("unknown section", {"oops": {}}),
    ("section not a table", {"spool": 5}),
    ("duplicate targets", {"targets": [TCP, TCP | {"port": 2}]}),
    ("three duplicates", {"targets": [TCP, TCP, TCP | {"name": "u"}, TCP | {"name": "u"}]}),
    ("bad target and bad setting", {"targets": [TCP | {"port": 0}], "spool": {"max_mb": 0}}),
    ("bad collector among good", {"probe": {"collectors": ["http://a", "gopher://b"]}}),
]


def _ours(data: Any) -> tuple[str, Any]:
    try:
        config = plain.ProbeConfig.from_dict(data)
    except Invalid as exc:
        return "refused", describe_errors(exc.errors, skip=UNION_TAGS)
    return "ok", (str(config.probe.state_dir), config.probe.collectors, config.probe.checkin,
                  config.spool.max_mb, config.spool.batch_size, config.schedule.pulse,
                  [t.name for t in config.targets], len(config.block_pages))


def _reference(data: Any) -> tuple[str, Any]:
    try:
        config = ProbeConfig.model_validate(data)
    except ValidationError as exc:
        return "refused", describe_errors(exc.errors(), skip=UNION_TAGS)
    return "ok", (str(config.probe.state_dir), config.probe.collectors, config.probe.checkin,
                  config.spool.max_mb, config.spool.batch_size, config.schedule.pulse,
                  [t.name for t in config.targets], len(config.block_pages))


@pytest.mark.parametrize(("case", "data"), TABLE, ids=[c for c, _ in TABLE])
def test_the_table_is_read_alike(case: str, data: Any) -> None:
    assert _ours(data) == _reference(data)


def test_every_setting_with_every_wrong_value() -> None:
    mismatched, outcomes = [], set()
    for section in ("probe", "schedule", "spool"):
        for key in [*GOOD[section], "surprise"]:
            for value in WRONG:
                data = GOOD | {section: GOOD[section] | {key: value}}
                ours, reference = _ours(data), _reference(data)
                outcomes.add(reference[0])
                if ours != reference:
                    mismatched.append((section, key, value, ours, reference))
    assert outcomes == {"ok", "refused"}
    assert mismatched == []
