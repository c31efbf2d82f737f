"""The drill's probes run from an install with the probe extra only."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cutwatch.api.drill.probe_env import ROOT, probe_python, venv_for


def _python(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                          cwd="/", check=False, timeout=120)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_probes_install_has_no_service_packages() -> None:
    """Built once (by `make test`'s set-up) and cached; what a probe would import by mistake
    from the service is not there, not even the service's code, so such a probe fails in the
    drill as on a Pi."""
    python = probe_python(say=lambda _: None)
    assert probe_python(say=pytest.fail) == python  # cached: not built again
    # positive control: the probe itself imports and runs its command line
    done = _python(python, "import cutwatch.probes.main, cutwatch.probes.agent, httpx, "
                           "cutwatch.cli")
    assert done.returncode == 0, done.stderr
    helped = subprocess.run([str(python), "-m", "cutwatch", "probe", "run", "--help"],
                            capture_output=True, text=True, cwd="/", check=False, timeout=120)
    assert helped.returncode == 0, helped.stderr
    for module in ("fastapi", "uvicorn", "psycopg", "standardwebhooks", "cutwatch.api.app",
                   "cutwatch.detectors.engine"):
        done = _python(python, f"import {module}")
        assert done.returncode != 0, module
        assert "ModuleNotFoundError" in done.stderr, done.stderr


def test_the_cache_follows_the_pins(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    root.mkdir()
    for name in ("pyproject.toml", "constraints.txt"):
        (root / name).write_bytes((ROOT / name).read_bytes())
    before = venv_for(root, tmp_path)
    assert venv_for(root, tmp_path) == before
    with (root / "constraints.txt").open("a") as pins:
        pins.write("# changed\n")
    assert venv_for(root, tmp_path) != before
    assert before.parent == tmp_path
