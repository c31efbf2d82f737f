"""Rows and objects the webhook tests need: transitions, subscribers, subscriptions."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg

from cutwatch.api.webhooks import signing
from cutwatch.detectors.model import Transition


def transition_json(action: str = "opened", *, status: str = "suspected",
                    confidence: float = 0.9, event_id: str = "ev-1",
                    entity: dict[str, Any] | None = None, kind: str = "blackout",
                    at: str = "2021-02-15T01:02:30Z",
                    evidence: dict[str, Any] | None = None) -> dict[str, Any]:
    """A transition as docs/events.md writes it (and the outbox stores it)."""
    return {
        "type": "event", "action": action, "at": at,
        "event": {"id": event_id, "status": status, "kind": kind,
                  "entity": entity or {"type": "subdivision", "code": "MM-07", "name": "Bago"},
                  "start": "2021-02-15T01:00:00Z", "end": None,
                  "detected_at": "2021-02-15T01:02:30Z", "confidence": confidence,
                  "probes_affected": 12, "probes_total": 14, "asns_affected": [9988],
                  "single_source": False, "evidence": evidence or {"silent": 12}},
    }


def transition(action: str = "opened", *, status: str = "suspected", confidence: float = 0.9,
               event_id: str = "ev-1", entity: dict[str, Any] | None = None,
               kind: str = "blackout", at: str = "2021-02-15T01:02:30Z",
               evidence: dict[str, Any] | None = None) -> Transition:
    """The same transition, typed, as the detector hands it to the outbox."""
    return Transition.from_json(transition_json(
        action, status=status, confidence=confidence, event_id=event_id, entity=entity,
        kind=kind, at=at, evidence=evidence))


async def add_subscription(conn: psycopg.AsyncConnection[Any], url: str, *,
                           filters: dict[str, Any] | None = None, status: str = "active",
                           secret: str | None = None) -> tuple[str, str]:
    """Insert a subscription (and its subscriber); return (id, secret)."""
    secret = secret or signing.new_secret()
    sub_id = f"sub_{uuid.uuid4().hex[:12]}"
    await conn.execute(
        "INSERT INTO subscribers (id, name, key_hash) VALUES ('sbr_t', 'ngo', 'h')"
        " ON CONFLICT DO NOTHING")
    await conn.execute(
        "INSERT INTO subscriptions (id, subscriber_id, url, filters, secret, status)"
        " VALUES (%s, 'sbr_t', %s, %s, %s, %s)",
        (sub_id, url, json.dumps(filters or {}), secret, status))
    return sub_id, secret
