"""docs/wire-format.md names every failure string and every field of the wire models."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from cutwatch.failures import FAILURES
from cutwatch.wire import Batch, BatchAck, Clock, Heartbeat, Result

DOC = Path(__file__).resolve().parents[2] / "docs" / "wire-format.md"


def test_every_failure_is_documented() -> None:
    text = DOC.read_text()
    missing = sorted(f for f in FAILURES if f"`{f}`" not in text)
    assert missing == []


@pytest.mark.parametrize("model", [Batch, Clock, Heartbeat, Result, BatchAck])
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    text = DOC.read_text()
    missing = sorted(name for name in model.model_fields if f"`{name}`" not in text)
    assert missing == []
