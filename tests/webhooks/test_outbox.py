"""The outbox writes one delivery per matching active subscription, in the caller's transaction."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from cutwatch.api.webhooks import outbox
from cutwatch.api.webhooks.payloads import PayloadError


def transition(action: str = "opened", *, status: str = "suspected", confidence: float = 0.9,
               event_id: str = "ev-1", code: str = "MM-07") -> dict[str, Any]:
    return {
        "type": "event", "action": action, "at": "2021-02-15T01:02:30Z",
        "event": {"id": event_id, "status": status, "kind": "blackout",
                  "entity": {"type": "subdivision", "code": code, "name": "Bago"},
                  "start": "2021-02-15T01:00:00Z", "end": None,
                  "detected_at": "2021-02-15T01:02:30Z", "confidence": confidence,
                  "probes_affected": 12, "probes_total": 14, "asns_affected": [9988],
                  "single_source": False,
                  "evidence": {}},
    }


async def add_subscription(conn: psycopg.AsyncConnection[Any], sub_id: str,
                           filters: dict[str, Any], status: str = "active") -> None:
    await conn.execute(
        "INSERT INTO subscribers (id, name, key_hash) VALUES ('sbr_1', 'ngo', 'h')"
        " ON CONFLICT DO NOTHING")
    await conn.execute(
        "INSERT INTO subscriptions (id, subscriber_id, url, filters, secret, status)"
        " VALUES (%s, 'sbr_1', 'https://example.org/hook', %s, 'whsec_x', %s)",
        (sub_id, json.dumps(filters), status))


@pytest.mark.anyio
async def test_enqueue_matches_and_rolls_back_with_the_caller(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    await add_subscription(conn, "sub_all", {})
    await add_subscription(conn, "sub_mm", {"entities": [{"type": "country", "code": "MM",
                                                          "children": True}]})
    await add_subscription(conn, "sub_ir", {"entities": [{"type": "country", "code": "IR",
                                                          "children": True}]})
    await add_subscription(conn, "sub_paused", {}, status="paused")
    await add_subscription(conn, "sub_confirmed", {"min_status": "confirmed"})

    async with conn.transaction():
        assert await outbox.enqueue(conn, transition()) == 2
    cur = await conn.execute(
        "SELECT subscription_id, event_type, event_id, status, payload FROM deliveries"
        " ORDER BY subscription_id")
    rows = await cur.fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("sub_all", "outage.opened", "ev-1", "pending"),
        ("sub_mm", "outage.opened", "ev-1", "pending"),
    ]
    assert rows[0][4] == transition()

    # The caller's rollback takes the deliveries with it: one transaction, both or neither.
    async def fail_after_enqueue() -> None:
        async with conn.transaction():
            assert await outbox.enqueue(conn, transition("updated", status="confirmed")) == 3
            raise RuntimeError("detector failed after enqueue")

    with pytest.raises(RuntimeError):
        await fail_after_enqueue()
    count = await conn.execute("SELECT count(*) FROM deliveries")
    assert (await count.fetchone()) == (2,)

    # Once told, a subscriber hears the resolution even though it no longer passes the filter;
    # sub_confirmed was never told about ev-1 and hears nothing of it.
    async with conn.transaction():
        assert await outbox.enqueue(conn, transition("resolved", status="resolved")) == 2


@pytest.mark.anyio
async def test_enqueue_refuses_what_is_not_a_transition(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    with pytest.raises(PayloadError, match="not an event transition"):
        await outbox.enqueue(conn, {"type": "event", "action": "exploded", "event": {"id": "x"}})
    with pytest.raises(PayloadError, match=r"without event\.id"):
        await outbox.enqueue(conn, {"type": "event", "action": "opened", "event": {}})
