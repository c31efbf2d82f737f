"""A province blackout replayed into a real collector database, ending *now*, still ongoing.

The detector's simulator builds the stream (a three-country fleet, province MM-01 cut off for
40 minutes); the stream is cut 25 minutes into the blackout and shifted so that the cut is the
present, so the collector sees what it would see at that moment: uploads from MM-01 stopped,
the others reporting. Probes, batches and results are written as ingest writes them (the
collector's clock as ``received_at``); the events are the detector's replay of the same lines,
stored through the detector's own store path (``store_transition``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from cutwatch.api.detection_store import store_transition
from cutwatch.api.migrate import apply_migrations
from cutwatch.detectors.fleet import FleetSpec
from cutwatch.detectors.model import parse_time
from cutwatch.detectors.replay import replay
from cutwatch.detectors.scenarios import T0, Scenario, build

FLEET = FleetSpec(probes_per_country=(30, 12, 9), night_off_share=0.0)
PROVINCE = "MM-01"
START_H, MINUTES, INTO_MIN = 1.5, 40.0, 25.0
SCENARIO = Scenario("province blackout", "blackout", "blackout", "subdivision", PROVINCE,
                    start_h=START_H, minutes=MINUTES)


@dataclass(frozen=True)
class Loaded:
    now: datetime
    blackout_start: datetime
    transitions: list[dict[str, Any]]
    probes: dict[str, dict[str, Any]]  # id -> the probe line's record
    uploads: list[tuple[str, datetime]]  # (probe id, received_at) of every batch
    results: list[tuple[str, datetime, str | None, bool]]  # (probe, measured_at, scope, ok)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def shifted_lines(now: datetime) -> list[str]:
    """The stream up to 25 min into the blackout, every time moved so that cut == now."""
    cut = T0 + START_H * 3600 + INTO_MIN * 60
    offset = now.timestamp() - cut
    lines, _ = build(FLEET, [SCENARIO], hours=START_H + 1, seed=3)

    def move(value: str) -> str:
        return _iso(parse_time(value) + offset)

    out = []
    for line in lines:
        item = json.loads(line)
        if item["type"] == "upload":
            if parse_time(item["received_at"]) > cut:
                break  # lines are in received_at order
            item["received_at"] = move(item["received_at"])
            batch = item["batch"]
            batch["sent_at"] = move(batch["sent_at"])
            batch["heartbeat"]["started_at"] = move(batch["heartbeat"]["started_at"])
            for result in batch["results"]:
                result["measured_at"] = move(result["measured_at"])
        out.append(json.dumps(item, separators=(",", ":")))
    return out


def load(database_url: str) -> Loaded:
    now = datetime.now(UTC).replace(microsecond=0)
    lines = shifted_lines(now)
    transitions = [t.to_json() for t in replay(lines, until=now.timestamp())]
    probes: dict[str, dict[str, Any]] = {}
    batches: list[tuple[Any, ...]] = []
    results: list[tuple[Any, ...]] = []
    for line in lines:
        item = json.loads(line)
        if item["type"] == "probe":
            probes[item["probe"]["id"]] = item["probe"]
            continue
        b, received = item["batch"], item["received_at"]
        hb = b["heartbeat"]
        batches.append((b["batch_id"], b["probe_id"], hb["seq"], b["sent_at"], received,
                        len(b["results"]), len(b["results"]), hb["spool_depth"],
                        hb["dropped_total"], True, 0.0, hb["started_at"], hb["software"]))
        results += [(r["id"], b["probe_id"], b["batch_id"], r["kind"], r["target"], r["scope"],
                     r["family"], r["measured_at"], received, r["duration_ms"], r["ok"],
                     r["failure"], Jsonb(r["details"])) for r in b["results"]]
    # Registered when their first upload came; liveness is their last upload.
    first_seen: dict[str, str] = {}
    last_seen: dict[str, str] = {}
    for row in batches:
        first_seen.setdefault(row[1], row[4])
        last_seen[row[1]] = row[4]
    _run(_migrate(database_url))
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.cursor().executemany(
            "INSERT INTO probes (id, token_hash, country, subdivision, city, access, asn,"
            " enrolled_by, registered_at, last_seen_at)"
            " VALUES (%s, 'not-a-token', %s, %s, %s, %s, %s, 'test', %s, %s)",
            [(p["id"], p["country"], p["subdivision"], p["city"], p["access"], p["asn"],
              first_seen[p["id"]], last_seen[p["id"]]) for p in probes.values()])
        with conn.cursor().copy(
                "COPY batches (batch_id, probe_id, seq, sent_at, received_at, result_count,"
                " accepted_count, spool_depth, dropped_total, clock_synced,"
                " clock_offset_ms, started_at, software) FROM STDIN") as copy:
            for row in batches:
                copy.write_row(row)
        with conn.cursor().copy(
                "COPY results (id, probe_id, batch_id, kind, target, scope, family,"
                " measured_at, received_at, duration_ms, ok, failure, details)"
                " FROM STDIN") as copy:
            for row in results:
                copy.write_row(row)
    _run(_store(database_url, transitions))
    start = now - timedelta(minutes=INTO_MIN)
    return Loaded(now=now, blackout_start=start, transitions=transitions, probes=probes,
                  uploads=[(b[1], _dt(b[4])) for b in batches],
                  results=[(r[1], _dt(r[7]), r[5], r[10]) for r in results])


def _dt(value: str) -> datetime:
    return datetime.fromtimestamp(parse_time(value), UTC)


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """asyncio.run on a thread of its own: Playwright's sync API keeps a loop on this one."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


async def _migrate(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await apply_migrations(conn)


async def _store(database_url: str, transitions: list[dict[str, Any]]) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for t in transitions:
            async with conn.transaction():
                await store_transition(conn, t)
