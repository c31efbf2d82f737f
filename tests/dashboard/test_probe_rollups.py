"""The probe_rollups roll-ups (migration 0006, over 5 min, 1 h and 6 h) agree with the rows they
count, through the real store path: retried batches and results repeated in another batch
are counted once, a backlog updates the hours it was measured in, and rows stored before
the migration count."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from cutwatch.api.geo import Network
from cutwatch.api.migrate import apply_migrations
from cutwatch.api.store import store_batch
from cutwatch.wire import Batch

RECOMPUTE = """
SELECT probe_id, span_s, bucket, sum(uploads), sum(results), sum(dom_total), sum(dom_ok),
       sum(intl_total), sum(intl_ok), sum(latency_n), round(sum(latency_sum)::numeric, 3),
       sum(throughput_n), round(sum(throughput_sum)::numeric, 3)
FROM (
    SELECT probe_id, span_s,
           date_bin(make_interval(secs => span_s), received_at, TIMESTAMPTZ '2000-01-01Z')
           AS bucket,
           1 AS uploads, 0 AS results, 0 AS dom_total, 0 AS dom_ok, 0 AS intl_total,
           0 AS intl_ok, 0 AS latency_n, 0.0 AS latency_sum, 0 AS throughput_n,
           0.0 AS throughput_sum FROM batches, (VALUES (300), (3600), (21600)) AS s (span_s)
    UNION ALL
    SELECT probe_id, span_s,
           date_bin(make_interval(secs => span_s), measured_at, TIMESTAMPTZ '2000-01-01Z'), 0, 1,
           (scope = 'domestic')::int, (scope = 'domestic' AND ok)::int,
           (scope = 'international')::int, (scope = 'international' AND ok)::int,
           (ok AND scope IN ('domestic', 'international'))::int,
           CASE WHEN ok AND scope IN ('domestic', 'international') THEN duration_ms ELSE 0 END,
           (ok AND details ? 'throughput_bps')::int,
           CASE WHEN ok AND details ? 'throughput_bps'
                THEN (details->>'throughput_bps')::float8 ELSE 0 END
    FROM results, (VALUES (300), (3600), (21600)) AS s (span_s)
) AS rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
ROLLUP = """
SELECT probe_id, span_s, bucket, uploads, results, dom_total, dom_ok, intl_total, intl_ok,
       latency_n, round(latency_sum::numeric, 3), throughput_n,
       round(throughput_sum::numeric, 3)
FROM probe_rollups ORDER BY 1, 2, 3
"""


def _result(at: datetime, scope: str, ok: bool, **details: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "kind": "http", "target": f"{scope}-web", "scope": scope,
            "family": "ipv4", "measured_at": at.isoformat(), "duration_ms": 100.0 + at.minute,
            "ok": ok, "failure": None if ok else "generic_timeout_error", "details": details}


def _batch(seq: int, results: list[dict[str, Any]]) -> Batch:
    return Batch.model_validate({
        "schema_version": 1, "batch_id": str(uuid.uuid4()), "probe_id": "p-1",
        "sent_at": datetime.now(UTC).isoformat(), "clock": {"synced": True, "offset_ms": 0.0},
        "heartbeat": {"seq": seq, "spool_depth": 0, "dropped_total": 0},
        "results": results})


async def _scenario(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await apply_migrations(conn)
        # back to the schema before 0006, so that one batch is stored without the roll-up
        await conn.execute("DROP TRIGGER batches_probe_rollups ON batches;"
                           " DROP TRIGGER results_probe_rollups ON results;"
                           " DROP TABLE probe_rollups; DROP FUNCTION probe_rollups_upsert();"
                           " DELETE FROM schema_migrations WHERE name = '0006_probe_rollups.sql'")
        await conn.execute("INSERT INTO probes (id, token_hash, country, access, enrolled_by)"
                           " VALUES ('p-1', 'x', 'MM', 'fixed', 'test')")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    old = [_result(hour + timedelta(minutes=m), "domestic", m % 3 != 0) for m in range(0, 60, 7)]
    network = Network(asn=64500, country="MM")
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await store_batch(conn, _batch(1, old), network)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        assert await apply_migrations(conn) == ["0006_probe_rollups.sql"]
    backlog = [_result(hour + timedelta(hours=h, minutes=m), scope, m % 4 != 1,
                       **({"throughput_bps": 1000.0 * m} if m % 2 else {}))
               for h in range(3) for m in range(0, 60, 5)
               for scope in ("domestic", "international")]
    first = _batch(2, backlog[:40])
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await store_batch(conn, first, network)
        await store_batch(conn, first, network)  # a retry: nothing new
        await store_batch(conn, _batch(3, backlog[30:]), network)  # 10 results repeated
        cur = await conn.execute(RECOMPUTE)
        recomputed = await cur.fetchall()
        cur = await conn.execute(ROLLUP)
        rollup = await cur.fetchall()
    return recomputed, rollup


def test_rollup_equals_a_recount_of_the_stored_rows(database_url: str) -> None:
    recomputed, rollup = asyncio.run(_scenario(database_url))
    hourly = [r for r in rollup if r[1] == 3600]
    assert len(hourly) == 4  # the old hour (+ its upload hour) and the backlog's hours
    for span in (300, 3600, 21600):  # every result once, the repeats not again
        assert sum(r[4] for r in rollup if r[1] == span) == 9 + 72
    assert rollup == recomputed
