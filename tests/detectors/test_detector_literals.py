"""Every threshold of the detector lives in ``Params`` (and so in docs/events.md, checked by
``test_every_parameter_is_documented_with_its_default``): the modules that decide hold no bare
numbers but 0, 1, 2 and 0.5 (a half: medians, rounding), and the few structural constants they
need (units, a byte's range, memory bounds) are named at module level. Every parameter is read
somewhere, so none is documented but dead."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from cutwatch.detectors.params import Params

DETECTORS = Path(__file__).resolve().parents[2] / "detectors"
SIGNALS = sorted((DETECTORS / "signals").glob("*.py"))
DECIDING = ["classify.py", "conditions.py", "decide.py", "engine.py", "lifecycle.py",
            "state.py", *(f"signals/{p.name}" for p in SIGNALS)]
PLAIN = {0, 1, 2, 0.5}


def _bare_numbers(source: str) -> list[tuple[int, object]]:
    tree = ast.parse(source)
    named: set[int] = set()
    for node in tree.body:  # module-level NAME = <number> (or NAME: Final = <number>)
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if isinstance(value, ast.Constant):
            named.add(id(value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and type(n.value) in (int, float)
            and n.value not in PLAIN and id(n) not in named]


@pytest.mark.parametrize("module", DECIDING)
def test_no_bare_thresholds(module: str) -> None:
    found = _bare_numbers((DETECTORS / module).read_text(encoding="utf-8"))
    assert found == [], f"{module}: numbers that belong in Params: {found}"


def test_the_scan_sees_a_bare_threshold() -> None:
    assert _bare_numbers("def f(x):\n    return x > 0.8\n") == [(2, 0.8)]
    assert _bare_numbers("LIMIT = 20_000\ndef f(x):\n    return x > LIMIT\n") == []


def test_every_parameter_is_read() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in DETECTORS.rglob("*.py")
                     if p.name != "params.py")
    unread = [f.name for f in dataclasses.fields(Params)
              if not re.search(rf"\.{f.name}\b", code)]
    assert unread == []
