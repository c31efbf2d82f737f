"""The dispatcher: claims due deliveries from the outbox, signs and POSTs them, records the result.

Claiming is ``FOR UPDATE SKIP LOCKED`` plus a lease (``next_attempt_at`` pushed forward), so
several replicas never send the same attempt twice and a dispatcher that dies mid-flight only
delays a delivery by the lease. A worker for ``api.app.WORKERS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx
from psycopg_pool import AsyncConnectionPool

from api.webhooks import config, payloads, signing
from api.webhooks.config import WebhookConfig
from api.webhooks.deliveries import Claimed, Outcome, claim, record
from api.webhooks.ssrf import PinnedTransport, UnsafeTarget

if TYPE_CHECKING:
    from api.state import AppState

log = logging.getLogger(__name__)
USER_AGENT = "Cutwatch-Webhooks/1"


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


async def attempt(client: httpx.AsyncClient, cfg: WebhookConfig, item: Claimed) -> Outcome:
    """One signed POST; never raises for what the network or the receiver does."""
    body = payloads.build(item.event_type, item.payload, cfg.base_url, item.created_at)
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


async def run_once(pool: AsyncConnectionPool[Any], client: httpx.AsyncClient,
                   cfg: WebhookConfig) -> int:
    """Claim one batch of due deliveries, send them concurrently, record; return how many."""
    async with pool.connection() as conn:
        batch = await claim(conn, cfg)
    if not batch:
        return 0
    outcomes = await asyncio.gather(*(attempt(client, cfg, item) for item in batch))
    async with pool.connection() as conn:
        for item, outcome in zip(batch, outcomes, strict=True):
            await record(conn, cfg, item, outcome)
    return len(batch)


async def run(pool: AsyncConnectionPool[Any], cfg: WebhookConfig,
              stopping: asyncio.Event | None = None) -> None:
    """Dispatch until cancelled (or ``stopping`` is set); a failed round is logged and retried."""
    stopping = stopping or asyncio.Event()
    async with make_client(cfg) as client:
        while not stopping.is_set():
            try:
                sent = await run_once(pool, client, cfg)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook dispatch round failed")
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), cfg.poll_interval)


async def worker(state: AppState) -> None:
    """The ``api.app.WORKERS`` entry: the service's settings decide schedule and guards."""
    await run(state.pool, config.from_settings(state.settings), state.stopping)
