"""Delivery rows through their life: claimed by a dispatcher, attempted, recorded, retried.

All SQL on ``deliveries`` after the outbox wrote them lives here, including what the
subscriber's delivery log shows and the redeliver action.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from cutwatch.api.webhooks.config import WebhookConfig
from cutwatch.api.webhooks.outbox import notify_due
from cutwatch.api.webhooks.payloads import TEST_TYPE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    """A delivery this dispatcher holds the lease on, with what it needs to send it."""

    id: str
    subscription_id: str
    event_type: str
    payload: Any  # the stored JSON, read into a Transition by the dispatcher
    created_at: datetime
    attempts: int
    url: str
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None

    def secrets(self, now: datetime) -> list[str]:
        """The secrets to sign with: the current one, plus the previous during rotation."""
        out = [self.secret]
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            out.append(self.previous_secret)
        return out


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    gone: bool = False
    retry_after: float | None = None
    unreadable: bool = False
    """The stored payload is not a transition any more (nothing was sent): retrying cannot
    help and the receiver is not to blame."""

    @property
    def ok(self) -> bool:
        return self.error is None


_CLAIM = """
UPDATE deliveries d
SET attempts = d.attempts + 1,
    last_attempt_at = now(),
    next_attempt_at = now() + make_interval(secs => %(lease)s)
FROM subscriptions s
WHERE s.id = d.subscription_id
  AND d.id IN (
      SELECT d2.id FROM deliveries d2
      JOIN subscriptions s2 ON s2.id = d2.subscription_id
      JOIN subscribers b2 ON b2.id = s2.subscriber_id
      WHERE d2.status = 'pending' AND d2.next_attempt_at <= now() AND b2.revoked_at IS NULL
        AND (s2.status = 'active' OR d2.event_type = %(test)s)
      ORDER BY d2.next_attempt_at
      LIMIT %(limit)s
      FOR UPDATE OF d2 SKIP LOCKED)
RETURNING d.id, d.subscription_id, d.event_type, d.payload, d.created_at, d.attempts,
          s.url, s.secret, s.previous_secret, s.previous_secret_until
"""


async def claim(conn: psycopg.AsyncConnection[Any], cfg: WebhookConfig,
                limit: int | None = None) -> list[Claimed]:
    """Take the lease on up to ``limit`` due deliveries; committed before sending."""
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_CLAIM, {"lease": cfg.lease, "limit": limit or cfg.batch_size,
                                   "test": TEST_TYPE})
        return [Claimed(**row) for row in await cur.fetchall()]


async def record(conn: psycopg.AsyncConnection[Any], cfg: WebhookConfig, item: Claimed,
                 outcome: Outcome) -> None:
    """Store one attempt's result and decide what happens next (done, retry, give up, disable).

    ``attempts = %s`` guards against a late writer whose lease already expired.
    """
    async with conn.transaction():
        if outcome.unreadable:
            # Failed at once, kept for the log (and a redeliver after a repair); the
            # subscription's failure count is about its endpoint, which was never called.
            await conn.execute(
                "UPDATE deliveries SET status = 'failed', last_status_code = NULL,"
                " last_error = %s WHERE id = %s AND attempts = %s AND status = 'pending'",
                (outcome.error, item.id, item.attempts))
            return
        if outcome.ok:
            await conn.execute(
                "UPDATE deliveries SET status = 'succeeded', delivered_at = now(),"
                " last_status_code = %s, last_error = NULL"
                " WHERE id = %s AND attempts = %s AND status = 'pending'",
                (outcome.status_code, item.id, item.attempts))
            await conn.execute(
                "UPDATE subscriptions SET consecutive_failures = 0 WHERE id = %s",
                (item.subscription_id,))
            return
        schedule = cfg.retry_schedule
        exhausted = item.attempts >= len(schedule)
        delay = 0.0 if exhausted else schedule[item.attempts]
        if outcome.retry_after is not None:
            delay = outcome.retry_after
        await conn.execute(
            "UPDATE deliveries SET status = %s, last_status_code = %s, last_error = %s,"
            " next_attempt_at = now() + make_interval(secs => %s)"
            " WHERE id = %s AND attempts = %s AND status = 'pending'",
            ("failed" if exhausted else "pending", outcome.status_code, outcome.error, delay,
             item.id, item.attempts))
        if item.event_type == TEST_TYPE and not outcome.gone:
            return  # a failed test delivery says nothing about the real stream
        cur = await conn.execute(
            "UPDATE subscriptions SET consecutive_failures = consecutive_failures + 1"
            " WHERE id = %s RETURNING consecutive_failures, status",
            (item.subscription_id,))
        row = await cur.fetchone()
        if row is None or row[1] != "active":
            return
        reason = None
        if outcome.gone:
            reason = "the endpoint answered 410 Gone"
        elif row[0] >= cfg.disable_after_failures:
            reason = f"{row[0]} consecutive failed attempts (last: {outcome.error})"
        if reason:
            log.warning("webhook subscription %s disabled: %s", item.subscription_id, reason)
            await conn.execute(
                "UPDATE subscriptions SET status = 'disabled', disabled_reason = %s,"
                " disabled_at = now(), updated_at = now() WHERE id = %s AND status = 'active'",
                (reason, item.subscription_id))


# What the subscriber's delivery log shows of a row (subscriptions.DeliveryOut).
_LOG_COLUMNS = """id, event_type, event_id, status, attempts, next_attempt_at, last_attempt_at,
       last_status_code, last_error, created_at, delivered_at"""
_LOG = f"""
SELECT {_LOG_COLUMNS}
FROM deliveries WHERE subscription_id = %s AND (%s::text IS NULL OR status = %s)
ORDER BY created_at DESC, id LIMIT %s
"""  # noqa: S608 (constant column list)
_REDELIVER = f"""
UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now()
WHERE id = %s AND subscription_id = %s
RETURNING {_LOG_COLUMNS}
"""  # noqa: S608 (constant column list)


async def log_of(conn: psycopg.AsyncConnection[Any], subscription_id: str, *,
                 limit: int, status: str | None) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_LOG, (subscription_id, status, status, limit))
        return await cur.fetchall()


async def redeliver(conn: psycopg.AsyncConnection[Any], subscription_id: str,
                    delivery_id: str) -> dict[str, Any] | None:
    """Queue a delivery again now, same webhook-id, fresh schedule; None if not found."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_REDELIVER, (delivery_id, subscription_id))
        row = await cur.fetchone()
    if row is not None:
        await notify_due(conn)
    return row
