"""Webhook benchmark: outbox enqueue cost per transition and dispatch throughput.

    python -m tests.bench.webhooks [--messages 2000] [--database-url URL]

Without a URL it starts a throw-away embedded PostgreSQL. "enqueue" times outbox.enqueue
(one transition, matched against N active subscriptions, in one transaction). "dispatch"
sends every queued message to a receiver on loopback (api/lab/receiver.py, verifying
each signature with standardwebhooks) with one and with two dispatchers at once (one process,
one event loop: the second shows safety, not speed-up), and checks that each webhook-id
arrived exactly once. "feed" times the scan behind one feed request over 5000 stored
transitions (each with evidence the size the detector writes).
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from cutwatch.api.lab.receiver import Receiver
from cutwatch.api.migrate import migrate_url
from cutwatch.api.webhooks import dispatcher, feeds, outbox, signing
from cutwatch.api.webhooks.config import WebhookConfig
from cutwatch.detectors.model import Transition
from tests.bench.scratch import scratch_database


def transition(n: int) -> Transition:
    return Transition.from_json({
        "type": "event", "action": "opened", "at": "2021-02-15T01:02:30Z",
        "event": {"id": f"ev-{n}", "status": "confirmed", "kind": "blackout",
                  "entity": {"type": "subdivision", "code": "MM-07", "name": "Bago"},
                  "start": "2021-02-15T01:00:00Z", "end": None,
                  "detected_at": "2021-02-15T01:02:30Z", "confidence": 0.97,
                  "probes_affected": 12, "probes_total": 14, "asns_affected": [9988],
                  "evidence": {}}})


async def reset(url: str, subscriptions: int, target: str, secret: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("TRUNCATE subscribers, subscriptions, deliveries, feed_entries")
        await conn.execute("INSERT INTO subscribers (id, name, key_hash) VALUES ('b', 'b', 'h')")
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO subscriptions (id, subscriber_id, url, filters, secret)"
                " VALUES (%s, 'b', %s, %s, %s)",
                [(f"s{i}", target,
                  '{"entities": [{"type": "country", "code": "MM", "children": true}]}', secret)
                 for i in range(subscriptions)])


async def bench_enqueue(url: str, subscriptions: int, transitions: int) -> float:
    await reset(url, subscriptions, "https://hooks.example/x", signing.new_secret())
    async with await psycopg.AsyncConnection.connect(url) as conn:
        started = time.perf_counter()
        for n in range(transitions):
            await outbox.enqueue(conn, transition(n))
            await conn.commit()
        return (time.perf_counter() - started) / transitions * 1000


async def bench_dispatch(url: str, messages: int, dispatchers: int) -> tuple[float, int, int]:
    secret = signing.new_secret()
    receiver = Receiver(secret).start()
    target = receiver.url
    await reset(url, 1, target, secret)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        for n in range(messages):
            await outbox.enqueue(conn, transition(n))
        await conn.commit()
    cfg = WebhookConfig(allow_private=True, poll_interval=0.02, batch_size=50)
    pools = [AsyncConnectionPool(url, min_size=1, max_size=2, open=False,
                                 kwargs={"autocommit": True}) for _ in range(dispatchers)]
    for pool in pools:
        await pool.open()
    started = time.perf_counter()
    tasks = [asyncio.create_task(dispatcher.run(pool, cfg)) for pool in pools]
    # The receiver is a thread, so polling its count is the simple way to wait.
    while len(receiver.requests) < messages:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for pool in pools:
        await pool.close()
    receiver.stop()
    duplicates = sum(count - 1 for count in receiver.counts().values())
    return messages / elapsed, duplicates, receiver.bad


def stored(n: int) -> dict[str, Any]:
    """A transition as the outbox stores it, with evidence like the detector's."""
    data = transition(n).to_json()
    data["event"]["evidence"] = {
        "probes_active": 14, "path": "level", "sources": {"operators": 3, "networks": 2},
        "backlogs": {"probes": 5, "agree": 4, "verdict": "blackout"},
        "probes_still_silent": 9}
    return data


async def bench_feed(url: str, rows: int, rounds: int = 5) -> dict[str, float]:
    """ms per feed scan over ``rows`` stored transitions (best of ``rounds``): the stored JSON
    fetched only (the dict code's cost before filtering), fetched and read into Transitions
    on every request, and through the feeds' StoredRows, cold (first request) and warm."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("TRUNCATE feed_entries")
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO feed_entries (event_id, action, at, transition)"
                " VALUES (%s, 'opened', %s, %s)",
                [(f"ev-{n}", "2021-02-15T01:02:30Z", Jsonb(stored(n))) for n in range(rows)])

        async def fetch() -> list[Any]:
            cur = await conn.execute("SELECT id, transition FROM feed_entries"
                                     " ORDER BY at DESC, id DESC LIMIT %s", (rows,))
            return await cur.fetchall()

        async def fetch_and_read() -> None:
            for _, row in await fetch():
                feeds.read(row)

        async def best(step: Callable[[], Awaitable[Any]]) -> float:
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                await step()
                times.append(time.perf_counter() - started)
            return min(times) * 1000

        figures = {"fetched, not read (dict code)": await best(fetch),
                   "fetched and read every request": await best(fetch_and_read)}
        # first request: a fresh window each round (a process that just started)
        figures["StoredRows, first request"] = await best(
            lambda: feeds.StoredRows().scan(conn, rows))
        window = feeds.StoredRows()
        assert len(await window.scan(conn, rows)) == rows
        figures["StoredRows, later requests"] = await best(lambda: window.scan(conn, rows))
        return figures


def run(url: str, messages: int) -> None:
    asyncio.run(migrate_url(url))
    print(f"{'enqueue: active subscriptions':<34}{'ms per transition':>18}")
    for subscriptions in (1, 100, 1000):
        ms = asyncio.run(bench_enqueue(url, subscriptions, 50))
        print(f"{subscriptions:<34}{ms:>18.2f}")
    print(f"\n{'dispatch: dispatchers':<34}{'messages/s':>18}{'duplicates':>12}{'bad sig':>9}")
    for dispatchers in (1, 2):
        rate, duplicates, bad = asyncio.run(bench_dispatch(url, messages, dispatchers))
        print(f"{dispatchers:<34}{rate:>18.0f}{duplicates:>12}{bad:>9}")
    print(f"\n{'feed scan of 5000 stored transitions':<40}{'ms':>12}")
    for label, ms in asyncio.run(bench_feed(url, 5000)).items():
        print(f"{label:<40}{ms:>12.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with scratch_database(args.database_url) as url:
        run(url, args.messages)


if __name__ == "__main__":
    main()
