"""Fixtures for the webhook tests: a migrated database and helpers to make subscribers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

MIGRATIONS = Path(__file__).resolve().parents[2] / "api" / "migrations"


@pytest.fixture
def webhooks_db(database_url: str) -> str:
    """A fresh database with the webhook tables."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute((MIGRATIONS / "0003_webhooks.sql").read_text())  # type: ignore[arg-type]
    return database_url


@pytest.fixture
async def conn(webhooks_db: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(webhooks_db, autocommit=True) as connection:
        yield connection
