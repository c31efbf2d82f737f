"""Storing one accepted batch: batch row, results (COPY) and probe liveness in one transaction.

Idempotent: the batch row is keyed by ``batch_id`` and results by ``(measured_at, id)``, both
inserted with ON CONFLICT DO NOTHING, so a retried batch (or a result repeated in another
batch) stores nothing twice. ``received_at`` is the collector's clock (the transaction's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cutwatch.api import metrics
from cutwatch.api.db import Conn
from cutwatch.api.geo import Network
from cutwatch.wire import Batch

STAGING_SQL: Final = """
CREATE TEMP TABLE IF NOT EXISTS ingest_staging (
    id uuid, kind text, target text, scope text, family text, measured_at timestamptz,
    duration_ms double precision, ok boolean, failure text, details jsonb
) ON COMMIT DELETE ROWS
"""
COPY_SQL: Final = (
    "COPY ingest_staging (id, kind, target, scope, family, measured_at, duration_ms, ok,"
    " failure, details) FROM STDIN (FORMAT BINARY)"
)
COPY_TYPES: Final = [
    "uuid", "text", "text", "text", "text", "timestamptz", "float8", "bool", "text", "jsonb",
]
MOVE_SQL: Final = """
INSERT INTO results (id, probe_id, batch_id, kind, target, scope, family, measured_at,
                     received_at, duration_ms, ok, failure, details)
SELECT id, %(probe_id)s, %(batch_id)s, kind, target, scope, family, measured_at,
       %(received_at)s, duration_ms, ok, failure, details
FROM ingest_staging
-- One lock order for every batch, so two batches sharing results cannot deadlock.
ORDER BY measured_at, id
ON CONFLICT (measured_at, id) DO NOTHING
"""
BATCH_SQL: Final = """
INSERT INTO batches (batch_id, probe_id, seq, sent_at, received_at, result_count,
                     accepted_count, spool_depth, dropped_total, clock_synced,
                     clock_offset_ms, started_at, software, results_digest, refused_count,
                     approved)
VALUES (%(batch_id)s, %(probe_id)s, %(seq)s, %(sent_at)s, %(received_at)s, %(count)s, 0,
        %(spool_depth)s, %(dropped_total)s, %(clock_synced)s, %(clock_offset_ms)s,
        %(started_at)s, %(software)s, %(digest)s, %(refused)s,
        COALESCE((SELECT approved_at IS NOT NULL FROM probes WHERE id = %(probe_id)s), false))
ON CONFLICT (batch_id) DO NOTHING
RETURNING batch_id
"""
# Right-hand sides see the row before the update, so "asn changed" compares old and new.
LIVENESS_SQL: Final = """
UPDATE probes SET
    last_seen_at = %(received_at)s,
    last_seq = GREATEST(COALESCE(last_seq, -1), %(seq)s),
    spool_depth = %(spool_depth)s,
    dropped_total = %(dropped_total)s,
    clock_synced = %(clock_synced)s,
    clock_offset_ms = %(clock_offset_ms)s,
    started_at = %(started_at)s,
    software = %(software)s,
    asn_changed_at = CASE WHEN %(geo)s AND asn IS DISTINCT FROM %(asn)s::integer
                          THEN %(received_at)s ELSE asn_changed_at END,
    asn = CASE WHEN %(geo)s THEN %(asn)s::integer ELSE asn END,
    derived_country = CASE WHEN %(geo)s THEN %(derived_country)s::text ELSE derived_country END,
    network_mismatch = CASE WHEN %(geo)s
                            THEN COALESCE(%(derived_country)s::text <> country, false)
                            ELSE network_mismatch END,
    network_checked_at = CASE WHEN %(geo)s THEN %(received_at)s ELSE network_checked_at END
WHERE id = %(probe_id)s
"""


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
                      refused: int = 0, digest: bytes | None = None) -> StoreOutcome:
    """Store ``batch`` (already validated and authorised) and update its probe's liveness.

    ``network`` is what the GeoIP lookup derived from the upload's source address, or None
    when no GeoIP database is configured (the probe's network facts are then left alone).
    ``digest`` is ``results_digest`` of every result id the upload carried, refused ones
    included (default: the stored results'), so a retry matches however its results fare.
    """
    async with conn.transaction():
        cur = conn.cursor()
        await cur.execute("SELECT now()")
        row = await cur.fetchone()
        assert row is not None
        received_at: datetime = row[0]
        hb, clock = batch.heartbeat, batch.clock
        facts = {
            "batch_id": batch.batch_id, "probe_id": batch.probe_id, "seq": hb.seq,
            "sent_at": batch.sent_at, "received_at": received_at, "count": len(batch.results),
            "spool_depth": hb.spool_depth, "dropped_total": hb.dropped_total,
            "clock_synced": clock.synced, "clock_offset_ms": clock.offset_ms,
            "started_at": hb.started_at, "software": hb.software,
            "digest": digest or results_digest(r.id for r in batch.results),
            "refused": refused,
        }
        await cur.execute(BATCH_SQL, facts)
        new_batch = await cur.fetchone() is not None
        if not new_batch:
            await cur.execute("SELECT probe_id, results_digest FROM batches WHERE batch_id = %s",
                              (batch.batch_id,))
            owner = await cur.fetchone()
            if owner is None or owner[0] != batch.probe_id:
                raise BatchOwnedElsewhere(str(batch.batch_id))
            if owner[1] is not None and bytes(owner[1]) != facts["digest"]:
                raise BatchReused(str(batch.batch_id))
        accepted = 0
        if batch.results:
            await cur.execute(STAGING_SQL)
            async with cur.copy(COPY_SQL) as copy:
                copy.set_types(COPY_TYPES)
                for r in batch.results:
                    await copy.write_row((
                        r.id, r.kind, r.target, r.scope, r.family, r.measured_at,
                        r.duration_ms, r.ok, r.failure, r.details,
                    ))
            await cur.execute(MOVE_SQL, facts)
            accepted = cur.rowcount
            if new_batch:
                await cur.execute(
                    "UPDATE batches SET accepted_count = %s WHERE batch_id = %s",
                    (accepted, batch.batch_id),
                )
        await cur.execute(LIVENESS_SQL, {
            **facts,
            "geo": network is not None,
            "asn": network.asn if network else None,
            "derived_country": network.country if network else None,
        })
    metrics.INGEST_BATCHES.labels("new" if new_batch else "repeated").inc()
    metrics.INGEST_RESULTS.labels("accepted").inc(accepted)
    metrics.INGEST_RESULTS.labels("duplicate").inc(len(batch.results) - accepted)
    return StoreOutcome(
        accepted=accepted,
        duplicates=len(batch.results) - accepted,
        received_at=received_at,
        new_batch=new_batch,
    )
