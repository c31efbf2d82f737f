"""The volunteer's probe configuration: a TOML file read into one validated settings object.

Built once at the entry point (``cutwatch probe ...``) and passed down. Credentials live in
the state directory (written 0600 by ``cutwatch probe register``) unless given inline.
A broken file gives one clear line (``ConfigError``), never a traceback.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cutwatch.validation import describe_errors
from cutwatch.wire import CheckKind
from probes.targets import BlockPage, Schedule, Target

CREDENTIALS = "credentials.json"
# pydantic puts the tag of a discriminated union's member in the location
# (targets.0.tcp.port): it says which model was tried, not which field is wrong.
UNION_TAGS = frozenset(get_args(CheckKind))


class ConfigError(Exception):
    """A config or credentials problem, said in one line."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProbeSection(_Section):
    state_dir: Path = Field(default=Path("/var/lib/cutwatch-probe"))
    collectors: tuple[str, ...] = Field(
        default=(), description="Collector base URLs, tried in order; default: the one the "
        "probe registered with.")
    probe_id: str | None = None
    token: str | None = Field(default=None, description="<probe_id>.<secret>; default: "
                              "state_dir/credentials.json")
    checkin: bool = Field(default=True, description="Fetch the catalogue from the collector.")

    @field_validator("collectors")
    @classmethod
    def _urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(collector_url(url) for url in urls)


def collector_url(url: str) -> str:
    """A collector base URL as the probe keeps it (config and registration alike)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"collector URL must start with http:// or https://: {url}")
    return url.rstrip("/")


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
    def _unique(cls, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        names = [t.name for t in targets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"target names must be unique: {', '.join(dupes)}")
        return targets


class Credentials(_Section):
    probe_id: str
    token: str
    collectors: tuple[str, ...] = ()


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
        return ProbeConfig.model_validate(data)
    except ValidationError as exc:
        where = describe_errors(exc.errors(), skip=UNION_TAGS)
        raise ConfigError(f"config {path}: {where}") from None


def load_credentials(config: ProbeConfig) -> Credentials:
    section = config.probe
    if section.token:
        probe_id = section.probe_id or section.token.partition(".")[0]
        return Credentials(probe_id=probe_id, token=section.token, collectors=section.collectors)
    path = section.state_dir / CREDENTIALS
    try:
        stored = Credentials.model_validate(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ConfigError(f"no credentials in {path}: run 'cutwatch probe register' "
                          "first") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"unreadable credentials {path}: {exc}") from None
    collectors = section.collectors or stored.collectors
    if not collectors:
        raise ConfigError("no collector URL: set probe.collectors in the config")
    return stored.model_copy(update={"collectors": collectors})


def save_credentials(state_dir: Path, credentials: Credentials) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / CREDENTIALS
    write_state_file(path, credentials.model_dump_json(indent=2))
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
