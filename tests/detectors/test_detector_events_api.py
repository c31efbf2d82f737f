"""``GET /v1/events`` and ``GET /v1/events/{id}`` on the real service, over a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from detector_cases import CASES, run, stream
from live_service import LiveService

from cutwatch.api.detection_store import store_transition
from cutwatch.api.migrate import apply_migrations
from cutwatch.api.settings import Settings

PROVINCE = next(c[0] for c in CASES if c[0].name == "province blackout")
BLOCK = next(c[0] for c in CASES if c[0].name == "DNS block")


async def _store(url: str, transitions: list[dict[str, Any]]) -> list[bool]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await apply_migrations(conn)
        stored = []
        for t in transitions:
            async with conn.transaction():
                stored.append(await store_transition(conn, t))
        return stored


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[str]:
    # the events are stored by the test: the read side only, no detector leader
    with LiveService(Settings(database_url=database_url, data_dir=tmp_path / "var",
                              detector="off")) as live:
        yield live.url


@pytest.mark.slow
def test_events_are_listed_filtered_and_shown_with_transitions(
        database_url: str, service: str) -> None:
    province, block = run(stream(PROVINCE)), run(stream(BLOCK))
    stored = asyncio.run(_store(database_url, province + block))
    assert all(stored)
    assert asyncio.run(_store(database_url, province)) == [False] * len(province)  # once only
    with httpx.Client(base_url=service) as client:
        listed = client.get("/v1/events").json()["events"]
        assert {e["entity"]["code"] for e in listed} == {"MM-01", "MM"}
        starts = [e["start"] for e in listed]
        assert starts == sorted(starts, reverse=True)  # newest start first
        one = client.get("/v1/events", params={"entity": "subdivision:MM-01"}).json()["events"]
        assert [e["kind"] for e in one] == ["blackout"]
        assert one[0] == province[-1]["event"]
        by_code = client.get("/v1/events", params={"entity": "MM"}).json()["events"]
        assert [e["kind"] for e in by_code] == ["service_block"]
        assert len(client.get("/v1/events", params={"status": "resolved"}).json()["events"]) == 2
        assert client.get("/v1/events", params={"kind": "throttling"}).json()["events"] == []
        late = client.get("/v1/events", params={"since": "2030-01-01T00:00:00Z"}).json()
        assert late["events"] == []
        detail = client.get(f"/v1/events/{one[0]['id']}").json()
        assert detail["event"] == province[-1]["event"]
        assert detail["transitions"] == province
        missing = client.get("/v1/events/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "no such event"}
        assert client.get("/v1/events/not-a-uuid").status_code == 422
        bad = client.get("/v1/events", params={"entity": "planet:Mars"})
        assert bad.status_code == 422
        assert "TYPE:CODE" in bad.json()["detail"]
