"""Database side of the online detector: the feed, probes, batches, transitions, quarantine.

Reads build the engine's inputs from the collector's tables (validated at ingest, but a row
written by other means may still not convert: ``read_uploads`` quarantines such batches one by
one instead of failing the page). ``store_transition`` writes the event, its transition and its
webhook deliveries in the caller's transaction (the outbox), once: a new leader replaying
history stores nothing twice. The queue (migration 0004) is filled by a trigger on ``batches``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from cutwatch.api import metrics
from cutwatch.api.webhooks import outbox
from cutwatch.detectors.model import ProbeInfo, Transition, Upload
from cutwatch.wire import Batch, Clock, Heartbeat, Result

log = logging.getLogger(__name__)

# Only probes the operator approved count (migration 0005): an unapproved probe's batches are
# stored, but neither it nor they reach the engine. A probe the collector's operator registered
# with the admin token has no operator for the Sybil rule (each counts as its own source): the
# rule guards against enrollment-token holders, and the operator who runs the collector is
# the root of that trust, not one more group that could stage a blackout.
PROBES_SQL = ("SELECT id, country, subdivision, city, asn, access,"
              " CASE WHEN enrolled_by = 'admin' THEN NULL ELSE operator END FROM probes"
              " WHERE disabled_at IS NULL AND approved_at IS NOT NULL")
BATCHES_SQL = (
    "SELECT batch_id, probe_id, seq, sent_at, received_at, spool_depth, dropped_total,"
    " clock_synced, clock_offset_ms, started_at, software FROM batches"
    " WHERE batch_id = ANY(%s) AND approved ORDER BY received_at, batch_id"
)
# results_batch_id_idx (migration 0004) finds them; received_at (a batch's results carry its
# received_at) spares chunks of a TimescaleDB hypertable most of the probes' work.
RESULTS_SQL = (
    "SELECT batch_id, id, kind, target, scope, family, measured_at, duration_ms, ok, failure,"
    " details FROM results WHERE batch_id = ANY(%s) AND received_at >= %s AND received_at <= %s"
)
# Keyset paging over history (received_at, batch_id), skipping quarantined batches.
HISTORY_SQL = (
    "SELECT b.batch_id, b.received_at FROM batches b"
    " WHERE (b.received_at, b.batch_id) > (%s, %s) AND b.received_at <= %s"
    " AND NOT EXISTS (SELECT 1 FROM detector_quarantine q WHERE q.batch_id = b.batch_id)"
    " ORDER BY b.received_at, b.batch_id LIMIT %s"
)
# The leader alone consumes (under its advisory lock); SKIP LOCKED keeps a second consumer,
# should one ever run, from waiting on the first instead of taking other rows.
TAKE_SQL = (
    "DELETE FROM detector_queue WHERE batch_id IN ("
    " SELECT batch_id FROM detector_queue WHERE received_at <= %s"
    " ORDER BY received_at, batch_id LIMIT %s FOR UPDATE SKIP LOCKED)"
    " RETURNING batch_id, received_at"
)
# The same, logging what it took in detector_fed (migration 0008) for the next snapshot.
TAKE_LOGGED_SQL = (
    "WITH taken AS (DELETE FROM detector_queue WHERE batch_id IN ("
    " SELECT batch_id FROM detector_queue WHERE received_at <= %s"
    " ORDER BY received_at, batch_id LIMIT %s FOR UPDATE SKIP LOCKED)"
    " RETURNING batch_id, received_at),"
    " logged AS (INSERT INTO detector_fed (batch_id, received_at)"
    " SELECT batch_id, received_at FROM taken ORDER BY received_at, batch_id)"
    " SELECT batch_id, received_at FROM taken"
)
# A batch that cannot be converted to Python values (a timestamp before year 1, say).
UNREADABLE = (psycopg.DataError, ValueError, OverflowError)


@dataclass(frozen=True, slots=True)
class QueueStats:
    waiting: int
    oldest: datetime | None


ONCE = ("opened", "resolved", "retracted", "merged")


async def load_probes(conn: AsyncConnection[Any]) -> list[ProbeInfo]:
    cur = await conn.execute(PROBES_SQL)
    return [ProbeInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in await cur.fetchall()]


async def take_queued(conn: AsyncConnection[Any], until: datetime,
                      limit: int, log_fed: bool = False) -> list[tuple[UUID, datetime]]:
    """Remove up to ``limit`` queued batches received by ``until`` (in the caller's
    transaction, so they return to the queue if it rolls back); ``log_fed``: and note them
    in detector_fed, where the next leader finds what came after the last snapshot."""
    cur = await conn.execute(TAKE_LOGGED_SQL if log_fed else TAKE_SQL, (until, limit))
    return [(r[0], r[1]) for r in await cur.fetchall()]


async def history_page(conn: AsyncConnection[Any], after: tuple[datetime, UUID],
                       until: datetime, limit: int) -> list[tuple[UUID, datetime]]:
    """Stored batches after the key ``after`` and received by ``until``, oldest first."""
    cur = await conn.execute(HISTORY_SQL, (after[0], after[1], until, limit))
    return [(r[0], r[1]) for r in await cur.fetchall()]


async def drop_queued(conn: AsyncConnection[Any], until: datetime) -> int:
    """Empty the queue up to ``until``: a new leader feeds those batches from history."""
    cur = await conn.execute("DELETE FROM detector_queue WHERE received_at <= %s", (until,))
    return cur.rowcount


async def queue_stats(conn: AsyncConnection[Any]) -> QueueStats:
    cur = await conn.execute("SELECT count(*), min(received_at) FROM detector_queue")
    row = await cur.fetchone()
    assert row is not None
    return QueueStats(int(row[0]), row[1])


async def quarantine(conn: AsyncConnection[Any], batch_id: UUID, reason: str) -> None:
    """Set a batch aside for good (it is never fed again) and log it once."""
    log.error("detector: quarantined batch %s: %s", batch_id, reason)
    await conn.execute(
        "INSERT INTO detector_quarantine (batch_id, reason) VALUES (%s, %s)"
        " ON CONFLICT (batch_id) DO NOTHING", (batch_id, reason[:1000]))


async def read_uploads(conn: AsyncConnection[Any],
                       keys: Sequence[tuple[UUID, datetime]]) -> list[Upload]:
    """The batches ``keys`` with their results, oldest first; a batch that cannot be read is
    quarantined (one by one, so one bad row costs only itself) and left out."""
    if not keys:
        return []
    try:
        async with conn.transaction():  # a savepoint: a failed read leaves the caller's intact
            return await load_uploads(conn, keys)
    except UNREADABLE:
        pass  # one (or more) of them: find which
    out: list[Upload] = []
    for key in keys:
        try:
            async with conn.transaction():
                out.extend(await load_uploads(conn, [key]))
        except UNREADABLE as exc:
            await quarantine(conn, key[0], f"unreadable: {type(exc).__name__}: {exc}")
            metrics.DETECTOR_QUARANTINED.inc()
    return out


async def load_uploads(conn: AsyncConnection[Any],
                       keys: Sequence[tuple[UUID, datetime]]) -> list[Upload]:
    """The batches ``keys`` (id, received_at) with their results, oldest first."""
    if not keys:
        return []
    ids = [k[0] for k in keys]
    cur = await conn.execute(BATCHES_SQL, (ids,))
    rows = await cur.fetchall()
    if not rows:
        return []
    results: dict[UUID, list[Result]] = {}
    cur = await conn.execute(RESULTS_SQL, (ids, min(k[1] for k in keys),
                                           max(k[1] for k in keys)))
    for r in await cur.fetchall():
        results.setdefault(r[0], []).append(Result.model_construct(
            id=r[1], kind=r[2], target=r[3], scope=r[4], family=r[5], measured_at=r[6],
            duration_ms=r[7], ok=r[8], failure=r[9], details=r[10] or {}))
    out = []
    for r in rows:
        batch = Batch.model_construct(
            schema_version=1, batch_id=r[0], probe_id=r[1], sent_at=r[3],
            clock=Clock.model_construct(synced=r[7], offset_ms=r[8]),
            heartbeat=Heartbeat.model_construct(seq=r[2], spool_depth=r[5],
                                                dropped_total=r[6], started_at=r[9],
                                                software=r[10]),
            results=results.get(r[0], []))
        out.append(Upload(r[4].timestamp(), batch))
    return out


async def store_transition(conn: AsyncConnection[Any],
                           transition: Transition | Mapping[str, Any]) -> bool:
    """Store one transition and enqueue its webhooks; False when it was already stored.
    A mapping is read as a docs/events.md transition first (``TransitionError`` if not)."""
    typed = transition if isinstance(transition, Transition) else \
        Transition.from_json(transition)
    event, wire = typed.event, typed.to_json()
    entity = event.entity
    async with conn.cursor() as cur:
        if typed.action in ONCE:
            await cur.execute("SELECT 1 FROM event_transitions WHERE event_id = %s AND action = %s",
                              (event.id, typed.action))
            if await cur.fetchone() is not None:
                return False
        await cur.execute(
            "INSERT INTO events (id, entity_type, entity_code, entity_access, kind, status,"
            " start_at, end_at, detected_at, updated_at, event)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, status = EXCLUDED.status,"
            " start_at = EXCLUDED.start_at, end_at = EXCLUDED.end_at,"
            " updated_at = EXCLUDED.updated_at, event = EXCLUDED.event"
            " WHERE events.updated_at <= EXCLUDED.updated_at",
            (event.id, entity["type"], entity["code"], entity.get("access"), event.kind,
             event.status, event.start, event.end, event.detected_at, wire["at"],
             Jsonb(wire["event"])))
        await cur.execute(
            "INSERT INTO event_transitions (event_id, action, at, transition)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT ON CONSTRAINT event_transitions_once"
            " DO NOTHING RETURNING seq",
            (event.id, typed.action, wire["at"], Jsonb(wire)))
        if await cur.fetchone() is None:
            return False
    await outbox.enqueue(conn, typed)
    return True


async def save_cursor(conn: AsyncConnection[Any], value: Mapping[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO detector_state (key, value, updated_at) VALUES ('leader', %s, now())"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        (Jsonb(dict(value), dumps=lambda v: json.dumps(v, default=str)),))


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    format: int
    taken_at: datetime
    fed: int
    state: bytes


SNAPSHOT_ID = "engine"


async def save_snapshot(conn: AsyncConnection[Any], format: int, fed: int,
                        state: bytes) -> None:
    """Replace the snapshot and empty the fed log (its batches are in the snapshot now); call
    it in a transaction, so both happen or neither."""
    await conn.execute(
        "INSERT INTO detector_snapshots (id, format, taken_at, fed, state)"
        " VALUES (%s, %s, now(), %s, %s) ON CONFLICT (id) DO UPDATE SET format = EXCLUDED.format,"
        " taken_at = EXCLUDED.taken_at, fed = EXCLUDED.fed, state = EXCLUDED.state",
        (SNAPSHOT_ID, format, fed, state))
    await conn.execute("DELETE FROM detector_fed")


async def load_snapshot(conn: AsyncConnection[Any]) -> StoredSnapshot | None:
    cur = await conn.execute(
        "SELECT format, taken_at, fed, state FROM detector_snapshots WHERE id = %s",
        (SNAPSHOT_ID,))
    row = await cur.fetchone()
    return None if row is None else StoredSnapshot(row[0], row[1], row[2], bytes(row[3]))


async def drop_snapshot(conn: AsyncConnection[Any]) -> None:
    """Forget the snapshot and the fed log: a leader rebuilding from history replaces both."""
    await conn.execute("DELETE FROM detector_snapshots")
    await conn.execute("DELETE FROM detector_fed")


async def fed_page(conn: AsyncConnection[Any], after: int,
                   limit: int) -> list[tuple[int, UUID, datetime]]:
    """Batches the last leader took after its snapshot, in the order it took them."""
    cur = await conn.execute(
        "SELECT seq, batch_id, received_at FROM detector_fed f WHERE seq > %s"
        " AND NOT EXISTS (SELECT 1 FROM detector_quarantine q WHERE q.batch_id = f.batch_id)"
        " ORDER BY seq LIMIT %s", (after, limit))
    return [(r[0], r[1], r[2]) for r in await cur.fetchall()]
