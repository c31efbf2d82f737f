"""The suite's own selection (tests/conftest.py): what `make test` runs alone, and what the
PostgreSQL 15 pass keeps. A renamed file must not slip out of either silently."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_serial_entry_names_a_test_that_exists(request: pytest.FixtureRequest) -> None:
    # the root conftest as pytest loaded it (`import conftest` may find another folder's)
    root = request.config.pluginmanager.get_plugin(str(ROOT / "tests" / "conftest.py"))
    assert root is not None
    serial: tuple[str, ...] = root.SERIAL
    assert serial
    for entry in serial:
        path, _, name = entry.partition("::")
        assert (ROOT / path).exists(), f"SERIAL names {path}, which is gone"
        if name:
            assert f"def {name}(" in (ROOT / path).read_text(), f"SERIAL names {entry}"


def test_the_selection_keeps_serial_database_tests_for_their_own_runs() -> None:
    """One collection (a subprocess: its own conftest options): --database-only drops the
    wire doc's tests, -m serial the other limits tests; the 503 test alone is both."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--database-only", "-m", "serial",
         "tests/api/test_wire_doc.py", "tests/api/test_limits.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    kept = [line for line in done.stdout.splitlines() if "::" in line]
    assert kept == ["tests/api/test_limits.py::test_the_database_down_is_a_quick_json_503"]
    counts = re.search(r"(\d+)/(\d+) tests collected", done.stdout)
    assert counts, done.stdout
    assert int(counts[2]) > 15  # both files were collected before the selection
