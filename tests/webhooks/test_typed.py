"""The webhooks and feeds read stored transitions back into the typed model: the signed bytes
stay what receivers verify, the test message takes the same path, and a stored row that no
longer reads as a transition fails once (webhook) or is left out (feed), never loops or 500s."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from live_service import LiveService
from prometheus_client import REGISTRY
from psycopg_pool import AsyncConnectionPool

from cutwatch.api.webhooks import dispatcher, outbox, payloads, schemas, signing
from cutwatch.api.webhooks.config import WebhookConfig
from cutwatch.api.webhooks.deliveries import claim
from cutwatch.api.webhooks.feeds import read
from cutwatch.detectors.model import Transition

from .factory import add_subscription, transition, transition_json
from .service import settings_for
from .test_api import enqueue as enqueue_sync
from .test_delivery import (
    dispatcher_went_past_due_work,
    enqueue,
    eventually,
    rows,
    running,
    subscribed,
)

# A transition as the outbox stores it, with what could change in a re-rendering: non-ASCII,
# floats, nulls, nested evidence, an access-scoped network entity, an end.
STORED: dict[str, Any] = {
    "type": "event", "action": "updated", "at": "2026-01-08T16:42:10Z",
    "event": {"id": "5b0c9d8e-3f1a-5c2b-9e7d-1a2b3c4d5e6f", "status": "confirmed",
              "kind": "international_cut",
              "entity": {"type": "asn_subdivision", "code": "AS58224/IR-07",
                         "name": "تهران", "asn": 58224, "subdivision": "IR-07",
                         "country": "IR", "access": "mobile"},
              "start": "2026-01-08T16:30:00Z", "end": "2026-01-08T18:05:00Z",
              "detected_at": "2026-01-08T16:31:05Z", "confidence": 0.9731,
              "probes_affected": 17, "probes_total": 19, "asns_affected": [12880, 58224],
              "single_source": True,
              "evidence": {"silent": 3, "ratio": 0.125,
                           "sources": {"operators": 1, "networks": 2},
                           "international_failed": ["AS15169", "AS13335"], "note": None}},
}
# The body the dispatcher signed for STORED before transitions were typed (built then by
# the dict code from the stored row): receivers verify these exact bytes.
PINNED_BODY = (
    '{"data":{"action":"updated","at":"2026-01-08T16:42:10Z","event":{"asns_affected":'
    '[12880,58224],"confidence":0.9731,"detected_at":"2026-01-08T16:31:05Z","end":'
    '"2026-01-08T18:05:00Z","entity":{"access":"mobile","asn":58224,"code":"AS58224/IR-07",'
    '"country":"IR","name":"تهران","subdivision":"IR-07","type":"asn_subdivision"},'
    '"evidence":{"international_failed":["AS15169","AS13335"],"note":null,"ratio":0.125,'
    '"silent":3,"sources":{"networks":2,"operators":1}},'
    '"id":"5b0c9d8e-3f1a-5c2b-9e7d-1a2b3c4d5e6f","kind":"international_cut",'
    '"probes_affected":17,"probes_total":19,"single_source":true,'
    '"start":"2026-01-08T16:30:00Z","status":"confirmed"},"type":"event"},'
    '"links":{"api":"https://cutwatch.example/v1/events/5b0c9d8e-3f1a-5c2b-9e7d-1a2b3c4d5e6f",'
    '"dashboard":"https://cutwatch.example/events/5b0c9d8e-3f1a-5c2b-9e7d-1a2b3c4d5e6f"},'
    '"timestamp":"2026-01-08T16:42:11Z","type":"outage.updated"}')
PINNED_SIGNATURE = "v1,I08iTAdPlPudoDb0X9b73dF5NlaMVszIgh1q2JqNNjA="
CREATED = datetime(2026, 1, 8, 16, 42, 11, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_0123456789abcdef0123456789abcdef"


@pytest.mark.anyio
async def test_the_signed_body_of_a_stored_transition_is_pinned(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig,
) -> None:
    async with pool.connection() as conn:
        await add_subscription(conn, "https://hooks.example/x", secret=SECRET)
        assert await outbox.enqueue(conn, Transition.from_json(STORED)) == 1
        [item] = await claim(conn, fast)
    assert item.payload == STORED  # what the outbox stored, read back from PostgreSQL
    body = dispatcher.body_of(fast, dataclasses.replace(item, created_at=CREATED))
    assert body == PINNED_BODY
    headers = signing.headers(MSG_ID, CREATED, body, [SECRET])
    assert headers["webhook-signature"] == PINNED_SIGNATURE
    schemas.validate(body)


def test_the_typed_model_is_what_builds_the_body() -> None:
    typed = Transition.from_json(STORED)
    body = payloads.build(typed, "https://cutwatch.example", CREATED)
    assert body == PINNED_BODY
    assert payloads.event_type(typed) == "outage.updated"
    # A revised transition renders its own fields: the body comes from the object, not text.
    resolved = dataclasses.replace(typed, action="resolved", event=dataclasses.replace(
        typed.event, status="resolved"))
    got = json.loads(payloads.build(resolved, "https://cutwatch.example", CREATED))
    assert (got["type"], got["data"]["action"], got["data"]["event"]["status"]) == (
        "outage.resolved", "resolved", "resolved")


@pytest.mark.anyio
async def test_a_test_delivery_is_a_typed_placeholder_transition(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig,
) -> None:
    async with subscribed(pool) as receiver:
        [(sub_id,)] = await rows(pool, "SELECT id FROM subscriptions")
        async with pool.connection() as conn:
            await outbox.enqueue_test(conn, sub_id)
        async with running(pool, fast):
            await eventually(lambda: len(receiver.requests) >= 1)
        [got] = receiver.requests
    assert got.error is None
    message = json.loads(got.body)
    schemas.validate(got.body)
    assert message["type"] == "webhook.test"
    event = message["data"]["event"]
    assert (event["id"], event["kind"], event["status"], event["entity"]["code"]) == (
        "test", "unknown", "suspected", "ZZ")
    assert event["single_source"] is False  # a full docs/events.md event, like the real ones
    assert message["links"]["api"] == "https://cutwatch.example/v1/events/test"
    # The same builder as every outage body: from the typed sample at the same second.
    sample = payloads.sample_transition(Transition.from_json(message["data"]).at)
    assert got.body.decode() == payloads.build(
        sample, "https://cutwatch.example",
        datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00")), test=True)


@pytest.mark.anyio
async def test_an_unreadable_stored_payload_fails_once_and_blames_no_endpoint(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig,
) -> None:
    def unreadable() -> float:
        return REGISTRY.get_sample_value("cutwatch_webhook_deliveries_total",
                                         {"outcome": "unreadable"}) or 0.0

    counted_before = unreadable()
    async with subscribed(pool) as receiver:
        await enqueue(pool, transition(event_id="broken"))
        async with pool.connection() as conn:  # an old or damaged row, as a repair might leave
            await conn.execute("UPDATE deliveries SET payload = %s WHERE event_id = 'broken'",
                               (json.dumps(transition_json(event_id="broken", status="lost")),))
        await enqueue(pool, transition(event_id="fine"))
        async with running(pool, fast):
            await eventually(lambda: len(receiver.requests) >= 1)  # the readable one arrives
            await dispatcher_went_past_due_work(pool)
        # (the control delivery of the check above reaches this subscription too)
        assert sorted(json.loads(r.body)["data"]["event"]["id"]
                      for r in receiver.requests) == ["control", "fine"]
    [(status, attempts, code, error)] = await rows(
        pool, "SELECT status, attempts, last_status_code, last_error FROM deliveries"
        " WHERE event_id = 'broken'")
    assert (status, attempts, code) == ("failed", 1, None)
    assert error == ("stored payload unreadable, not sent: event: status 'lost' or kind "
                     "'blackout' is not of docs/events.md")
    assert "\n" not in error
    assert unreadable() == counted_before + 1
    # The endpoint was never called for it, so it is not counted against the subscription.
    assert await rows(pool, "SELECT DISTINCT status, consecutive_failures FROM subscriptions"
                      ) == [("active", 0)]


def test_a_stored_row_reads_as_a_transition_or_one_line_saying_why() -> None:
    good = transition_json(event_id="good")
    assert read(good) == Transition.from_json(good)
    assert read({**good, "type": "alert"}) == (
        "not an event transition: type='alert' action='opened'")
    assert read({"type": "event", "action": "opened", "at": "2021-02-15T01:02:30Z",
                 "event": {"id": "cut"}}) == "event: missing entity"
    assert read("not an object") == "expected an event transition object"


def test_a_corrupt_feed_row_is_left_out_and_logged_once(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    with LiveService(settings_for(database_url, tmp_path)) as service:
        enqueue_sync(database_url, transition("opened", event_id="before"))
        with psycopg.connect(database_url, autocommit=True) as conn:
            # one without its event (the dict code answered 500), one of an unknown kind (the
            # dict code listed it)
            for broken in ({"type": "event", "action": "opened", "at": "2021-02-15T01:03:00Z"},
                           transition_json(event_id="y", kind="volcano")):
                conn.execute("INSERT INTO feed_entries (event_id, action, at, transition)"
                             " VALUES ('y', 'opened', '2021-02-15T01:03:00Z', %s)",
                             (json.dumps(broken),))
        enqueue_sync(database_url, transition("resolved", event_id="before", status="resolved",
                                              at="2021-02-15T02:00:00Z"))

        def ids() -> list[tuple[str, str]]:
            doc = client.get("/v1/feeds/events.json")
            assert doc.status_code == 200
            return [(i["_cutwatch"]["event"]["id"], i["_cutwatch"]["action"])
                    for i in doc.json()["items"]]

        feeds_log = "cutwatch.api.webhooks.feeds"
        with caplog.at_level(logging.WARNING, logger=feeds_log), service.client() as client:
            assert ids() == [("before", "resolved"), ("before", "opened")]
            atom = client.get("/v1/feeds/events.atom")
            assert atom.status_code == 200
            assert atom.content.count(b"<entry>") == 2
            # Read once: a later request neither parses nor logs them again...
            assert ids() == [("before", "resolved"), ("before", "opened")]
            lines = [r.getMessage() for r in caplog.records if r.name == feeds_log]
            assert len(lines) == 1, lines
            assert lines[0].startswith("feed: 2 stored transition(s) unreadable, left out")
            assert lines[0].endswith(  # the newest of them
                "(first: feed_entries id 3: event: status 'suspected' or kind 'volcano' is not "
                "of docs/events.md)")
            # ...but a row repaired in place is read again (its version changed).
            with psycopg.connect(database_url, autocommit=True) as conn:
                repaired = transition_json(event_id="y", at="2021-02-15T01:03:00Z")
                conn.execute("UPDATE feed_entries SET transition = %s"
                             " WHERE transition->'event'->>'kind' = 'volcano'",
                             (json.dumps(repaired),))
            assert ids() == [("before", "resolved"), ("y", "opened"), ("before", "opened")]


def test_json_feed_carries_the_stored_transition_byte_for_byte(
    database_url: str, tmp_path: Path,
) -> None:
    with LiveService(settings_for(database_url, tmp_path)) as service:
        enqueue_sync(database_url, Transition.from_json(STORED))
        with psycopg.connect(database_url) as conn:
            [(stored,)] = conn.execute("SELECT transition FROM feed_entries").fetchall()
        with service.client() as client:
            [item] = client.get("/v1/feeds/events.json").json()["items"]
    assert stored == STORED
    assert json.dumps(item["_cutwatch"], sort_keys=True, ensure_ascii=False) == json.dumps(
        stored, sort_keys=True, ensure_ascii=False)
    assert item["title"] == (
        "International cut updated: تهران (asn_subdivision AS58224/IR-07), confirmed, "
        "single source")
    assert item["tags"] == ["international_cut", "confirmed", "single_source"]
    assert item["date_published"] == "2026-01-08T16:42:10Z"
    assert item["content_text"] == (
        "Status confirmed, confidence 0.9731, 17 of 19 probes affected, since "
        "2026-01-08T16:30:00Z until 2026-01-08T18:05:00Z")
