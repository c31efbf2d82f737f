"""Migrations apply once, are idempotent, and are safe when several replicas start at once."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from cutwatch.api.migrate import apply_migrations, load_migrations, migrate_url, pending_migrations

pytestmark = pytest.mark.anyio


async def test_migrations_apply_once_and_record_themselves(database_url: str) -> None:
    names = [m.name for m in load_migrations()]
    assert names[0] == "0001_core.sql"
    assert await migrate_url(database_url) == names
    assert await migrate_url(database_url) == []
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        assert await pending_migrations(conn) == []
        cur = await conn.execute("SELECT name FROM schema_migrations ORDER BY version")
        assert [r[0] for r in await cur.fetchall()] == names
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        tables = {r[0] for r in await cur.fetchall()}
    assert {"probes", "enrollment_tokens", "batches", "results", "schema_migrations"} <= tables


async def test_concurrent_replicas_apply_each_migration_exactly_once(database_url: str) -> None:
    applied = await asyncio.gather(*(migrate_url(database_url) for _ in range(5)))
    names = [m.name for m in load_migrations()]
    # Exactly one runner applied everything; the others found nothing left to do.
    assert sorted(applied, key=len) == [[]] * 4 + [names]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM schema_migrations")
        row = await cur.fetchone()
    assert row == (len(names),)


async def test_pending_migrations_on_an_empty_database(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        assert await pending_migrations(conn) == [m.name for m in load_migrations()]


async def test_apply_refuses_a_transactional_connection(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        with pytest.raises(ValueError, match="autocommit"):
            await apply_migrations(conn)
