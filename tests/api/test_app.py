"""The app factory: health, readiness, workers started and stopped with the service."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import psycopg
import pytest
from collector_helpers import LiveServer

from cutwatch.api import app as app_module
from cutwatch.api.state import AppState


def test_healthz_and_readyz(live: LiveServer, settings: Any) -> None:
    with live.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready"}
        with psycopg.connect(settings.database_url) as conn:
            conn.execute("DELETE FROM schema_migrations WHERE version = '0001'")
        not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert "0001_core.sql" in not_ready.json()["detail"]


def test_readyz_is_503_when_the_database_is_gone(live: LiveServer, settings: Any,
                                                 postgres_url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(settings.database_url)["dbname"]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    with live.client() as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("database:")


def test_workers_run_until_shutdown_and_a_crashed_worker_restarts(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    stopped = threading.Event()

    async def steady(state: AppState) -> None:
        assert state.pool is not None
        events.append("steady started")
        try:
            await asyncio.Event().wait()
        finally:
            events.append("steady cancelled")
            stopped.set()

    async def flaky(state: AppState) -> None:
        events.append("flaky started")
        if events.count("flaky started") == 1:
            raise RuntimeError("first run fails")
        await state.stopping.wait()

    monkeypatch.setattr(app_module, "WORKERS", [steady, flaky])
    monkeypatch.setattr(app_module, "WORKER_RESTART_DELAY_S", 0.05)
    monkeypatch.setattr(app_module, "WORKER_STOP_GRACE_S", 0.1)
    with LiveServer(settings) as server, server.client() as client:
        assert client.get("/healthz").status_code == 200
        for _ in range(200):
            if events.count("flaky started") == 2:
                break
            threading.Event().wait(0.01)
    assert stopped.wait(5)
    assert events.count("flaky started") == 2
    assert "steady cancelled" in events


def test_workers_get_a_grace_period_to_finish_their_work(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    finished: list[str] = []

    async def careful(state: AppState) -> None:
        await state.stopping.wait()
        await asyncio.sleep(0.2)  # finishing the unit of work in hand
        finished.append("careful")

    async def stubborn(state: AppState) -> None:
        try:
            await asyncio.Event().wait()  # never looks at `stopping`
        finally:
            finished.append("stubborn cancelled")

    monkeypatch.setattr(app_module, "WORKERS", [careful, stubborn])
    monkeypatch.setattr(app_module, "WORKER_STOP_GRACE_S", 1.0)
    started = time.monotonic()
    with LiveServer(settings) as server, server.client() as client:
        assert client.get("/healthz").status_code == 200
        started = time.monotonic()
    assert sorted(finished) == ["careful", "stubborn cancelled"]
    assert 0.9 < time.monotonic() - started < 10


def test_the_app_refuses_to_start_without_a_database_url(settings: Any) -> None:
    from cutwatch.api.db import make_pool

    with pytest.raises(ValueError, match="no database URL"):
        make_pool(settings.model_copy(update={"database_url": None}))
