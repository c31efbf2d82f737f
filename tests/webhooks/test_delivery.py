"""Signed, durable delivery end to end: outbox -> dispatcher -> a real receiver on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import svix.webhooks
from psycopg_pool import AsyncConnectionPool
from standardwebhooks.webhooks import Webhook

from cutwatch.api.webhooks import dispatcher, outbox, schemas, signing
from cutwatch.api.webhooks.config import WebhookConfig
from cutwatch.api.webhooks.deliveries import claim
from cutwatch.detectors.model import Transition

from .factory import add_subscription, transition
from .receiver import Receiver, Respond, ok

pytestmark = pytest.mark.anyio


async def eventually(check: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def settled(pool: AsyncConnectionPool[Any], within: float = 10.0) -> None:
    """Wait until no delivery is pending any more (results recorded, not just received)."""
    deadline = time.monotonic() + within
    while await rows(pool, "SELECT 1 FROM deliveries WHERE status = 'pending'"):
        if time.monotonic() > deadline:
            raise AssertionError("deliveries still pending")
        await asyncio.sleep(0.05)


async def until(pool: AsyncConnectionPool[Any], sql: str, within: float = 10.0) -> None:
    """Wait until ``sql`` returns a row."""
    deadline = time.monotonic() + within
    while not await rows(pool, sql):
        if time.monotonic() > deadline:
            raise AssertionError(f"never true: {sql}")
        await asyncio.sleep(0.05)


async def dispatcher_went_past_due_work(pool: AsyncConnectionPool[Any]) -> None:
    """The positive control of a "nothing more was sent" check, instead of a fixed sleep.

    Once every pending delivery is due, a new delivery to a healthy endpoint goes out: the
    running dispatcher claims the earliest due first, so anything it would wrongly (re)send
    was claimed by then.
    """
    await until(pool, "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM deliveries "
                "WHERE status = 'pending' AND next_attempt_at > now())")
    control = Receiver(secret="").start()
    try:
        async with pool.connection() as conn:
            _, control.secret = await add_subscription(conn, control.url)
            await outbox.enqueue(conn, transition(event_id="control"))
        await eventually(lambda: len(control.accepted_ids()) == 1)
    finally:
        control.stop()


@asynccontextmanager
async def running(pool: AsyncConnectionPool[Any], cfg: WebhookConfig) -> AsyncIterator[None]:
    task = asyncio.create_task(dispatcher.run(pool, cfg))
    try:
        yield
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@asynccontextmanager
async def subscribed(pool: AsyncConnectionPool[Any],
                     respond: Respond = ok) -> AsyncIterator[Receiver]:
    """A receiver on loopback and one subscription to it (the receiver knows its secret)."""
    receiver = Receiver(secret="", respond=respond).start()
    try:
        async with pool.connection() as conn:
            _, receiver.secret = await add_subscription(conn, receiver.url)
        yield receiver
    finally:
        receiver.stop()


async def enqueue(pool: AsyncConnectionPool[Any], *transitions: Transition) -> None:
    async with pool.connection() as conn, conn.transaction():
        for item in transitions:
            await outbox.enqueue(conn, item)


async def rows(pool: AsyncConnectionPool[Any], sql: str, *args: Any) -> list[tuple[Any, ...]]:
    async with pool.connection() as conn:
        cur = await conn.execute(sql, args)
        return await cur.fetchall()


async def test_every_delivery_verifies_with_standardwebhooks_and_svix(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig,
) -> None:
    async with subscribed(pool) as receiver:
        steps = [("opened", "suspected"), ("updated", "confirmed"), ("resolved", "resolved")]
        await enqueue(pool, *(transition(a, status=s, event_id="ev-7") for a, s in steps))
        async with running(pool, fast):
            await eventually(lambda: len(receiver.requests) == 3)
            await settled(pool)
        for got in receiver.requests:
            assert got.error is None
            # The svix receiver library verifies the same bytes and headers unchanged.
            svix_headers = {k: v for k, v in got.headers.items() if k.startswith("webhook-")}
            svix.webhooks.Webhook(receiver.secret).verify(got.body, svix_headers)  # raises if bad
            with pytest.raises(svix.webhooks.WebhookVerificationError):
                svix.webhooks.Webhook(signing.new_secret()).verify(got.body, svix_headers)
            assert got.headers["content-type"] == "application/json"
            schemas.validate(got.body)  # the documented schema of its type
        bodies = sorted((r.verified for r in receiver.requests), key=lambda b: b["type"])
        assert [b["type"] for b in bodies] == ["outage.opened", "outage.resolved",
                                               "outage.updated"]
        assert bodies[0]["data"] == transition("opened", event_id="ev-7").to_json()
        assert bodies[0]["links"] == {"api": "https://cutwatch.example/v1/events/ev-7",
                                      "dashboard": "https://cutwatch.example/events/ev-7"}
        # A tampered body or a foreign secret does not verify.
        first = receiver.requests[0]
        with pytest.raises(Exception, match="signature"):
            Webhook(receiver.secret).verify(first.body + b" ", first.headers)
        assert await rows(pool, "SELECT DISTINCT status, attempts FROM deliveries") == [
            ("succeeded", 1)]


@pytest.mark.slow
async def test_receiver_down_for_a_while_gets_everything_once_it_returns(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig,
) -> None:
    receiver = Receiver(secret="").start()
    receiver.stop()  # the port is known and nothing listens on it: connection refused
    async with pool.connection() as conn:
        _, receiver.secret = await add_subscription(conn, receiver.url)
    await enqueue(pool, *(transition(event_id=f"ev-{i}") for i in range(5)))
    expected = {r[0] for r in await rows(pool, "SELECT id FROM deliveries")}
    async with running(pool, fast):
        deadline = time.monotonic() + 15
        while True:  # every delivery has failed at least twice while the receiver was down
            failing = await rows(pool, "SELECT status, attempts, last_error FROM deliveries")
            if all(a >= 2 for _, a, _ in failing) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert all(s == "pending" and a >= 2 and "ConnectError" in e for s, a, e in failing)
        receiver.start()
        try:
            await eventually(lambda: set(receiver.accepted_ids()) == expected)
            await settled(pool)
        finally:
            receiver.stop()
    assert sorted(receiver.ids()) == sorted(expected)  # and no duplicates at all here
    done = await rows(pool, "SELECT DISTINCT status, last_status_code, last_error FROM deliveries")
    assert done == [("succeeded", 200, None)]


@pytest.mark.slow
async def test_dispatcher_restart_mid_schedule_and_mid_flight_loses_nothing(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig,
) -> None:
    up = False
    async with subscribed(pool, respond=lambda _r: (200, {}) if up else (500, {})) as receiver:
        await enqueue(pool, *(transition(event_id=f"ev-{i}") for i in range(4)))
        expected = {r[0] for r in await rows(pool, "SELECT id FROM deliveries")}
        async with running(pool, fast):  # first life: every attempt fails with 500
            await eventually(lambda: len(receiver.requests) >= 8)
        # The service dies again, this time holding a lease on a delivery it never sent.
        held: list[Any] = []
        deadline = time.monotonic() + 5
        while not held and time.monotonic() < deadline:
            async with pool.connection() as conn:
                held = await claim(conn, WebhookConfig(batch_size=1, lease=1.5, timeout=1.0))
            await asyncio.sleep(0.05)
        assert len(held) == 1
        up = True
        async with running(pool, fast):  # second life
            await eventually(lambda: set(receiver.accepted_ids()) == expected)
        accepted = receiver.accepted_ids()
        assert sorted(accepted) == sorted(expected)  # each exactly once
        attempts = dict(await rows(pool, "SELECT id, attempts FROM deliveries"))
        assert attempts[held[0].id] >= 3  # failures, the lost lease, then success


@pytest.mark.slow
async def test_two_dispatchers_deliver_each_message_once(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig, webhooks_db: str,
) -> None:
    async with subscribed(pool) as receiver:
        async with pool.connection() as conn:
            await add_subscription(conn, receiver.url, secret=receiver.secret)
        await enqueue(pool, *(transition(event_id=f"ev-{i}") for i in range(30)))
        expected = {r[0] for r in await rows(pool, "SELECT id FROM deliveries")}
        assert len(expected) == 60
        cfg = WebhookConfig(**{**fast.__dict__, "batch_size": 5})
        other = AsyncConnectionPool(webhooks_db, min_size=1, max_size=2, open=False,
                                    kwargs={"autocommit": True})
        async with other, running(pool, cfg), running(other, cfg):
            await eventually(lambda: len(receiver.requests) >= 60)
            # Every delivery recorded as sent; leaving `running` waits for any attempt still
            # on the wire, so a duplicate would be in receiver.requests by the assert.
            await settled(pool)
        assert sorted(receiver.ids()) == sorted(expected)
        assert all(r.error is None for r in receiver.requests)


async def test_retry_after_is_honoured(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig,
) -> None:
    def respond(_r: Any) -> tuple[int, dict[str, str]]:
        return (429, {"Retry-After": "1"}) if len(receiver.requests) == 1 else (200, {})

    async with subscribed(pool, respond=respond) as receiver:
        await enqueue(pool, transition())
        async with running(pool, fast):
            await eventually(lambda: len(receiver.requests) == 1)
            first = time.monotonic()
            await eventually(lambda: len(receiver.requests) == 2)
            gap = time.monotonic() - first
            await settled(pool)
        assert gap >= 0.9  # the schedule alone would have retried after 0.2 s
        assert receiver.ids()[0] == receiver.ids()[1]  # same webhook-id on the retry
    assert await rows(pool, "SELECT status, attempts, last_status_code FROM deliveries") == [
        ("succeeded", 2, 200)]


async def test_410_disables_the_endpoint(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig,
) -> None:
    async with subscribed(pool, respond=lambda _r: (410, {})) as receiver:
        await enqueue(pool, transition(event_id="a"), transition(event_id="b"))
        async with running(pool, fast):
            await eventually(lambda: len(receiver.requests) >= 1)
            await until(pool, "SELECT 1 FROM subscriptions WHERE status = 'disabled'")
            status = await rows(pool, "SELECT status, disabled_reason FROM subscriptions")
            assert status == [("disabled", "the endpoint answered 410 Gone")]
            async with pool.connection() as conn:  # the disabled endpoint gets no new work
                assert await outbox.enqueue(conn, transition(event_id="c")) == 0
            await dispatcher_went_past_due_work(pool)
        assert len(receiver.requests) <= 2  # nothing more once disabled


async def test_a_long_run_of_failures_disables_the_endpoint(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig,
) -> None:
    async with subscribed(pool, respond=lambda _r: (500, {})) as receiver:
        await enqueue(pool, transition())
        cfg = WebhookConfig(**{**fast.__dict__, "disable_after_failures": 3})
        async with running(pool, cfg):
            await eventually(lambda: len(receiver.requests) >= 3)
            await until(pool, "SELECT 1 FROM subscriptions WHERE status = 'disabled'")
            await dispatcher_went_past_due_work(pool)
        assert len(receiver.requests) == 3
        [(status, reason)] = await rows(
            pool, "SELECT status, disabled_reason FROM subscriptions WHERE url = %s", receiver.url)
        assert (status, reason) == ("disabled",
                                    "3 consecutive failed attempts (last: HTTP 500)")
        # The delivery itself is kept, pending, for when the subscriber resumes.
        assert await rows(pool, "SELECT status, attempts FROM deliveries WHERE event_id <> "
                          "'control'") == [("pending", 3)]


async def test_redirects_are_not_followed(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig,
) -> None:
    target = Receiver(secret="whsec_" + "A" * 44).start()
    try:
        async with subscribed(pool,
                              respond=lambda _r: (307, {"Location": target.url})) as receiver:
            await enqueue(pool, transition())
            async with running(pool, fast):
                await eventually(lambda: len(receiver.requests) >= 2)
            [(code, error)] = await rows(
                pool, "SELECT last_status_code, last_error FROM deliveries")
            assert code == 307
            assert error == f"redirect to {target.url!r} not followed"
            assert target.requests == []
    finally:
        target.stop()


def test_payload_is_json_with_sorted_keys() -> None:
    from datetime import UTC, datetime

    from cutwatch.api.webhooks import payloads

    body = payloads.build(transition(), "https://x.example/",
                          datetime(2021, 2, 15, 1, 2, 30, tzinfo=UTC))
    # The exact bytes: keys sorted at every level, compact separators, no ASCII escaping.
    assert body == json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False)
    assert list(json.loads(body)) == ["data", "links", "timestamp", "type"]
    assert json.loads(body)["timestamp"] == "2021-02-15T01:02:30Z"
    assert json.loads(body)["links"]["api"] == "https://x.example/v1/events/ev-1"


async def test_a_hanging_receiver_does_not_hold_up_the_others(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig,
) -> None:
    release = threading.Event()

    def hang(_r: Any) -> tuple[int, dict[str, str]]:
        release.wait(20)
        return 200, {}

    slow = Receiver(secret="", respond=hang).start()
    quick = Receiver(secret="").start()
    try:
        async with pool.connection() as conn:
            _, slow.secret = await add_subscription(
                conn, slow.url, filters={"entities": [{"type": "country", "code": "IR"}]})
            _, quick.secret = await add_subscription(
                conn, quick.url, filters={"entities": [{"type": "country", "code": "MM",
                                                        "children": True}]})
        cfg = WebhookConfig(**{**fast.__dict__, "timeout": 10.0, "lease": 30.0})
        async with running(pool, cfg):
            await enqueue(pool, transition(event_id="ir", entity={
                "type": "country", "code": "IR", "name": "Iran"}))
            await eventually(lambda: len(slow.requests) == 1)
            await enqueue(pool, transition(event_id="mm"))
            await eventually(lambda: len(quick.accepted_ids()) == 1, within=5)
            assert not release.is_set()  # the slow one is still being answered
            release.set()
            await settled(pool)
    finally:
        release.set()
        slow.stop()
        quick.stop()


async def test_shutdown_lets_an_attempt_on_the_wire_finish(
    pool: AsyncConnectionPool[Any], fast: WebhookConfig,
) -> None:
    def slowly(_r: Any) -> tuple[int, dict[str, str]]:
        time.sleep(0.5)
        return 200, {}

    async with subscribed(pool, respond=slowly) as receiver:
        await enqueue(pool, transition())
        cfg = WebhookConfig(**{**fast.__dict__, "lease": 30.0})
        async with running(pool, cfg):
            await eventually(lambda: len(receiver.requests) == 1)
        # Stopped mid-request: the answer was still awaited and recorded, no lease left over.
        assert await rows(pool, "SELECT status, attempts FROM deliveries") == [("succeeded", 1)]


async def listeners(pool: AsyncConnectionPool[Any]) -> set[int]:
    """Backends listening on the dispatchers' channel."""
    return {pid for (pid,) in await rows(pool, "SELECT pid FROM pg_stat_activity WHERE query"
                                         " = %s", f"LISTEN {outbox.CHANNEL}")}


