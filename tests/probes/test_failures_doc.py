"""docs/failures.md documents exactly the closed vocabulary of cutwatch/failures.py."""

from __future__ import annotations

import re
from pathlib import Path

from cutwatch.failures import FAILURES, NOT_NETWORK

DOC = Path(__file__).resolve().parents[2] / "docs" / "failures.md"


def test_every_failure_documented_once_and_nothing_else() -> None:
    rows = re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(), flags=re.MULTILINE)
    assert sorted(rows) == sorted(FAILURES)
    assert len(rows) == len(set(rows))
    assert {"probe_error"} == NOT_NETWORK
