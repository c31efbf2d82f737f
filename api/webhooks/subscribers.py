"""Subscribers: the NGOs and newsrooms the operator issues webhook API keys to.

A key reads ``<subscriber_id>.<secret>`` like every Cutwatch token; only its SHA-256 is
stored. Issued by ``cutwatch admin subscriber add`` or ``POST /v1/subscribers`` (admin token).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from cutwatch.api.auth import (
    AdminDep,
    hash_secret,
    new_secret,
    rate_limit,
    token_holder,
    unauthorized,
)
from cutwatch.api.state import PoolDep
from cutwatch.api.text import PlainText

router = APIRouter(tags=["webhooks"])


class SubscriberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PlainText = Field(min_length=1, max_length=200, description="who the key is for")


class SubscriberOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None


class IssuedKey(SubscriberOut):
    api_key: str = Field(description="shown once; send as `Authorization: Bearer <api_key>`")


async def issue_key(conn: psycopg.AsyncConnection[Any], name: str) -> IssuedKey:
    subscriber_id = f"sbr_{secrets.token_hex(8)}"
    secret = new_secret()
    cur = await conn.execute(
        "INSERT INTO subscribers (id, name, key_hash) VALUES (%s, %s, %s) RETURNING created_at",
        (subscriber_id, name, hash_secret(secret)))
    row = await cur.fetchone()
    assert row is not None
    return IssuedKey(id=subscriber_id, name=name, created_at=row[0],
                     api_key=f"{subscriber_id}.{secret}")


async def all_subscribers(conn: psycopg.AsyncConnection[Any]) -> list[SubscriberOut]:
    """Every subscriber, oldest first, revoked ones included (never their keys)."""
    cur = await conn.execute(
        "SELECT id, name, created_at, revoked_at FROM subscribers ORDER BY created_at, id")
    return [SubscriberOut(id=r[0], name=r[1], created_at=r[2], revoked_at=r[3])
            for r in await cur.fetchall()]


async def revoke_key(conn: psycopg.AsyncConnection[Any], subscriber_id: str) -> bool:
    """Revoke the key (its first revocation time is kept); False for an unknown subscriber."""
    cur = await conn.execute(
        "UPDATE subscribers SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s",
        (subscriber_id,))
    return cur.rowcount > 0


@dataclass(frozen=True)
class Subscriber:
    id: str
    name: str


async def current_subscriber(request: Request) -> Subscriber:
    """The subscriber behind ``Authorization: Bearer <subscriber key>``, or 401."""
    found = await token_holder(
        request, "SELECT key_hash, name FROM subscribers WHERE id = %s AND revoked_at IS NULL")
    if found is None:
        raise unauthorized("invalid subscriber API key")
    subscriber_id, row = found
    rate_limit(request, "subscriber", subscriber_id)
    return Subscriber(id=subscriber_id, name=row[1])


SubscriberDep = Annotated[Subscriber, Depends(current_subscriber)]


@router.post("/v1/subscribers", status_code=201, response_model=IssuedKey)
async def create_subscriber(body: SubscriberCreate, _: AdminDep, pool: PoolDep) -> IssuedKey:
    """Issue a subscriber API key (operator only). The key is shown once."""
    async with pool.connection() as conn:
        return await issue_key(conn, body.name)


@router.get("/v1/subscribers", response_model=list[SubscriberOut])
async def list_subscribers(_: AdminDep, pool: PoolDep) -> list[SubscriberOut]:
    async with pool.connection() as conn:
        return await all_subscribers(conn)


@router.delete("/v1/subscribers/{subscriber_id}", status_code=204)
async def revoke_subscriber(subscriber_id: str, _: AdminDep, pool: PoolDep) -> Response:
    """Revoke a key: its subscriptions stop receiving (deliveries already queued are held)."""
    async with pool.connection() as conn:
        if not await revoke_key(conn, subscriber_id):
            raise HTTPException(404, f"no subscriber {subscriber_id}")
    return Response(status_code=204)
