"""The body of a webhook delivery: an event transition wrapped in a Standard Webhooks envelope.

``{"type": "outage.opened", "timestamp": ..., "data": <docs/events.md transition>, "links": ...}``.
The outbox stores the transition; the dispatcher renders the same body text from it on every
attempt (the envelope timestamp is the delivery's creation time), then signs it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, get_args
from urllib.parse import quote

from cutwatch.detectors.model import Action

ACTIONS: tuple[str, ...] = get_args(Action)
EVENT_TYPES = tuple(f"outage.{action}" for action in ACTIONS)
TEST_TYPE = "webhook.test"


class PayloadError(ValueError):
    """The transition handed to the outbox is not a docs/events.md transition object."""


def event_type(transition: Mapping[str, Any]) -> str:
    action = transition.get("action")
    if transition.get("type") != "event" or action not in ACTIONS:
        raise PayloadError(f"not an event transition: type={transition.get('type')!r} "
                           f"action={action!r}")
    event = transition.get("event")
    if not isinstance(event, Mapping) or not event.get("id"):
        raise PayloadError("event transition without event.id")
    return f"outage.{action}"


def links(base_url: str, event_id: str) -> dict[str, str]:
    base = base_url.rstrip("/")
    quoted = quote(event_id, safe="")
    return {"api": f"{base}/v1/events/{quoted}", "dashboard": f"{base}/events/{quoted}"}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def now_rfc3339() -> str:
    return rfc3339(datetime.now(UTC))


def build(kind: str, transition: Mapping[str, Any], base_url: str, created_at: datetime) -> str:
    """Serialise the envelope; compact, stable key order (the signature covers these bytes)."""
    event_id = str(transition["event"]["id"])
    envelope = {
        "type": kind,
        "timestamp": rfc3339(created_at),
        "data": dict(transition),
        "links": links(base_url, event_id),
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True, ensure_ascii=False,
                      default=str)


def sample_transition() -> dict[str, Any]:
    """What ``POST /v1/subscriptions/{id}/test`` sends as ``data``: plainly not a real event."""
    at = now_rfc3339()
    return {
        "type": "event", "action": "opened", "at": at,
        "event": {
            "id": "test", "status": "suspected", "kind": "unknown",
            "entity": {"type": "country", "code": "ZZ", "name": "Test"},
            "start": at, "end": None, "detected_at": at, "confidence": 0.0,
            "probes_affected": 0, "probes_total": 0, "asns_affected": [],
            "evidence": {"test": True},
        },
    }
