"""Subscriptions API: a subscriber manages its own webhook endpoints, filters and secrets.

Authenticated by subscriber API key; a subscriber only ever sees its own subscriptions (others'
answer 404). URLs pass the SSRF guard on every create and change.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, HTTPException, Query, Response
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cutwatch.api.state import PoolDep, StateDep
from cutwatch.api.text import PlainText, storable
from cutwatch.api.webhooks import config, deliveries, outbox, signing, ssrf
from cutwatch.api.webhooks.filters import Filters
from cutwatch.api.webhooks.subscribers import SubscriberDep

router = APIRouter(prefix="/v1/subscriptions", tags=["webhooks"])


def _storable_filters(value: Filters) -> Filters:
    # Entity codes and kinds end up in jsonb, which holds no NUL character.
    storable(json.dumps(value.model_dump(mode="json"), ensure_ascii=False))
    return value


StorableFilters = Annotated[Filters, AfterValidator(_storable_filters)]
# Enough for any newsroom's desks; a bound on what one leaked key can make us send.
MAX_SUBSCRIPTIONS = 100


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: PlainText = Field(min_length=1, max_length=2000)
    description: PlainText = Field(default="", max_length=500)
    filters: StorableFilters = Field(default_factory=Filters)


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: PlainText | None = Field(default=None, min_length=1, max_length=2000)
    description: PlainText | None = Field(default=None, max_length=500)
    filters: StorableFilters | None = None


class SubscriptionOut(BaseModel):
    id: str
    url: str
    description: str
    filters: Filters
    status: Literal["active", "paused", "disabled"]
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failures: int
    previous_secret_valid_until: datetime | None
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="whsec_... signing secret, shown only now")


class SecretRotated(BaseModel):
    secret: str
    previous_secret_valid_until: datetime


class DeliveryOut(BaseModel):
    id: str = Field(description="the webhook-id header, the same on every attempt")
    event_type: str
    event_id: str | None
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


_COLUMNS = ("id, url, description, filters, status, disabled_reason, disabled_at,"
            " consecutive_failures, created_at, updated_at,"
            " CASE WHEN previous_secret_until > now() THEN previous_secret_until END"
            " AS previous_secret_valid_until")


def _out(row: dict[str, Any]) -> SubscriptionOut:
    return SubscriptionOut.model_validate(row)


async def _vet(state: Any, url: str) -> str:
    cfg = config.from_settings(state.settings)
    try:
        return await ssrf.check_url(url, allow_private=cfg.allow_private)
    except ssrf.UnsafeTarget as exc:
        raise HTTPException(422, str(exc)) from None


async def _one(conn: psycopg.AsyncConnection[Any], subscriber_id: str,
               subscription_id: str) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM subscriptions"  # noqa: S608 (constant column list)
            " WHERE id = %s AND subscriber_id = %s", (subscription_id, subscriber_id))
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(404, f"no subscription {subscription_id}")
    return row


async def _update(pool: Any, who: str, subscription_id: str, assignments: str,
                  params: tuple[Any, ...] = ()) -> SubscriptionOut:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"UPDATE subscriptions SET {assignments}, updated_at = now()"  # noqa: S608
            f" WHERE id = %s AND subscriber_id = %s RETURNING {_COLUMNS}",
            (*params, subscription_id, who))
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(404, f"no subscription {subscription_id}")
    return _out(row)


@router.post("", status_code=201, response_model=SubscriptionCreated)
async def create(body: SubscriptionCreate, who: SubscriberDep, state: StateDep,
                 pool: PoolDep) -> SubscriptionCreated:
    url = await _vet(state, body.url)
    secret = signing.new_secret()
    subscription_id = f"sub_{secrets.token_hex(8)}"
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        # The subscriber's row lock (held to commit) makes count-then-insert one step, so
        # concurrent creates on one key cannot pass the limit together.
        await cur.execute("SELECT 1 FROM subscribers WHERE id = %s FOR UPDATE", (who.id,))
        await cur.execute("SELECT count(*) AS n FROM subscriptions WHERE subscriber_id = %s",
                          (who.id,))
        counted = await cur.fetchone()
        if counted is not None and counted["n"] >= MAX_SUBSCRIPTIONS:
            raise HTTPException(409, f"subscription limit reached ({MAX_SUBSCRIPTIONS})")
        await cur.execute(
            "INSERT INTO subscriptions (id, subscriber_id, url, description, filters, secret)"  # noqa: S608
            f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            (subscription_id, who.id, url, body.description,
             Jsonb(body.filters.model_dump(mode="json")), secret))
        row = await cur.fetchone()
    assert row is not None
    return SubscriptionCreated(**_out(row).model_dump(), secret=secret)


@router.get("", response_model=list[SubscriptionOut])
async def list_all(who: SubscriberDep, pool: PoolDep) -> list[SubscriptionOut]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM subscriptions WHERE subscriber_id = %s"  # noqa: S608
            " ORDER BY created_at, id", (who.id,))
        return [_out(row) for row in await cur.fetchall()]


@router.get("/{subscription_id}", response_model=SubscriptionOut)
async def show(subscription_id: str, who: SubscriberDep, pool: PoolDep) -> SubscriptionOut:
    async with pool.connection() as conn:
        return _out(await _one(conn, who.id, subscription_id))


@router.patch("/{subscription_id}", response_model=SubscriptionOut)
async def update(subscription_id: str, body: SubscriptionUpdate, who: SubscriberDep,
                 state: StateDep, pool: PoolDep) -> SubscriptionOut:
    parts: list[str] = []
    params: list[Any] = []
    if body.url is not None:
        parts.append("url = %s")
        params.append(await _vet(state, body.url))
    if body.description is not None:
        parts.append("description = %s")
        params.append(body.description)
    if body.filters is not None:
        parts.append("filters = %s")
        params.append(Jsonb(body.filters.model_dump(mode="json")))
    if not parts:
        raise HTTPException(422, "nothing to update: give url, description or filters")
    return await _update(pool, who.id, subscription_id, ", ".join(parts), tuple(params))


@router.post("/{subscription_id}/pause", response_model=SubscriptionOut)
async def pause(subscription_id: str, who: SubscriberDep, pool: PoolDep) -> SubscriptionOut:
    """Stop new deliveries; queued ones wait until resumed."""
    return await _update(pool, who.id, subscription_id, "status = 'paused'")


@router.post("/{subscription_id}/resume", response_model=SubscriptionOut)
async def resume(subscription_id: str, who: SubscriberDep, pool: PoolDep) -> SubscriptionOut:
    """Re-enable a paused or disabled endpoint; held deliveries are tried again at once."""
    out = await _update(pool, who.id, subscription_id,
                        "status = 'active', disabled_reason = NULL, disabled_at = NULL,"
                        " consecutive_failures = 0")
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE deliveries SET next_attempt_at = now()"
            " WHERE subscription_id = %s AND status = 'pending'", (subscription_id,))
        await outbox.notify_due(conn)
    return out


@router.delete("/{subscription_id}", status_code=204)
async def delete(subscription_id: str, who: SubscriberDep, pool: PoolDep) -> Response:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "DELETE FROM subscriptions WHERE id = %s AND subscriber_id = %s",
            (subscription_id, who.id))
        if cur.rowcount == 0:
            raise HTTPException(404, f"no subscription {subscription_id}")
    return Response(status_code=204)


@router.post("/{subscription_id}/rotate-secret", response_model=SecretRotated)
async def rotate_secret(subscription_id: str, who: SubscriberDep, state: StateDep,
                        pool: PoolDep) -> SecretRotated:
    """New secret now; the old one keeps signing alongside it for the rotation window."""
    window = config.from_settings(state.settings).rotation_window
    until = datetime.now(UTC) + timedelta(seconds=window)
    secret = signing.new_secret()
    await _update(pool, who.id, subscription_id,
                  "previous_secret = secret, previous_secret_until = %s, secret = %s",
                  (until, secret))
    return SecretRotated(secret=secret, previous_secret_valid_until=until)


@router.post("/{subscription_id}/test", status_code=202)
async def send_test(subscription_id: str, who: SubscriberDep, pool: PoolDep) -> dict[str, str]:
    """Queue a signed ``webhook.test`` delivery (sent even while paused)."""
    async with pool.connection() as conn:
        await _one(conn, who.id, subscription_id)
        delivery_id = await outbox.enqueue_test(conn, subscription_id)
    return {"delivery_id": delivery_id}


@router.get("/{subscription_id}/deliveries", response_model=list[DeliveryOut])
async def delivery_log(
    subscription_id: str, who: SubscriberDep, pool: PoolDep,
    status: Literal["pending", "succeeded", "failed"] | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[DeliveryOut]:
    async with pool.connection() as conn:
        await _one(conn, who.id, subscription_id)
        rows = await deliveries.log_of(conn, subscription_id, limit=limit, status=status)
    return [DeliveryOut.model_validate(row) for row in rows]


@router.post("/{subscription_id}/deliveries/{delivery_id}/redeliver", status_code=202,
             response_model=DeliveryOut)
async def redeliver(subscription_id: str, delivery_id: str, who: SubscriberDep,
                    pool: PoolDep) -> DeliveryOut:
    """Send a delivery again (same webhook-id, fresh retry schedule)."""
    async with pool.connection() as conn:
        await _one(conn, who.id, subscription_id)
        row = await deliveries.redeliver(conn, subscription_id, delivery_id)
    if row is None:
        raise HTTPException(404, f"no delivery {delivery_id}")
    return DeliveryOut.model_validate(row)
