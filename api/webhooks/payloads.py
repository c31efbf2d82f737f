"""The body of a webhook delivery: an event transition wrapped in a Standard Webhooks envelope.

``{"type": "outage.opened", "timestamp": ..., "data": <docs/events.md transition>, "links": ...}``.
The outbox stores the transition's JSON; the dispatcher reads it back into the typed
``Transition`` and renders the same body text from it on every attempt (the envelope timestamp
is the delivery's creation time), then signs it. The ``webhook.test`` message is built the same
way from a placeholder transition.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from types import MappingProxyType
from typing import get_args
from urllib.parse import quote

from cutwatch.detectors.model import Action, EventSnapshot, Transition, iso

ACTIONS: tuple[str, ...] = get_args(Action)
EVENT_TYPES = tuple(f"outage.{action}" for action in ACTIONS)
TEST_TYPE = "webhook.test"


def event_type(transition: Transition, *, test: bool = False) -> str:
    """``outage.<action>``, or ``webhook.test`` for the placeholder a subscriber asked for."""
    return TEST_TYPE if test else f"outage.{transition.action}"


def links(base_url: str, event_id: str) -> dict[str, str]:
    base = base_url.rstrip("/")
    quoted = quote(event_id, safe="")
    return {"api": f"{base}/v1/events/{quoted}", "dashboard": f"{base}/events/{quoted}"}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def now_rfc3339() -> str:
    return rfc3339(datetime.now(UTC))


def build(transition: Transition, base_url: str, created_at: datetime, *,
          test: bool = False) -> str:
    """Serialise the envelope; compact, stable key order (the signature covers these bytes).

    ``data`` is ``transition.to_json()``: for a stored transition (written by the outbox from
    the same ``to_json``) that is the stored object, so the bytes do not depend on whether the
    body is built before storing or after reading back.
    """
    envelope = {
        "type": event_type(transition, test=test),
        "timestamp": rfc3339(created_at),
        "data": transition.to_json(),
        "links": links(base_url, transition.event.id),
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True, ensure_ascii=False,
                      default=str)


def sample_transition(at: float | None = None) -> Transition:
    """What ``POST /v1/subscriptions/{id}/test`` sends as ``data``: plainly not a real event
    (event id ``test``, kind ``unknown``, the user-assigned country code ``ZZ``)."""
    moment = float(round(time.time() if at is None else at))  # whole seconds, as stored
    stamp = iso(moment)
    return Transition("opened", moment, EventSnapshot(
        id="test", status="suspected", kind="unknown",
        entity=MappingProxyType({"type": "country", "code": "ZZ", "name": "Test"}),
        start=stamp, end=None, detected_at=stamp, confidence=0.0, probes_affected=0,
        probes_total=0, asns_affected=(), evidence=MappingProxyType({"test": True})))
