"""The checked-in JSON Schema is generated from the wire models; they must not drift."""

import json
from pathlib import Path

from cutwatch.wire import json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "wire-format.schema.json"


def test_checked_in_schema_matches_models() -> None:
    checked_in = json.loads(SCHEMA_FILE.read_text())
    assert checked_in == json_schema(), "docs/wire-format.schema.json is stale: run `make schema`"
