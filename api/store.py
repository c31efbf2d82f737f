"""Storing one accepted batch: results, batch row and probe liveness in one transaction.

Idempotent: the batch row is keyed by ``batch_id`` and results by ``(measured_at, id)``, both
inserted with ON CONFLICT DO NOTHING, so a retried batch (or a result repeated in another
batch) stores nothing twice. ``received_at`` is the collector's clock (the transaction's).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cutwatch.api import metrics
from cutwatch.api.db import Conn
from cutwatch.api.geo import Network
from cutwatch.wire import Batch

# The results in one statement: one array per column (psycopg sends each as one parameter)
# unnested into rows. Binary arrays, which psycopg writes in C: as text it escaped every
# element with a regular expression in Python (7 ms per 100 details on a busy machine).
# Before, a temporary staging table, a COPY into it and a move cost four round trips per
# upload. ``details`` arrives as the JSON text admission wrote to check it (api.admission),
# so it is serialised once per upload.
RESULTS_SQL: Final = """
INSERT INTO results (id, probe_id, batch_id, kind, target, scope, family, measured_at,
                     received_at, duration_ms, ok, failure, details)
SELECT id, %(probe_id)s, %(batch_id)s, kind, target, scope, family, measured_at,
       now(), duration_ms, ok, failure, details::jsonb
FROM unnest(%(ids)b::uuid[], %(kinds)b::text[], %(targets)b::text[], %(scopes)b::text[],
            %(families)b::text[], %(measured)b::timestamptz[], %(durations)b::float8[],
            %(oks)b::boolean[], %(failures)b::text[], %(details)b::text[])
     AS r (id, kind, target, scope, family, measured_at, duration_ms, ok, failure, details)
-- One lock order for every batch, so two batches sharing results cannot deadlock.
ORDER BY measured_at, id
ON CONFLICT (measured_at, id) DO NOTHING
"""
# Right-hand sides see the row before the update, so "asn changed" compares old and new.
LIVENESS_SQL: Final = """
UPDATE probes SET
    last_seen_at = now(),
    last_seq = GREATEST(COALESCE(last_seq, -1), %(seq)s),
    spool_depth = %(spool_depth)s,
    dropped_total = %(dropped_total)s,
    clock_synced = %(clock_synced)s,
    clock_offset_ms = %(clock_offset_ms)s,
    started_at = %(started_at)s,
    software = %(software)s,
    asn_changed_at = CASE WHEN %(geo)s AND asn IS DISTINCT FROM %(asn)s::integer
                          THEN now() ELSE asn_changed_at END,
    asn = CASE WHEN %(geo)s THEN %(asn)s::integer ELSE asn END,
    derived_country = CASE WHEN %(geo)s THEN %(derived_country)s::text ELSE derived_country END,
    network_mismatch = CASE WHEN %(geo)s
                            THEN COALESCE(%(derived_country)s::text <> country, false)
                            ELSE network_mismatch END,
    network_checked_at = CASE WHEN %(geo)s THEN now() ELSE network_checked_at END
WHERE id = %(probe_id)s"""
# The batch row and the probe's liveness in one statement (one round trip); ``received_at``
# is now(), the transaction's start, as for the results. Returns (received_at, new batch).
# (The f-string joins two constants of this module, no input.)
BATCH_SQL: Final = f"""
WITH batch AS (
    INSERT INTO batches (batch_id, probe_id, seq, sent_at, received_at, result_count,
                         accepted_count, spool_depth, dropped_total, clock_synced,
                         clock_offset_ms, started_at, software, results_digest, refused_count,
                         approved)
    VALUES (%(batch_id)s, %(probe_id)s, %(seq)s, %(sent_at)s, now(), %(count)s,
            -- what RESULTS_SQL just stored under this (new) batch_id; the time range lets
            -- TimescaleDB look in the chunks of this batch only
            (SELECT count(*) FROM results WHERE batch_id = %(batch_id)s
                AND measured_at BETWEEN %(first)s AND %(last)s),
            %(spool_depth)s, %(dropped_total)s, %(clock_synced)s, %(clock_offset_ms)s,
            %(started_at)s, %(software)s, %(digest)s, %(refused)s,
            COALESCE((SELECT approved_at IS NOT NULL FROM probes WHERE id = %(probe_id)s),
                     false))
    ON CONFLICT (batch_id) DO NOTHING
    RETURNING batch_id
), liveness AS ({LIVENESS_SQL})
SELECT now(), EXISTS (SELECT FROM batch)
"""  # noqa: S608


class BatchOwnedElsewhere(Exception):
    """The batch_id is already stored for another probe."""


class BatchReused(Exception):
    """The batch_id is already stored with other results (not a retry of the same batch)."""


def results_digest(ids: Iterable[object]) -> bytes:
    """What identifies a batch's results: a retry sends the same ids in the same order."""
    return hashlib.sha256("\n".join(str(i) for i in ids).encode()).digest()


