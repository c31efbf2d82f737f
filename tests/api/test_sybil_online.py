"""Sybil resistance end to end: enrollment tokens name operators, the operator approves the
probes, batches go into PostgreSQL, the online leader (api/leader.py) turns them into events,
transitions and feed entries. One operator staging a province blackout across two networks
raises only a ``single_source`` event; with a second operator's probes it is a normal one."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from cutwatch.api.leader import Leader, OnlineConfig
from cutwatch.api.migrate import apply_migrations
from cutwatch.api.registration import approve, create_enrollment_token
from cutwatch.api.webhooks import feeds
from cutwatch.detectors.model import Transition
from cutwatch.detectors.params import Params

T0 = 1_700_000_000.0
CUT_AT = T0 + 40 * 60  # after the probes' cadence is learned


class StepClock:
    """The database's clock as the leader reads it, moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    async def __call__(self, conn: Any) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


async def _enrol(conn: psycopg.AsyncConnection[Any], operator: str, n: int, country: str,
                 subdivision: str, asns: tuple[int, ...]) -> list[str]:
    """``n`` probes registered with an enrollment token handed to ``operator`` (as the
    registration route stores them: waiting for approval), then approved."""
    token = await create_enrollment_token(conn, label=operator, max_uses=None,
                                          expires_in=timedelta(hours=1), operator=operator)
    ids = []
    for i in range(n):
        probe_id = f"{operator}-{i}"
        await conn.execute(
            "INSERT INTO probes (id, token_hash, country, subdivision, city, access, asn,"
            " enrolled_by, operator, approved_at)"
            " VALUES (%s, 'x', %s, %s, 'c', 'fixed', %s, %s, %s, NULL)",
            (probe_id, country, subdivision, asns[i % len(asns)], token.id, token.operator))
        assert await approve(conn, probe_id) is not None
        ids.append(probe_id)
    return ids


async def _admin_probes(conn: psycopg.AsyncConnection[Any], n: int, country: str,
                        subdivision: str, asns: tuple[int, ...]) -> list[str]:
    """``n`` probes the collector's operator registered with the admin token (as the
    registration route stores them: approved at once, enrolled by and operator 'admin')."""
    ids = [f"admin-{i}" for i in range(n)]
    for i, probe_id in enumerate(ids):
        await conn.execute(
            "INSERT INTO probes (id, token_hash, country, subdivision, city, access, asn,"
            " enrolled_by, operator, approved_at)"
            " VALUES (%s, 'x', %s, %s, 'c', 'fixed', %s, 'admin', 'admin', now())",
            (probe_id, country, subdivision, asns[i % len(asns)]))
    return ids


def typed(transitions: list[dict[str, Any]]) -> list[Transition]:
    """The feed-entry rows as the feeds read them."""
    return [Transition.from_json(t) for t in transitions]


async def _run(database_url: str, silent_operators: set[str]) -> list[dict[str, Any]]:
    """Two hours at a 60 s cadence; the probes of ``silent_operators`` stop uploading at
    CUT_AT. Returns the feed entries' transitions, oldest first."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await apply_migrations(conn)
        probes: dict[str, list[str]] = {
            # mallory's six probes in ZZ-01, in both of its networks
            "mallory": await _enrol(conn, "mallory", 6, "ZZ", "ZZ-01", (64801, 64802)),
            "alice": await _enrol(conn, "alice", 4, "ZZ", "ZZ-01", (64801, 64802)),
            "bob": await _enrol(conn, "bob", 6, "ZZ", "ZZ-02", (64801, 64802)),
            "carol": await _enrol(conn, "carol", 6, "YY", "YY-01", (64803,)),
            "admin": await _admin_probes(conn, 6, "ZZ", "ZZ-03", (64801, 64802)),
        }
        clock = StepClock()
        leader = Leader(conn, Params(), OnlineConfig(settle_s=0, poll_s=1e9), clock=clock)
        for minute in range(120):
            now, seq = T0 + 60 * minute, minute + 1
            rows = [(uuid.uuid4(), p, seq, datetime.fromtimestamp(now - 1 + n * 0.01, UTC))
                    for op, ids in probes.items()
                    if not (op in silent_operators and now >= CUT_AT)
                    for n, p in enumerate(ids)]
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO batches (batch_id, probe_id, seq, sent_at, received_at,"
                    " result_count, accepted_count, spool_depth, dropped_total)"
                    " VALUES (%s, %s, %s, %s, %s, 0, 0, 0, 0)",
                    [(b, p, s, at, at) for b, p, s, at in rows])
            clock.now = now
            await leader.step()
        cur = await conn.execute("SELECT transition FROM feed_entries ORDER BY id")
        return [r[0] for r in await cur.fetchall()]


@pytest.mark.slow
@pytest.mark.anyio
async def test_one_operator_stages_a_blackout(database_url: str) -> None:
    transitions = await _run(database_url, {"mallory"})
    assert transitions, "six silent probes in two networks raise an event"
    for t in transitions:  # never an unflagged one: in the event, its transitions, the feed
        assert t["event"]["single_source"] is True, t
        assert t["event"]["evidence"]["sources"]["operators"] == 1
    opened = [t["event"] for t in transitions if t["action"] == "opened"]
    assert [(e["entity"]["code"], e["evidence"]["sources"]) for e in opened] == [
        ("ZZ-01", {"operators": 1, "networks": 2})]
    feed = feeds.json_feed(typed(transitions), "http://127.0.0.1", "http://127.0.0.1/v1/feeds/json")
    assert all("single_source" in item["tags"] for item in feed["items"])
    assert all(item["title"].endswith(", single source") for item in feed["items"])
    body = feeds.atom(typed(transitions), "http://127.0.0.1", "http://127.0.0.1/a")
    atom = ET.fromstring(body)  # noqa: S314 (our own output)
    entries = atom.findall(f"{{{feeds.ATOM}}}entry")
    assert len(entries) == len(transitions)
    for entry in entries:
        terms = {c.get("term") for c in entry.findall(f"{{{feeds.ATOM}}}category")}
        assert "single_source" in terms


@pytest.mark.slow
@pytest.mark.anyio
async def test_two_operators_raise_a_normal_event(database_url: str) -> None:
    transitions = await _run(database_url, {"mallory", "alice"})
    opened = [t["event"] for t in transitions if t["action"] == "opened"]
    assert [(e["entity"]["code"], e["single_source"], e["evidence"]["sources"])
            for e in opened] == [("ZZ-01", False, {"operators": 2, "networks": 2})]
    feed = feeds.json_feed(typed(transitions), "http://127.0.0.1", "http://127.0.0.1/v1/feeds/json")
    assert not any("single_source" in item["tags"] for item in feed["items"])


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_collectors_own_probes_are_sources_of_their_own(database_url: str) -> None:
    """Probes registered with the admin token: the operator running the collector vouches for
    each, so its own fleet's blackout is not flagged as one group's."""
    transitions = await _run(database_url, {"admin"})
    opened = [t["event"] for t in transitions if t["action"] == "opened"]
    assert [(e["entity"]["code"], e["single_source"], e["evidence"]["sources"])
            for e in opened] == [("ZZ-03", False, {"operators": 6, "networks": 2})]
