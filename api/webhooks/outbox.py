"""The outbox: deliveries written in the same transaction as the event transition they carry.

The detector calls ``enqueue`` inside the transaction that stores a transition, so either both
the transition and its deliveries are committed or neither is. The dispatcher sends them later.
"""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from cutwatch.api.webhooks import filters, payloads
from cutwatch.detectors.model import Transition

_dumps = partial(json.dumps, default=str)
# Dispatchers LISTEN on it; a transaction that makes deliveries due NOTIFYs it, and
# PostgreSQL delivers the notification at commit (never for a rolled-back one).
CHANNEL = "cutwatch_deliveries_due"


async def notify_due(conn: psycopg.AsyncConnection[Any]) -> None:
    """Wake the dispatchers when the caller's transaction commits (they also poll)."""
    await conn.execute(f"NOTIFY {CHANNEL}")


def new_delivery_id() -> str:
    """A Standard Webhooks ``webhook-id``: unique per message, kept across retries."""
    return f"msg_{uuid.uuid4().hex}"


async def enqueue(conn: psycopg.AsyncConnection[Any], typed: Transition) -> int:
    """Insert one delivery per matching active subscription; return how many.

    Runs in the caller's transaction. Every transition is also recorded for the feeds. Both
    store ``typed.to_json()``, which the feeds and the dispatcher read back with
    ``Transition.from_json``.
    """
    transition = typed.to_json()
    kind = payloads.event_type(typed)
    event_id = typed.event.id
    payload = Jsonb(transition, dumps=_dumps)
    async with conn.cursor() as cur:
        await cur.execute(
            "INSERT INTO feed_entries (event_id, action, at, transition)"
            " VALUES (%s, %s, %s, %s)",
            (event_id, typed.action, transition["at"],
             payload),
        )
        await cur.execute(
            """
            SELECT s.id, s.filters,
                   EXISTS (SELECT 1 FROM deliveries d
                           WHERE d.subscription_id = s.id AND d.event_id = %s) AS told
            FROM subscriptions s JOIN subscribers b ON b.id = s.subscriber_id
            WHERE s.status = 'active' AND b.revoked_at IS NULL
            """,
            (event_id,),
        )
        rows = await cur.fetchall()
        wanted = [
            sub_id for sub_id, stored, told in rows
            if filters.matches(filters.Filters.model_validate(stored), typed,
                               already_told=bool(told))
        ]
        if wanted:
            await cur.executemany(
                "INSERT INTO deliveries (id, subscription_id, event_type, event_id, payload)"
                " VALUES (%s, %s, %s, %s, %s)",
                [(new_delivery_id(), sub_id, kind, event_id, payload) for sub_id in wanted],
            )
    if wanted:
        await notify_due(conn)
    return len(wanted)


async def enqueue_test(conn: psycopg.AsyncConnection[Any], subscription_id: str) -> str:
    """Queue a ``webhook.test`` delivery for one subscription (any status); return its id."""
    delivery_id = new_delivery_id()
    await conn.execute(
        "INSERT INTO deliveries (id, subscription_id, event_type, event_id, payload)"
        " VALUES (%s, %s, %s, NULL, %s)",
        (delivery_id, subscription_id, payloads.TEST_TYPE,
         Jsonb(payloads.sample_transition().to_json(), dumps=_dumps)),
    )
    await notify_due(conn)
    return delivery_id
