"""Prometheus metrics: the objects every stage updates, a middleware and ``GET /metrics``.

The counters live on prometheus_client's process-wide registry, created once at import, so
the request handlers, the dispatcher and (on a thread, or in `cutwatch detect`) the detector
of one process share them. The
gauges that describe the database rather than this process (batches waiting for the detector,
probes reporting per country) are read from PostgreSQL when scraped, so every replica answers
the same. Labels never carry a probe id or an address: only reasons, outcomes and countries.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from cutwatch.api.state import StateDep

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

INGEST_PATH = "/v1/batches"
# Status codes of the upload route, named as operators read them; others are "other".
REJECT_REASONS = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid",
    429: "rate_limited", 500: "server_error", 503: "unavailable",
}

INGEST_BATCHES = Counter("cutwatch_ingest_batches", "Batches stored, new or repeated",
                         ["outcome"])
INGEST_RESULTS = Counter("cutwatch_ingest_results", "Results stored or already stored",
                         ["outcome"])
INGEST_REJECTS = Counter("cutwatch_ingest_rejects", "Uploads refused, by reason", ["reason"])
BATCH_LATENCY = Histogram(
    "cutwatch_ingest_batch_seconds", "Time to answer one upload (POST /v1/batches)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
DETECTOR_TICK = Histogram(
    "cutwatch_detector_tick_seconds", "Time of one leader step (read, evaluate, store)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
DETECTOR_FED = Counter("cutwatch_detector_batches_fed", "Batches fed to the detector engine")
DETECTOR_QUARANTINED = Counter("cutwatch_detector_batches_quarantined",
                               "Batches the detector could not read, set aside")
DETECTOR_TRANSITIONS = Counter("cutwatch_detector_transitions_stored",
                               "Event transitions stored (with their webhook deliveries)")
DETECTOR_LEADER = Gauge("cutwatch_detector_leader",
                        "1 while this process's detector named by the label leads", ["name"])
DELIVERIES = Counter("cutwatch_webhook_deliveries", "Webhook delivery attempts, by outcome",
                     ["outcome"])
QUEUE_WAITING = Gauge("cutwatch_detector_queue_batches",
                      "Batches stored and not yet fed to the detector (database-wide)")
QUEUE_OLDEST = Gauge("cutwatch_detector_queue_oldest_seconds",
                     "Age of the oldest batch waiting for the detector (database-wide)")
LEADER_INFO = Gauge("cutwatch_detector_leader_info",
                     "1 for the detector leader named by the label (database-wide)", ["name"])
LEADER_TICK = Gauge("cutwatch_detector_last_tick_seconds",
                    "Duration of the leader's latest step (database-wide)")
LEADER_AGE = Gauge("cutwatch_detector_last_step_age_seconds",
                   "Time since the leader's latest step ended (database-wide)")
PROBES_REPORTING = Gauge("cutwatch_probes_reporting",
                         "Probes with an accepted batch within silent_after_seconds",
                         ["country"])

router = APIRouter(tags=["operations"])
_countries: set[str] = set()
_leaders: set[str] = set()


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text exposition"}})
async def metrics(state: StateDep) -> Response:
    """Prometheus metrics of this replica, plus the database-wide gauges."""
    async with state.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(received_at)), 0)"
            " FROM detector_queue")
        row = await cur.fetchone()
        assert row is not None
        QUEUE_WAITING.set(row[0])
        QUEUE_OLDEST.set(float(row[1]))
        cur = await conn.execute(
            "SELECT country, count(*) FROM probes WHERE disabled_at IS NULL"
            " AND last_seen_at > now() - make_interval(secs => %s) GROUP BY country",
            (state.settings.silent_after_seconds,))
        counts = dict(await cur.fetchall())
        cur = await conn.execute(
            "SELECT value, EXTRACT(EPOCH FROM now() - updated_at) FROM detector_state"
            " WHERE key = 'leader'")
        leader = await cur.fetchone()
    if leader is not None:
        name = str(leader[0].get("leader", ""))
        for known in _leaders - {name}:
            LEADER_INFO.labels(known).set(0)
        _leaders.add(name)
        LEADER_INFO.labels(name).set(1)
        LEADER_TICK.set(float(leader[0].get("tick_s", 0.0)))
        LEADER_AGE.set(float(leader[1]))
    _countries.update(counts)
    for country in _countries:  # a country gone quiet reads 0, not its last count
        PROBES_REPORTING.labels(country).set(counts.get(country, 0))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def reject_reason(status: int) -> str:
    return REJECT_REASONS.get(status, "other")


class IngestMetrics:
    """Pure ASGI middleware: upload latency and refusals by reason, whatever route code
    answered (a size limit, authentication, validation), without touching the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != INGEST_PATH \
                or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            BATCH_LATENCY.observe(time.perf_counter() - started)
            if status >= 400:
                INGEST_REJECTS.labels(reject_reason(status)).inc()
