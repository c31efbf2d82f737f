"""The outbox writes one delivery per matching active subscription, in the caller's transaction."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from cutwatch.api.webhooks import outbox
from cutwatch.detectors.model import Transition

from .factory import transition_json


def transition(action: str = "opened", *, status: str = "suspected", confidence: float = 0.9,
               event_id: str = "ev-1", code: str = "MM-07") -> Transition:
    return Transition.from_json(transition_json(
        action, status=status, confidence=confidence, event_id=event_id,
        entity={"type": "subdivision", "code": code, "name": "Bago"}, evidence={}))


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
    assert rows[0][4] == transition().to_json()

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
async def test_what_enqueue_stores_reads_back_as_the_same_transition(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    """The feeds and the dispatcher read the stored JSON back with ``Transition.from_json``;
    it must give the transition the detector handed over, and the same JSON text again."""
    await add_subscription(conn, "sub_all", {})
    typed = Transition.from_json(transition_json(
        "updated", status="confirmed", confidence=1.0,
        entity={"type": "asn_subdivision", "code": "AS9988/MM-07", "name": "x", "asn": 9988,
                "subdivision": "MM-07", "country": "MM"},
        evidence={"merged_into": "ev-wider", "sources": {"operators": 3, "networks": 2},
                  "ratio": 0.125, "probes": ["p1", "p2"]}))
    async with conn.transaction():
        assert await outbox.enqueue(conn, typed) == 1
    cur = await conn.execute("SELECT d.payload, f.transition FROM deliveries d"
                             " JOIN feed_entries f USING (event_id)")
    [(delivered, fed)] = await cur.fetchall()
    for stored in (delivered, fed):
        assert Transition.from_json(stored) == typed
        assert json.dumps(Transition.from_json(stored).to_json(), sort_keys=True) == (
            json.dumps(stored, sort_keys=True))
