"""The TimescaleDB branch of the migrations, and the collector's queries, on real TimescaleDB.

TimescaleDB here is a WebAssembly PostgreSQL (PGlite with the extension, pinned in
package-lock.json), served over the PostgreSQL protocol by pglite-socket on 127.0.0.1. It runs
DDL and queries; the store's two statements run here one by one (the service pipelines them).
Skipped where Node.js or npm is absent.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cutwatch.api import probes_read, store
from cutwatch.api.migrate import apply_migrations, load_migrations

HERE = Path(__file__).resolve().parent
pytestmark = [pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture(scope="module")
def timescale_url() -> Iterator[str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are needed for the TimescaleDB (PGlite) test")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                   check=True, timeout=300, capture_output=True)
    server = subprocess.Popen([node, "server.mjs"], cwd=HERE, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("LISTENING "), f"PGlite server did not start: {line!r}"
        yield f"postgresql://postgres:postgres@127.0.0.1:{int(line.split()[1])}/postgres" \
              "?sslmode=disable"
    finally:
        if server.stdin:
            server.stdin.close()  # the server exits when its stdin closes
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout:
            server.stdout.close()


@pytest.fixture
async def conn(timescale_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    # PGlite serves one connection at a time: every step below shares this one.
    # No server-side prepared statements: once psycopg prepares a statement it has run five
    # times on this one shared connection, pglite-socket answers the pipelined executemany
    # with "prepared statement _pg3_0 already exists" (seen after migrations 0004-0006 added
    # statements). What this test checks is the SQL on a hypertable, not statement caching.
    async with await psycopg.AsyncConnection.connect(timescale_url, autocommit=True,
                                                     prepare_threshold=None) as c:
        await c.execute("SET timezone = 'UTC'")
        yield c


async def rows(conn: psycopg.AsyncConnection[Any], query: Any, params: Any = None) -> list[Any]:
    cur = await conn.execute(query, params)
    return await cur.fetchall()


async def test_migrations_make_results_a_compressed_hypertable_with_policies(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    assert await apply_migrations(conn) == [m.name for m in load_migrations()]
    assert await apply_migrations(conn) == []
    assert await rows(conn, "SELECT hypertable_name, compression_enabled"
                            " FROM timescaledb_information.hypertables") == [("results", True)]
    jobs = await rows(conn, "SELECT proc_name, coalesce(hypertable_name, '')"
                            " FROM timescaledb_information.jobs")
    assert ("policy_compression", "results") in jobs
    assert ("policy_retention", "results") in jobs
    assert ("policy_refresh_continuous_aggregate", "results_hourly") in jobs
    assert await rows(conn, "SELECT view_name FROM"
                            " timescaledb_information.continuous_aggregates") == [
        ("results_hourly",)]


async def test_store_and_read_queries_run_on_the_hypertable(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    await apply_migrations(conn)
    probe_id, batch_id = "p-timescale", uuid.uuid4()
    await conn.execute(
        "INSERT INTO probes (id, token_hash, country, access, enrolled_by)"
        " VALUES (%s, 'x', 'MM', 'fixed', 'admin') ON CONFLICT DO NOTHING", (probe_id,))
    now = datetime.now(UTC).replace(microsecond=0)
    facts = {
        "batch_id": batch_id, "probe_id": probe_id, "seq": 1, "sent_at": now,
        "received_at": now, "count": 3, "spool_depth": 0, "dropped_total": 0,
        "clock_synced": True, "clock_offset_ms": 1.0, "started_at": None, "software": None,
        "geo": True, "asn": 64500, "derived_country": "TH",
    }
    staged = [
        (uuid.uuid4(), "dns", f"t{i}", "domestic", "ipv4", now - timedelta(minutes=i), 5.0,
         i != 1, None if i != 1 else "dns_nxdomain_error", '{"rcode": 0}')
        for i in range(3)
    ]
    facts |= {"digest": store.results_digest(row[0] for row in staged), "refused": 0,
              "first": now - timedelta(minutes=2), "last": now}
    columns = ("ids", "kinds", "targets", "scopes", "families", "measured", "durations", "oks",
               "failures", "details")
    arrays = {name: [row[n] for row in staged] for n, name in enumerate(columns)}
    moved = []
    for _ in range(2):  # the second run is a retry: nothing new
        async with conn.transaction():
            cur = conn.cursor()
            await cur.execute(store.RESULTS_SQL, {**facts, **arrays})
            moved.append(cur.rowcount)
            await cur.execute(store.BATCH_SQL, facts)
    assert moved == [3, 0]
    listed = await rows(conn, probes_read.PROBES_SQL, (600,))
    assert [(r[0], r[6], r[7], r[10]) for r in listed] == [(probe_id, 64500, True, True)]
    page = await rows(conn, probes_read.RESULTS_SQL, {
        "probe": probe_id, "since": now - timedelta(hours=1), "until": now + timedelta(hours=1),
        "kind": "dns", "after_at": None, "after_id": None, "limit": 10})
    assert [r[3] for r in page] == ["t2", "t1", "t0"]
    binned = await rows(conn, "SELECT date_bin('1 hour', measured_at, TIMESTAMPTZ"
                              " '2000-01-01 00:00:00+00'), count(*) FROM results GROUP BY 1")
    assert sum(r[1] for r in binned) == 3
    await conn.execute("CALL refresh_continuous_aggregate('results_hourly', NULL, NULL)")
    hourly = await rows(conn, "SELECT sum(total), sum(ok_count) FROM results_hourly"
                              " WHERE probe_id = %s", (probe_id,))
    assert hourly == [(3, 2)]
