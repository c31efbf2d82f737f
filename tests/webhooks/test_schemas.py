"""The checked-in payload schemas match the models, and real bodies validate against them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from cutwatch.api.webhooks import payloads, schemas

from .factory import transition

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks"


@pytest.mark.parametrize("event_type", sorted(schemas.MODELS))
def test_checked_in_schema_has_not_drifted(event_type: str) -> None:
    path = DOCS / f"{event_type}.schema.json"
    assert path.read_text() == schemas.render(event_type), (
        f"{path.name} is stale: run python -m cutwatch.api.webhooks.schemas docs/webhooks")


def test_every_outage_type_has_a_schema() -> None:
    assert set(payloads.EVENT_TYPES) | {payloads.TEST_TYPE} == set(schemas.MODELS)
    assert {p.name for p in DOCS.glob("*.schema.json")} == {
        f"{t}.schema.json" for t in schemas.MODELS}


@pytest.mark.parametrize(("action", "status"), [
    ("opened", "suspected"), ("opened", "confirmed"), ("updated", "confirmed"),
    ("updated", "resolved"), ("resolved", "resolved"), ("retracted", "retracted"),
    ("merged", "merged"),
])
def test_bodies_validate(action: str, status: str) -> None:
    evidence = {"merged_into": "ev-wider"} if action == "merged" else None
    item = transition(action, status=status, evidence=evidence)
    body = payloads.build(item, "https://c.example", datetime.now(UTC))
    parsed = schemas.validate(body)
    assert parsed.model_dump(mode="json")["data"]["event"]["status"] == status


def test_schema_rejects_what_it_should() -> None:
    item = transition("resolved", status="suspected")  # a resolution must say resolved
    body = payloads.build(item, "https://c.example", datetime.now(UTC))
    with pytest.raises(ValidationError):
        schemas.validate(body)
    test_body = json.loads(body)
    test_body["type"] = "webhook.test"
    test_body["data"] = payloads.sample_transition().to_json()
    schemas.validate(json.dumps(test_body))


def test_a_merged_event_must_name_the_event_it_joined() -> None:
    item = transition("merged", status="merged")  # no evidence.merged_into
    body = payloads.build(item, "https://c.example", datetime.now(UTC))
    with pytest.raises(ValidationError):
        schemas.validate(body)
    item = transition("merged", status="merged", evidence={"merged_into": "ev-wider"})
    schemas.validate(payloads.build(item, "https://c.example", datetime.now(UTC)))
