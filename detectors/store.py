"""Database edge of the online detector: read probes and batches, store transitions.

Reads build the engine's inputs from the collector's tables (trusted: validated at ingest).
``store_transition`` writes the event, its transition and its webhook deliveries in the
caller's transaction (the outbox), once: a new leader replaying history stores nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from cutwatch.wire import Batch, Clock, Heartbeat, Result
from detectors.model import ProbeInfo, Upload

PROBES_SQL = ("SELECT id, country, subdivision, city, asn, access FROM probes"
              " WHERE disabled_at IS NULL")
BATCHES_SQL = (
    "SELECT batch_id, probe_id, seq, sent_at, received_at, spool_depth, dropped_total,"
    " clock_synced, clock_offset_ms, started_at, software FROM batches"
    " WHERE received_at > %s AND received_at <= %s ORDER BY received_at, batch_id LIMIT %s"
)
RESULTS_SQL = (
    "SELECT batch_id, id, kind, target, scope, family, measured_at, duration_ms, ok, failure,"
    " details FROM results WHERE batch_id = ANY(%s) AND received_at >= %s"
)
ONCE = ("opened", "resolved", "retracted")


async def load_probes(conn: AsyncConnection[Any]) -> list[ProbeInfo]:
    cur = await conn.execute(PROBES_SQL)
    return [ProbeInfo(r[0], r[1], r[2], r[3], r[4], r[5]) for r in await cur.fetchall()]


async def load_uploads(conn: AsyncConnection[Any], after: datetime, until: datetime,
                       limit: int) -> list[Upload]:
    """Batches received in (after, until], oldest first, with their results."""
    cur = await conn.execute(BATCHES_SQL, (after, until, limit))
    rows = await cur.fetchall()
    if not rows:
        return []
    results: dict[UUID, list[Result]] = {}
    cur = await conn.execute(RESULTS_SQL, ([r[0] for r in rows], rows[0][4]))
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


async def store_transition(conn: AsyncConnection[Any], transition: Mapping[str, Any]) -> bool:
    """Store one transition and enqueue its webhooks; False when it was already stored."""
    event = transition["event"]
    entity = event["entity"]
    async with conn.cursor() as cur:
        if transition["action"] in ONCE:
            await cur.execute("SELECT 1 FROM event_transitions WHERE event_id = %s AND action = %s",
                              (event["id"], transition["action"]))
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
            (event["id"], entity["type"], entity["code"], entity.get("access"), event["kind"],
             event["status"], event["start"], event["end"], event["detected_at"],
             transition["at"], Jsonb(event)))
        await cur.execute(
            "INSERT INTO event_transitions (event_id, action, at, transition)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT ON CONSTRAINT event_transitions_once"
            " DO NOTHING RETURNING seq",
            (event["id"], transition["action"], transition["at"], Jsonb(dict(transition))))
        if await cur.fetchone() is None:
            return False
    # The webhooks stage owns the outbox; imported here so the detector's offline tools
    # (replay, bench) never need the service's modules.
    from api.webhooks import outbox

    await outbox.enqueue(conn, transition)
    return True


async def save_cursor(conn: AsyncConnection[Any], value: Mapping[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO detector_state (key, value, updated_at) VALUES ('leader', %s, now())"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        (Jsonb(dict(value), dumps=lambda v: json.dumps(v, default=str)),))
