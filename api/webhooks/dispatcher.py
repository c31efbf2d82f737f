"""The dispatcher: claims due deliveries from the outbox, signs and POSTs them, records the result.

Claiming is ``FOR UPDATE SKIP LOCKED`` plus a lease (``next_attempt_at`` pushed forward), so
several replicas never send the same attempt twice and a dispatcher that dies mid-flight only
delays a delivery by the lease. A new delivery wakes every dispatcher at once (``Wake``:
LISTEN/NOTIFY), so an alert does not wait for the next poll; polling stays for retries coming
due and for when the listening connection is lost. A worker for ``cutwatch.api.app.WORKERS``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool

from cutwatch.api import metrics
from cutwatch.api.webhooks import config, payloads, signing
from cutwatch.api.webhooks.config import WebhookConfig
from cutwatch.api.webhooks.deliveries import Claimed, Outcome, claim, record
from cutwatch.api.webhooks.outbox import CHANNEL
from cutwatch.api.webhooks.ssrf import PinnedTransport, UnsafeTarget
from cutwatch.detectors.model import Transition, TransitionError

if TYPE_CHECKING:
    from cutwatch.api.state import AppState

log = logging.getLogger(__name__)
USER_AGENT = "Cutwatch-Webhooks/1"
SHUTDOWN_GRACE_S = 5.0
RELISTEN_S = 5.0


class Wake:
    """A dispatcher's ear on ``outbox.CHANNEL``: ``due`` is set when a transaction that made
    deliveries due has committed. It listens on a connection of its own (a LISTEN does not
    belong on a pooled connection that others borrow) and, when that is lost, says so in one
    line and listens again after ``RELISTEN_S``; the dispatcher polls meanwhile."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.due = asyncio.Event()
        self.listening = asyncio.Event()

    async def listen(self) -> None:
        """Until cancelled."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self.conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self.due.set()  # anything committed before the LISTEN: look once
                    async for _ in conn.notifies():
                        self.due.set()
            except psycopg.Error as exc:
                log.warning("webhook dispatcher not woken by new deliveries (polling) for "
                            "%g s: %s", RELISTEN_S, str(exc).strip().splitlines()[0][:200])
            self.listening.clear()
            await asyncio.sleep(RELISTEN_S)


def retry_after(response: httpx.Response, limit: float) -> float | None:
    """Seconds the receiver asked us to wait (delta-seconds or HTTP date), clamped."""
    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), limit)


def body_of(cfg: WebhookConfig, item: Claimed) -> str:
    """The signed body, from the stored transition read back into the typed model once;
    ``TransitionError`` when the stored payload is not a transition (any more)."""
    transition = Transition.from_json(item.payload)
    return payloads.build(transition, cfg.base_url, item.created_at,
                          test=item.event_type == payloads.TEST_TYPE)


async def attempt(client: httpx.AsyncClient, cfg: WebhookConfig, item: Claimed) -> Outcome:
    """One signed POST; never raises for what the network, the receiver or the stored
    payload does."""
    try:
        body = body_of(cfg, item)
    except TransitionError as exc:
        log.warning("delivery %s not sent: its stored payload is unreadable: %s", item.id, exc)
        return Outcome(status_code=None, unreadable=True,
                       error=f"stored payload unreadable, not sent: {exc}"[:300])
    now = datetime.now(UTC)
    headers = signing.headers(item.id, now, body, item.secrets(now))
    headers.update({"content-type": "application/json", "user-agent": USER_AGENT})
    try:
        response = await client.post(item.url, content=body.encode(), headers=headers)
    except UnsafeTarget as exc:
        return Outcome(status_code=None, error=str(exc))
    except httpx.TimeoutException:
        return Outcome(status_code=None, error=f"timed out after {cfg.timeout:g} s")
    except httpx.HTTPError as exc:
        return Outcome(status_code=None, error=f"{type(exc).__name__}: {exc}"[:300])
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(status_code=code, error=None)
    if 300 <= code < 400:
        return Outcome(status_code=code, error=f"redirect to {response.headers.get('location')!r}"
                       " not followed")
    return Outcome(status_code=code, error=f"HTTP {code}", gone=code == 410,
                   retry_after=retry_after(response, cfg.max_retry_after))


def make_client(cfg: WebhookConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=PinnedTransport(allow_private=cfg.allow_private, verify=cfg.verify),
        timeout=cfg.timeout, follow_redirects=False, trust_env=False)


def delivery_outcome(outcome: Outcome) -> str:
    """The metrics label of one attempt: succeeded, gone (410), http_error, unreachable, or
    unreadable (the stored payload; nothing sent)."""
    if outcome.ok:
        return "succeeded"
    if outcome.unreadable:
        return "unreadable"
    if outcome.gone:
        return "gone"
    return "http_error" if outcome.status_code is not None else "unreachable"


async def deliver(pool: AsyncConnectionPool[Any], client: httpx.AsyncClient,
                  cfg: WebhookConfig, item: Claimed) -> None:
    """Attempt one claimed delivery and record the outcome (a lost record = lease retry)."""
    outcome = await attempt(client, cfg, item)
    metrics.DELIVERIES.labels(delivery_outcome(outcome)).inc()
    try:
        async with pool.connection() as conn:
            await record(conn, cfg, item, outcome)
    except Exception:
        log.exception("could not record delivery %s; it is retried when its lease ends", item.id)


async def run(pool: AsyncConnectionPool[Any], cfg: WebhookConfig,
              stopping: asyncio.Event | None = None) -> None:
    """Dispatch until cancelled (or ``stopping`` is set).

    Up to ``batch_size`` deliveries are in flight at once, each on its own task, so one slow
    receiver holds one slot for at most the timeout instead of stalling everyone.
    """
    stopping = stopping or asyncio.Event()
    in_flight: set[asyncio.Task[None]] = set()
    # a pool that computes its conninfo (none of ours does) leaves the dispatcher polling
    wake = Wake(pool.conninfo if isinstance(pool.conninfo, str) else "")
    listener = asyncio.create_task(wake.listen() if wake.conninfo else stopping.wait())
    async with make_client(cfg) as client:
        try:
            while not stopping.is_set():
                room = cfg.batch_size - len(in_flight)
                batch: list[Claimed] = []
                if room > 0:
                    try:
                        async with pool.connection() as conn:
                            batch = await claim(conn, cfg, room)
                    except Exception:
                        log.exception("claiming webhook deliveries failed")
                for item in batch:
                    task = asyncio.create_task(deliver(pool, client, cfg, item))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if batch and len(in_flight) < cfg.batch_size:
                    continue  # more may be due right now
                # Idle or full: wake for a free slot, a new delivery, a poll, or shutdown.
                stop = asyncio.create_task(stopping.wait())
                due = asyncio.create_task(wake.due.wait())
                await asyncio.wait({stop, due, *in_flight} if len(in_flight) >= cfg.batch_size
                                   else {stop, due}, timeout=cfg.poll_interval,
                                   return_when=asyncio.FIRST_COMPLETED)
                # cleared before the next claim, which sees every commit notified so far
                wake.due.clear()
                for waiter in (stop, due):
                    waiter.cancel()
                await asyncio.gather(stop, due, return_exceptions=True)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            # Shutting down: let attempts already on the wire finish and be recorded (briefly),
            # so a deploy does not turn them into lease-expiry duplicates.
            if in_flight:
                await asyncio.wait(set(in_flight), timeout=SHUTDOWN_GRACE_S)
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)


async def worker(state: AppState) -> None:
    """The ``cutwatch.api.app.WORKERS`` entry: the service's settings decide schedule and guards."""
    await run(state.pool, config.from_settings(state.settings), state.stopping)
