"""Ingest benchmark: results/s through the real HTTP path and through the store alone.

    python -m tests.bench.ingest [--total 20000] [--database-url URL]

Without a URL it starts a throw-away embedded PostgreSQL. Batches of 100 and 1000 results:
"store" calls api.store.store_batch on pre-validated batches (COPY + INSERT ... SELECT +
liveness, one transaction each); "http" POSTs gzip bodies to the service on uvicorn over a
loopback socket (auth, size limits, gunzip, JSON + schema validation, GeoIP, store).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from cutwatch.api.auth import hash_secret
from cutwatch.api.geo import Network
from cutwatch.api.ingest import parse_batch
from cutwatch.api.migrate import migrate_url
from cutwatch.api.settings import Settings
from cutwatch.api.store import store_batch
from cutwatch.wire import Batch
from tests.bench.scratch import scratch_database
from tests.live_service import LiveService

SIZES = (100, 1000)


def batch_dict(probe_id: str, size: int, seq: int) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(hours=1)
    return {
        "schema_version": 1, "batch_id": str(uuid.uuid4()), "probe_id": probe_id,
        "sent_at": datetime.now(UTC).isoformat(), "clock": {"synced": True, "offset_ms": 2.0},
        "heartbeat": {"seq": seq, "spool_depth": 0, "dropped_total": 0},
        "results": [
            {"id": str(uuid.uuid4()), "kind": "dns", "target": f"target-{i % 40}",
             "scope": "domestic", "family": "ipv4",
             "measured_at": (start + timedelta(milliseconds=i * 37)).isoformat(),
             "duration_ms": 18.25, "ok": i % 9 != 0,
             "failure": None if i % 9 else "generic_timeout_error",
             "details": {"rcode": 0, "answers": ["192.0.2.1"], "resolver": "lan"}}
            for i in range(size)
        ],
    }


def add_probe(url: str, probe_id: str, secret: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO probes (id, token_hash, country, access, enrolled_by)"
            " VALUES (%s, %s, 'MM', 'fixed', 'bench')", (probe_id, hash_secret(secret)))


async def bench_store(url: str, size: int, total: int, probe_id: str = "") -> float:
    probe_id = probe_id or f"p-store-{size}"
    add_probe(url, probe_id, "unused")
    batches = [Batch.model_validate(batch_dict(probe_id, size, n)) for n in range(total // size)]
    network = Network(asn=64500, country="MM")
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await store_batch(conn, Batch.model_validate(batch_dict(probe_id, 10, 0)), network)
        started = time.perf_counter()
        for batch in batches:
            outcome = await store_batch(conn, batch, network)
            assert outcome.accepted == size
        elapsed = time.perf_counter() - started
    return len(batches) * size / elapsed


def bench_parse(size: int, total: int) -> float:
    bodies = [json.dumps(batch_dict("p-parse", size, n)).encode() for n in range(total // size)]
    started = time.perf_counter()
    for body in bodies:
        parse_batch(body)
    return len(bodies) * size / (time.perf_counter() - started)


@contextmanager
def running_service(url: str) -> Iterator[str]:
    # One probe sends thousands of batches a minute here: no rate limit (api/limits.py).
    settings = Settings(database_url=url, rate_limit_per_minute=0,
                        max_body_bytes=8 * 1024 * 1024,
                        max_decompressed_bytes=32 * 1024 * 1024)
    with LiveService(settings) as service:
        yield service.url


def bench_http(base: str, url: str, size: int, total: int) -> float:
    probe_id, secret = f"p-http-{size}", "bench-secret"
    add_probe(url, probe_id, secret)
    bodies = [gzip.compress(json.dumps(batch_dict(probe_id, size, n)).encode())
              for n in range(total // size)]
    headers = {"Authorization": f"Bearer {probe_id}.{secret}",
               "Content-Type": "application/json", "Content-Encoding": "gzip"}
    # As a probe's uploader would: without Nagle, headers and body do not wait for an ACK.
    transport = httpx.HTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    with httpx.Client(base_url=base, headers=headers, timeout=60, transport=transport) as client:
        client.post("/v1/batches", content=gzip.compress(
            json.dumps(batch_dict(probe_id, 10, 0)).encode()))
        started = time.perf_counter()
        for body in bodies:
            response = client.post("/v1/batches", content=body)
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == size
        elapsed = time.perf_counter() - started
    return len(bodies) * size / elapsed


def run(url: str, total: int) -> None:
    asyncio.run(migrate_url(url))
    print(f"{'path':<28}{'batch':>7}{'results/s':>12}")
    with running_service(url) as base:
        for size in SIZES:
            http = bench_http(base, url, size, total)
            store = asyncio.run(bench_store(url, size, total))
            parse = bench_parse(size, total)
            print(f"{'http (gzip, end to end)':<28}{size:>7}{http:>12,.0f}")
            print(f"{'store_batch alone':<28}{size:>7}{store:>12,.0f}")
            print(f"{'parse + validate alone':<28}{size:>7}{parse:>12,.0f}")
            print(f"{'  http / store':<28}{size:>7}{http / store:>12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", type=int, default=20_000, help="results per measurement")
    parser.add_argument("--database-url", help="an empty database (default: embedded)")
    args = parser.parse_args()
    with scratch_database(args.database_url) as url:
        run(url, args.total)


if __name__ == "__main__":
    main()