@dataclass(frozen=True)
class StoreOutcome:
    accepted: int
    duplicates: int
    received_at: datetime
    new_batch: bool


async def store_batch(conn: Conn, batch: Batch, network: Network | None,
                      refused: int = 0, digest: bytes | None = None,
                      details: Sequence[str] | None = None) -> StoreOutcome:
    """Store ``batch`` (already validated and authorised) and update its probe's liveness.

    ``network`` is what the GeoIP lookup derived from the upload's source address, or None
    when no GeoIP database is configured (the probe's network facts are then left alone).
    ``digest`` is ``results_digest`` of every result id the upload carried, refused ones
    included (default: the stored results'), so a retry matches however its results fare.
    ``details`` is each result's ``details`` as JSON text, in order (default: written here).

    Two statements in one transaction: the results, then the batch row with the liveness
    update. A batch_id already stored is checked only then (rare: a retry); a refusal rolls
    the results back with the rest.
    """
    results = batch.results
    hb, clock = batch.heartbeat, batch.clock
    facts: dict[str, Any] = {
        "batch_id": batch.batch_id, "probe_id": batch.probe_id, "seq": hb.seq,
        "sent_at": batch.sent_at, "count": len(results),
        "spool_depth": hb.spool_depth, "dropped_total": hb.dropped_total,
        "clock_synced": clock.synced, "clock_offset_ms": clock.offset_ms,
        "started_at": hb.started_at, "software": hb.software,
        "digest": digest or results_digest(r.id for r in results),
        "refused": refused,
        "geo": network is not None,
        "asn": network.asn if network else None,
        "derived_country": network.country if network else None,
    }
    cur, batch_cur = conn.cursor(), conn.cursor()
    # Pipelined, the transaction inside: BEGIN and both statements go out together (one
    # round trip), COMMIT is the second. Before: ten round trips and a temporary table.
    async with conn.pipeline() as pipeline, conn.transaction():
        if results:
            if details is None:
                details = [json.dumps(r.details, ensure_ascii=False) for r in results]
            await cur.execute(RESULTS_SQL, {
                "probe_id": batch.probe_id, "batch_id": batch.batch_id,
                "ids": [r.id for r in results], "kinds": [r.kind for r in results],
                "targets": [r.target for r in results], "scopes": [r.scope for r in results],
                "families": [r.family for r in results],
                "measured": [r.measured_at for r in results],
                "durations": [r.duration_ms for r in results], "oks": [r.ok for r in results],
                "failures": [r.failure for r in results], "details": list(details),
            })
        measured = [r.measured_at for r in results] or [batch.sent_at]
        await batch_cur.execute(BATCH_SQL, {**facts, "first": min(measured),
                                            "last": max(measured)})
        await pipeline.sync()
        accepted = cur.rowcount if results else 0
        row = await batch_cur.fetchone()
        assert row is not None
        received_at: datetime = row[0]
        new_batch: bool = row[1]
        if not new_batch:
            # A statement of its own: it sees a row a concurrent upload committed meanwhile.
            await cur.execute("SELECT probe_id, results_digest FROM batches WHERE batch_id = %s",
                              (batch.batch_id,))
            owner = await cur.fetchone()
            if owner is None or owner[0] != batch.probe_id:
                raise BatchOwnedElsewhere(str(batch.batch_id))
            if owner[1] is not None and bytes(owner[1]) != facts["digest"]:
                raise BatchReused(str(batch.batch_id))
    metrics.INGEST_BATCHES.labels("new" if new_batch else "repeated").inc()
    metrics.INGEST_RESULTS.labels("accepted").inc(accepted)
    metrics.INGEST_RESULTS.labels("duplicate").inc(len(results) - accepted)
    return StoreOutcome(
        accepted=accepted,
        duplicates=len(results) - accepted,
        received_at=received_at,
        new_batch=new_batch,
    )
