"""A ``merged`` transition is stored (migration 0009), once, and queued for webhooks as
``outage.merged``: a province event absorbed into its country's is not a retraction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from live_service import LiveService

from cutwatch.api.detection_store import store_transition
from cutwatch.api.migrate import apply_migrations
from cutwatch.api.settings import Settings


def _transition(action: str, status: str, event_id: str, at: str,
                evidence: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event", "action": action, "at": at, "event": {
        "id": event_id, "status": status, "kind": "blackout",
        "entity": {"type": "subdivision", "code": "MM-07", "name": "Bago",
                   "subdivision": "MM-07", "country": "MM"},
        "start": "2021-02-15T01:00:00Z", "end": None, "detected_at": "2021-02-15T01:02:00Z",
        "confidence": 1.0, "probes_affected": 6, "probes_total": 6, "asns_affected": [9988],
        "evidence": evidence}}


async def _run(url: str, province: str,
               country: str) -> tuple[list[bool], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    opened = _transition("opened", "suspected", province, "2021-02-15T01:02:00Z",
                         {"signal": "silence"})
    merged = _transition("merged", "merged", province, "2021-02-15T01:09:00Z",
                         {"signal": "silence", "merged_into": country})
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await apply_migrations(conn)
        stored = []
        for t in (opened, merged, merged):  # the last: a new leader replaying history
            async with conn.transaction():
                stored.append(await store_transition(conn, t))
        events = await (await conn.execute(
            "SELECT status, event->'evidence'->>'merged_into' FROM events WHERE id = %s",
            (province,))).fetchall()
        actions = await (await conn.execute(
            "SELECT action FROM event_transitions WHERE event_id = %s ORDER BY seq",
            (province,))).fetchall()
        return stored, events, actions


def test_a_merged_transition_is_stored_once(database_url: str) -> None:
    stored, events, actions = asyncio.run(
        _run(database_url, str(uuid.uuid4()), str(uuid.uuid4())))
    assert stored == [True, True, False]
    assert events[0][0] == "merged"
    assert events[0][1] is not None
    assert [a[0] for a in actions] == ["opened", "merged"]


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[str]:
    # the events are stored by the test: the read side only, no detector leader
    with LiveService(Settings(database_url=database_url, data_dir=tmp_path / "var",
                              detector="off")) as live:
        yield live.url


def test_the_dashboard_points_a_merged_event_to_the_wider_one(database_url: str,
                                                               service: str) -> None:
    province, country = str(uuid.uuid4()), str(uuid.uuid4())
    asyncio.run(_run(database_url, province, country))
    with httpx.Client(base_url=service) as client:
        page = client.get(f"/events/{province}")
    assert page.status_code == 200
    assert f'href="/events/{country}" id="merged-into"' in page.text
    assert "lasted" not in page.text.split('id="event-status"')[1].split("</p>")[0]
