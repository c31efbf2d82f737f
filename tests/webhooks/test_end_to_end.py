"""From the detector's store to a verifying receiver: the whole outbox path, all migrations.

The detector's real replay produces the transitions; its ``store_transition`` writes each one
with its deliveries in one transaction; the dispatcher sends them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from cutwatch.api.migrate import migrate_url
from cutwatch.api.webhooks import dispatcher, schemas
from cutwatch.api.webhooks.config import WebhookConfig

from .factory import add_subscription
from .receiver import Receiver
from .test_delivery import eventually, settled

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_detector_transitions_reach_the_receiver_once(
    database_url: str, fast: WebhookConfig,
) -> None:
    from cutwatch.api.detection_store import store_transition
    from cutwatch.detectors.fleet import FleetSpec
    from cutwatch.detectors.replay import replay
    from cutwatch.detectors.scenarios import build, positives

    await migrate_url(database_url)
    chosen = [s for s in positives() if s.kind == "blackout" and s.access is None
              and (s.entity_type, s.code) == ("subdivision", "MM-01")]
    assert len(chosen) == 1
    lines, _truth = build(FleetSpec(), chosen, hours=3.0)
    transitions = [t.to_json() for t in replay(lines)]
    assert [t["action"] for t in transitions][:1] == ["opened"]

    receiver = Receiver(secret="").start()
    try:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            _, receiver.secret = await add_subscription(conn, receiver.url, filters={
                "entities": [{"type": "country", "code": "MM", "children": True}]})
            await conn.commit()
            for item in transitions:
                async with conn.transaction():
                    assert await store_transition(conn, item)
            async with conn.transaction():  # a new leader replaying history stores nothing
                assert not await store_transition(conn, transitions[0])
        async with AsyncConnectionPool(database_url, min_size=1, max_size=4, open=False,
                                       kwargs={"autocommit": True}) as pool:
            task = asyncio.create_task(dispatcher.run(pool, fast))
            try:
                await eventually(lambda: len(receiver.requests) >= len(transitions))
                # Every delivery recorded as sent: none is left to be sent twice.
                await settled(pool)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        assert len(receiver.requests) == len(transitions)
        got: list[Any] = [schemas.validate(r.body).model_dump(mode="json")
                          for r in receiver.requests]
        assert sorted(g["data"]["action"] for g in got) == sorted(
            t["action"] for t in transitions)
        assert {g["data"]["event"]["entity"]["code"] for g in got} == {"MM-01"}
        assert all(r.error is None for r in receiver.requests)
    finally:
        receiver.stop()
