"""The operator's catalogue file: validated at start, cut per country, reloaded on change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cutwatch.api.catalogue import CatalogueError, CatalogueFile, parse
from cutwatch.probes.targets import Schedule

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "catalogue.example.toml"


def test_example_catalogue_is_valid_and_cut_per_country() -> None:
    catalogue = parse(EXAMPLE)  # parsed only: tests never contact its public hosts
    mm = catalogue.for_probe("MM")
    th = catalogue.for_probe("th")
    mm_tags = {t.name: t.tag for t in mm.targets}
    assert mm_tags["mm-mpt-443"] == "domestic"
    assert mm_tags["dns-quad9-wikipedia"] == "international"
    assert mm_tags["lan-gateway"] == "lan"
    assert not any(t.name.startswith("mm-") for t in th.targets)
    assert len(th.targets) == len(mm.targets) - 3
    assert catalogue.schedule is not None
    # the example shows the defaults a probe runs without it (docs/probe.md)
    default = Schedule()
    assert (catalogue.schedule.pulse, catalogue.schedule.service, catalogue.schedule.upload) \
        == (default.pulse, default.service, default.upload) == (30, 900, 15)
    assert {p.name for p in mm.block_pages} == {"mm-directive", "ir-peyvandha"}


@pytest.mark.parametrize(("text", "message"), [
    ("[[targets]]\nkind = 'tcp'\nname = 'a'\nhost = 'h'\n", "targets.0.port: Field required"),
    ("[oops]\n", "unknown section(s) oops"),
    ("[[targets]]\nkind='tcp'\nname='a'\nhost='h'\nport=1\n[[targets]]\nkind='tcp'\nname='a'\n"
     "host='h'\nport=2\n", "duplicate name 'a'"),
])
def test_broken_catalogue_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(CatalogueError) as info:
        CatalogueFile(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_reload_on_change_keeps_last_good(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[[targets]]\nkind = 'tcp'\nname = 'a'\nhost = '127.0.0.1'\nport = 1\n")
    catalogue = CatalogueFile(path)
    assert [t.name for t in catalogue.get().for_probe("MM").targets] == ["a"]
    path.write_text("[[targets]]\nkind = 'tcp'\nname = 'b'\nhost = '127.0.0.1'\nport = 2\n")
    os.utime(path, (1, 1))
    assert [t.name for t in catalogue.get().for_probe("MM").targets] == ["b"]
    path.write_text("not toml [")
    os.utime(path, (2, 2))
    assert [t.name for t in catalogue.get().for_probe("MM").targets] == ["b"]
    assert CatalogueFile(None).get().for_probe("MM").targets == ()


def test_probe_imports_no_service_code() -> None:
    """What a Pi runs loads without fastapi, psycopg, uvicorn, the service or the detectors."""
    code = (
        "import sys\n"
        "for name in ('fastapi', 'psycopg', 'uvicorn', 'starlette', 'psycopg_pool',\n"
        "             'cutwatch.api', 'cutwatch.detectors'):\n"
        "    sys.modules[name] = None\n"
        "import cutwatch.probes.main, cutwatch.probes.cli, cutwatch.probes.status\n"
        "import cutwatch.probes.register, cutwatch.probes.checks\n"
        "from cutwatch.cli import build_parser\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
