"""Fixtures for the webhook tests: a migrated database and helpers to make subscribers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from cutwatch.api.migrate import apply_migrations
from cutwatch.api.webhooks.config import WebhookConfig


@pytest.fixture
async def webhooks_db(database_url: str) -> str:
    """A fresh database migrated as the service does it (the webhook tables among the rest)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await apply_migrations(conn)
    return database_url


@pytest.fixture
async def conn(webhooks_db: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(webhooks_db, autocommit=True) as connection:
        yield connection


@pytest.fixture
async def pool(webhooks_db: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(webhooks_db, min_size=1, max_size=4, open=False,
                                   kwargs={"autocommit": True}) as connections:
        yield connections


@pytest.fixture
def fast() -> WebhookConfig:
    """A compressed retry schedule and loopback permission, as the operator would set them."""
    return WebhookConfig(allow_private=True, base_url="https://cutwatch.example",
                         retry_schedule=(0, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5, 0.5),
                         timeout=2.0, lease=3.0, poll_interval=0.05)