async def listening(pool: AsyncConnectionPool[Any], but: set[int],
                    within: float = 10.0) -> set[int]:
    """Wait for a listener other than ``but``; all of them."""
    deadline = time.monotonic() + within
    while not (found := await listeners(pool)) - but:
        if time.monotonic() > deadline:
            raise AssertionError("nobody listens for new deliveries")
        await asyncio.sleep(0.05)
    return found


async def test_a_new_delivery_wakes_the_dispatcher_without_waiting_for_its_poll(
        pool: AsyncConnectionPool[Any], fast: WebhookConfig) -> None:
    """An alert leaves as its transaction commits (LISTEN/NOTIFY), not at the next poll; a
    listening connection killed under the dispatcher costs only polling until it is back."""
    slow_poll = WebhookConfig(**{**fast.__dict__, "poll_interval": 30.0})
    async with subscribed(pool) as receiver, running(pool, slow_poll):
        # the dispatcher's first claim happens at once; wait until it listens
        killed = await listening(pool, but=set())
        for n in range(3):
            started = time.monotonic()
            await enqueue(pool, transition(event_id=f"woken-{n}"))
            await eventually(lambda n=n: len(receiver.accepted_ids()) == n + 1, within=5.0)
            assert time.monotonic() - started < 5.0  # a poll would take 30 s
        # the listener's connection dies: it listens again (RELISTEN_S) and wakes again
        for pid in killed:
            await rows(pool, "SELECT pg_terminate_backend(%s)", pid)
        await listening(pool, but=killed, within=dispatcher.RELISTEN_S + 10)
        await enqueue(pool, transition(event_id="after-reconnect"))
        await eventually(lambda: len(receiver.accepted_ids()) == 4, within=5.0)
