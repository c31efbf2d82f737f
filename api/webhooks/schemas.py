"""The documented shape of every webhook body, one JSON Schema per type (docs/webhooks/).

These models are the source of the checked-in schema files (a test fails when they drift) and
what the tests validate real deliveries against. Regenerate with
``python -m cutwatch.api.webhooks.schemas docs/webhooks``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cutwatch.detectors.model import EntityType, Kind, Status

ActiveStatus = Literal["suspected", "confirmed"]


class Entity(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: EntityType
    code: str = Field(description="ISO 3166-1 / 3166-2 code, AS9988, AS9988/MM-07, MM-07/Bago")
    name: str
    asn: int | None = Field(default=None, description="for asn and asn_subdivision entities")
    access: Literal["fixed", "mobile", "satellite"] | None = Field(
        default=None, description="present when the event concerns one access type only")


class Event(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    status: Status
    kind: Kind
    entity: Entity
    start: AwareDatetime
    end: AwareDatetime | None
    detected_at: AwareDatetime
    confidence: float = Field(ge=0, le=1)
    probes_affected: int = Field(ge=0)
    probes_total: int = Field(ge=0)
    asns_affected: list[int]
    single_source: bool = Field(
        default=False, description="the evidence comes from too few operators (or, for an "
        "area, networks) to rule out a staged event: evidence.sources says how many")
    evidence: dict[str, Any] = Field(description="what the decision rested on")


class OpenEvent(Event):
    status: ActiveStatus


class ResolvedEvent(Event):
    status: Literal["resolved"]


class RetractedEvent(Event):
    status: Literal["retracted"]


class MergedEvidence(BaseModel):
    model_config = ConfigDict(extra="allow")

    merged_into: str = Field(description="id of the wider event that now covers its probes")


class MergedEvent(Event):
    status: Literal["merged"]
    evidence: MergedEvidence  # type: ignore[assignment]


class Links(BaseModel):
    api: str = Field(description="the event in the API: {base}/v1/events/{id}")
    dashboard: str = Field(description="the event on the dashboard: {base}/events/{id}")


class _Transition(BaseModel):
    type: Literal["event"]
    at: AwareDatetime


class Opened(_Transition):
    action: Literal["opened"]
    event: OpenEvent


class Updated(_Transition):
    action: Literal["updated"]
    event: Event


class Resolved(_Transition):
    action: Literal["resolved"]
    event: ResolvedEvent


class Retracted(_Transition):
    action: Literal["retracted"]
    event: RetractedEvent


class Merged(_Transition):
    action: Literal["merged"]
    event: MergedEvent


class _Envelope(BaseModel):
    timestamp: AwareDatetime = Field(description="when the message was created (not the "
                                     "attempt; that is the webhook-timestamp header)")
    links: Links


class OutageOpened(_Envelope):
    """A new outage: its first transition."""

    type: Literal["outage.opened"]
    data: Opened


class OutageUpdated(_Envelope):
    """An outage changed: confirmed, refined start/end, more probes, another kind."""

    type: Literal["outage.updated"]
    data: Updated


class OutageResolved(_Envelope):
    """Connectivity came back."""

    type: Literal["outage.resolved"]
    data: Resolved


class OutageRetracted(_Envelope):
    """It turned out not to be a shutdown (for example a power cut)."""

    type: Literal["outage.retracted"]
    data: Retracted


class OutageMerged(_Envelope):
    """The outage goes on as part of a wider one (``evidence.merged_into``): its probes are
    now that event's; not a retraction."""

    type: Literal["outage.merged"]
    data: Merged


class WebhookTest(_Envelope):
    """Sent by POST /v1/subscriptions/{id}/test; its event is a placeholder (country ZZ)."""

    type: Literal["webhook.test"]
    data: Opened


MODELS: dict[str, type[BaseModel]] = {
    "outage.opened": OutageOpened, "outage.updated": OutageUpdated,
    "outage.resolved": OutageResolved, "outage.retracted": OutageRetracted,
    "outage.merged": OutageMerged,
    "webhook.test": WebhookTest,
}


def schema(event_type: str) -> dict[str, Any]:
    document = MODELS[event_type].model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://cutwatch.invalid/schemas/webhooks/{event_type}.schema.json",
            **document}


def render(event_type: str) -> str:
    return json.dumps(schema(event_type), indent=2, sort_keys=True) + "\n"


def validate(body: str | bytes) -> BaseModel:
    """Parse a delivered body with the model of its own type (raises on any mismatch)."""
    kind = json.loads(body)["type"]
    return MODELS[kind].model_validate_json(body)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/webhooks")
    target.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        (target / f"{name}.schema.json").write_text(render(name))
