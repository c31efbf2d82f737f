"""The deployment files name real settings: a misspelt variable is silently ignored otherwise."""

from __future__ import annotations

import re
from pathlib import Path

from cutwatch.api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _setting_names() -> set[str]:
    return {f"CUTWATCH_{name.upper()}" for name in Settings.model_fields} | {"DATABASE_URL"}


def test_compose_env_example_uses_real_setting_names() -> None:
    text = (ROOT / "deploy/compose/cutwatch.env.example").read_text()
    names = set(re.findall(r"^([A-Z_]+)=", text, re.MULTILINE))
    assert names - _setting_names() == set()
    # nginx forwards the probe's address; without this the GeoIP lookup sees the proxy's.
    assert {"CUTWATCH_FORWARDED_ALLOW_IPS", "CUTWATCH_GEOIP_ASN_DB",
            "CUTWATCH_PUBLIC_BASE_URL"} <= names


def test_dockerfile_env_uses_real_setting_names() -> None:
    text = (ROOT / "Dockerfile").read_text()
    names = set(re.findall(r"\b(CUTWATCH_[A-Z_]+)=", text))
    assert names == {"CUTWATCH_HOST", "CUTWATCH_PORT", "CUTWATCH_DATA_DIR"}
    assert names <= _setting_names()


def test_dockerfile_copies_everything_the_wheel_is_built_from() -> None:
    """The image builds the project from what its COPY lines bring in: the files
    tests/test_wheels.py builds both wheels from (setup.py chooses the packages)."""
    sources = {"pyproject.toml", "setup.py", "README.md", "constraints.txt",
               "cutwatch", "probes", "api", "detectors"}
    text = (ROOT / "Dockerfile").read_text()
    build_stage = text.split("\nFROM ", 2)[1]
    copied = {word.rstrip("/").removeprefix("./") for line in build_stage.splitlines()
              if line.startswith("COPY ") and "--from" not in line
              for word in line.split()[1:-1]}
    assert sources <= copied, sources - copied
