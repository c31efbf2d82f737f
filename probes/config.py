"""The volunteer's probe configuration: a TOML file read into one validated settings object.

Built once at the entry point (``cutwatch probe ...``) and passed down. Credentials live in
the state directory (written 0600 by ``cutwatch probe register``) unless given inline.
A broken file gives one clear line (``ConfigError``), never a traceback.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, get_args

from cutwatch.probes import validate as v
from cutwatch.probes.targets import BLOCK_PAGE as _BLOCK_PAGE
from cutwatch.probes.targets import SCHEDULE, TARGET, BlockPage, Schedule, Target
from cutwatch.validation import describe_errors
from cutwatch.vocab import CheckKind

CREDENTIALS = "credentials.json"
# The collector's pydantic errors name the tag of a discriminated union's member in the
# location (targets.0.tcp.port); the probe's wording leaves it out the same way.
UNION_TAGS = frozenset(get_args(CheckKind))


class ConfigError(Exception):
    """A config or credentials problem, said in one line."""


@dataclass(frozen=True, kw_only=True)
class ProbeSection:
    state_dir: Path = Path("/var/lib/cutwatch-probe")
    # Collector base URLs, tried in order; default: the one the probe registered with.
    collectors: tuple[str, ...] = ()
    probe_id: str | None = None
    token: str | None = None  # <probe_id>.<secret>; default: state_dir/credentials.json
    checkin: bool = True  # fetch the catalogue from the collector


def collector_url(url: str) -> str:
    """A collector base URL as the probe keeps it (config and registration alike)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"collector URL must start with http:// or https://: {url}")
    return url.rstrip("/")


@dataclass(frozen=True, kw_only=True)
class SpoolSection:
    max_mb: float = 20
    max_age_days: float = 14
    batch_size: int = 500
    fresh_per_batch: int = 100


def _unique(targets: tuple[Target, ...]) -> tuple[Target, ...]:
    names = [t.name for t in targets]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"target names must be unique: {', '.join(dupes)}")
    return targets


@dataclass(frozen=True, kw_only=True)
class ProbeConfig:
    probe: ProbeSection = field(default_factory=ProbeSection)
    schedule: Schedule = field(default_factory=Schedule)
    spool: SpoolSection = field(default_factory=SpoolSection)
    targets: tuple[Target, ...] = ()
    block_pages: tuple[BlockPage, ...] = ()

    @classmethod
    def from_dict(cls, data: Any) -> ProbeConfig:
        """The config read from its TOML table; ``v.Invalid`` names every error."""
        config: ProbeConfig = v.validate(_CONFIG, data)
        return config


@dataclass(frozen=True, kw_only=True)
class Credentials:
    probe_id: str
    token: str
    collectors: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _path(value: Any, loc: v.Loc, errors: v.Errors) -> Any:
    if isinstance(value, str | Path):
        return Path(value)
    errors.add(loc, f"Input is not a valid path for {Path!r}")
    return v.BAD


_URLS = v.with_rule(v.tuple_of(v.string()),
                   lambda urls: tuple(collector_url(url) for url in urls))
_CONFIG = v.record(ProbeConfig, {
    "probe": v.record(ProbeSection, {
        "state_dir": _path, "collectors": _URLS, "probe_id": v.optional(v.string()),
        "token": v.optional(v.string()), "checkin": v.boolean}),
    "schedule": SCHEDULE,
    "spool": v.record(SpoolSection, {
        "max_mb": v.number(gt=0.1, le=10_000), "max_age_days": v.number(gt=0, le=365),
        "batch_size": v.integer(ge=1, le=5000), "fresh_per_batch": v.integer(ge=0, le=5000)}),
    "targets": v.with_rule(v.tuple_of(TARGET), _unique),
    "block_pages": v.tuple_of(_BLOCK_PAGE),
})
_CREDENTIALS = v.record(Credentials, {"probe_id": v.string(), "token": v.string(),
                                      "collectors": v.tuple_of(v.string())})


def load_config(path: Path) -> ProbeConfig:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from None
    try:
        return ProbeConfig.from_dict(data)
    except v.Invalid as exc:
        where = describe_errors(exc.errors, skip=UNION_TAGS)
        raise ConfigError(f"config {path}: {where}") from None


def load_credentials(config: ProbeConfig) -> Credentials:
    section = config.probe
    if section.token:
        probe_id = section.probe_id or section.token.partition(".")[0]
        return Credentials(probe_id=probe_id, token=section.token, collectors=section.collectors)
    path = section.state_dir / CREDENTIALS
    try:
        stored: Credentials = v.validate(_CREDENTIALS, json.loads(path.read_text()))
    except FileNotFoundError:
        raise ConfigError(f"no credentials in {path}: run 'cutwatch probe register' "
                          "first") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"unreadable credentials {path}: {exc}") from None
    collectors = section.collectors or stored.collectors
    if not collectors:
        raise ConfigError("no collector URL: set probe.collectors in the config")
    return replace(stored, collectors=collectors)


def save_credentials(state_dir: Path, credentials: Credentials) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / CREDENTIALS
    write_state_file(path, credentials.to_json())
    return path


def write_state_file(path: Path, text: str) -> None:
    """Replace a file of the state dir: readable by the probe's user only (0600), fsynced and
    renamed into place, so a power cut leaves the old file or the new one, never half."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)


def write_new_config(path: Path, *, state_dir: Path, collector: str) -> None:
    """The smallest config that runs: where the state lives and which collector to use.

    Written by ``cutwatch probe register --config F`` when ``F`` does not exist yet, so the
    documented ``register`` -> ``once`` -> ``run`` steps need no hand-written file.
    """
    text = (
        "# Written by 'cutwatch probe register'. Every setting: docs/probe.md"
        " (\"Config reference\").\n"
        "[probe]\n"
        f"state_dir = {json.dumps(str(state_dir.resolve()))}\n"
        f"collectors = [{json.dumps(collector)}]\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_state_file(path, text)
    load_config(path)  # what was written must load
