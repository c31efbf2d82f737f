"""Probe registration and enrollment tokens: how a volunteer's probe gets its id and secret.

The operator registers probes with the admin token, or issues enrollment tokens (single or
multi-use, expiring) that volunteers' probes register with themselves. The declared location
is validated against ISO 3166 and kept coarse: a city name, never coordinates.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

import pycountry
from fastapi import APIRouter, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from cutwatch.api.auth import (
    AdminDep,
    bearer,
    hash_secret,
    is_admin,
    new_secret,
    rate_limit,
    secret_matches,
    unauthorized,
)
from cutwatch.api.db import Conn
from cutwatch.api.state import get_state
from cutwatch.api.text import PlainText
from cutwatch.wire import Access

router = APIRouter(tags=["registration"])

# "16.8, 96.1", "N16 E96", "16°48'": anything that looks like a coordinate, not a city name.
_COORDINATES = re.compile(
    r"\d+\s*[.,°'\u2032]\s*\d|[-+]\d|\d+\s*[NSEW]\b|\b[NSEW]\s*\d", re.IGNORECASE
)
_ENROLLMENT_PREFIX = "enr_"
# enrollment_tokens.max_uses is a PostgreSQL integer.
MAX_USES = 2**31 - 1


class ProbeRegistration(BaseModel):
    """What a volunteer declares about a probe. Unknown fields (latitude, ...) are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PlainText | None = Field(default=None, min_length=1, max_length=64)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    subdivision: str | None = Field(default=None, max_length=8, description="ISO 3166-2")
    city: PlainText | None = Field(default=None, min_length=1, max_length=100)
    access: Access

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        code = value.upper()
        if pycountry.countries.get(alpha_2=code) is None:
            raise ValueError(f"unknown ISO 3166-1 country code {value!r}")
        return code

    @field_validator("subdivision")
    @classmethod
    def _subdivision(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.upper()
        if _find_subdivision(code) is None:
            raise ValueError(f"unknown ISO 3166-2 subdivision code {value!r}")
        return code

    @field_validator("city")
    @classmethod
    def _city(cls, value: str | None) -> str | None:
        if value is not None and _COORDINATES.search(value):
            raise ValueError("city must be a city name, not coordinates")
        return value

    @model_validator(mode="after")
    def _subdivision_in_country(self) -> ProbeRegistration:
        if self.subdivision is not None:
            sub = _find_subdivision(self.subdivision)
            if sub is None or sub.country_code != self.country:
                raise ValueError(f"subdivision {self.subdivision} is not in {self.country}")
        return self


def _find_subdivision(code: str) -> Any:
    # pycountry's subdivision database has no type information.
    return pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]


class RegisteredProbe(BaseModel):
    probe_id: str
    token: str = Field(description="<probe_id>.<secret>: shown once, stored only as a hash.")
    approved: bool = Field(description="false: its results are stored but count only once "
                           "the operator approves the probe")
    name: str | None
    country: str
    subdivision: str | None
    city: str | None
    access: Access
    registered_at: AwareDatetime


class EnrollmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: PlainText | None = Field(default=None, max_length=100)
    operator: PlainText | None = Field(
        default=None, min_length=1, max_length=100,
        description="Who the token is handed to (a volunteer group); the probes it registers "
        "are grouped under this name. Default: the token's id.")
    max_uses: int | None = Field(default=1, ge=1, le=MAX_USES,
                                 description="null: unlimited until expiry")
    expires_in_hours: float = Field(default=72, gt=0, le=24 * 366)


class EnrollmentToken(BaseModel):
    token: str = Field(description="Shown once; stored only as a hash.")
    id: str
    label: str | None
    operator: str
    max_uses: int | None
    expires_at: AwareDatetime


def new_probe_id() -> str:
    return "p-" + secrets.token_hex(6)


async def create_enrollment_token(
    conn: Conn, *, label: str | None, max_uses: int | None, expires_in: timedelta,
    operator: str | None = None,
) -> EnrollmentToken:
    """Store a new enrollment token (hashed) and return it with its secret, once."""
    ident = _ENROLLMENT_PREFIX + secrets.token_hex(6)
    secret = new_secret()
    operator = operator or ident
    cur = await conn.execute(
        "INSERT INTO enrollment_tokens (id, token_hash, label, max_uses, expires_at, operator)"
        " VALUES (%s, %s, %s, %s, now() + %s, %s) RETURNING expires_at",
        (ident, hash_secret(secret), label, max_uses, expires_in, operator),
    )
    row = await cur.fetchone()
    assert row is not None
    return EnrollmentToken(token=f"{ident}.{secret}", id=ident, label=label, operator=operator,
                           max_uses=max_uses, expires_at=row[0])


async def _consume_enrollment(conn: Conn, token: str) -> tuple[str, str] | None:
    """Use one enrollment of ``token`` in the caller's transaction; its id and operator, or
    None."""
    ident, sep, secret = token.partition(".")
    if not sep or not ident.startswith(_ENROLLMENT_PREFIX):
        return None
    # The row lock taken by UPDATE serialises concurrent registrations on one token.
    cur = await conn.execute(
        "UPDATE enrollment_tokens SET uses = uses + 1"
        " WHERE id = %s AND revoked_at IS NULL AND expires_at > now()"
        " AND (max_uses IS NULL OR uses < max_uses) RETURNING token_hash, operator",
        (ident,),
    )
    row = await cur.fetchone()
    if not secret_matches(secret, row[0] if row else None) or row is None:
        return None
    return ident, row[1] or ident


@router.post("/v1/probes", status_code=201, response_model=RegisteredProbe)
async def register_probe(body: ProbeRegistration, request: Request) -> dict[str, Any]:
    """Register a probe with the admin token or an enrollment token."""
    state = get_state(request)
    token = bearer(request)
    secret = new_secret()
    async with state.pool.connection() as conn, conn.transaction():
        enrolled = (("admin", "admin") if is_admin(state, token)
                    else await _consume_enrollment(conn, token))
        if enrolled is None:
            # Raising inside the transaction rolls it back: a wrong secret uses up nothing.
            raise unauthorized("invalid, expired or used-up token")
        enrolled_by, operator = enrolled
        rate_limit(request, "enrollment", enrolled_by)
        # The operator's own probes count at once; volunteers' wait for approval if required.
        approved = enrolled_by == "admin" or not state.settings.require_probe_approval
        probe_id = new_probe_id()
        cur = await conn.execute(
            "INSERT INTO probes (id, token_hash, name, country, subdivision, city, access,"
            " enrolled_by, operator, approved_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END)"
            " RETURNING registered_at",
            (probe_id, hash_secret(secret), body.name, body.country, body.subdivision,
             body.city, body.access, enrolled_by, operator, approved),
        )
        row = await cur.fetchone()
    assert row is not None
    return {
        **body.model_dump(),
        "probe_id": probe_id,
        "token": f"{probe_id}.{secret}",
        "registered_at": row[0],
        "approved": approved,
    }


@router.post("/v1/enrollment-tokens", status_code=201, response_model=EnrollmentToken)
async def issue_enrollment_token(
    body: EnrollmentRequest, request: Request, _: AdminDep
) -> EnrollmentToken:
    """Operator only: a token volunteers' probes can register with."""
    async with get_state(request).pool.connection() as conn:
        return await create_enrollment_token(
            conn, label=body.label, max_uses=body.max_uses,
            expires_in=timedelta(hours=body.expires_in_hours), operator=body.operator,
        )


@router.delete("/v1/enrollment-tokens/{token_id}", status_code=204)
async def revoke_enrollment_token(token_id: str, request: Request, _: AdminDep) -> None:
    """Operator only: the token registers nothing more (probes it registered keep working)."""
    async with get_state(request).pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE enrollment_tokens SET revoked_at = COALESCE(revoked_at, now())"
            " WHERE id = %s", (token_id,))
        if cur.rowcount == 0:
            raise HTTPException(404, "no such enrollment token")


@router.delete("/v1/probes/{probe_id}", status_code=204)
async def disable_probe(probe_id: str, request: Request, _: AdminDep) -> None:
    """Operator only: the probe's token stops working; its results stay stored."""
    async with get_state(request).pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE probes SET disabled_at = COALESCE(disabled_at, now()) WHERE id = %s",
            (probe_id,))
        if cur.rowcount == 0:
            raise HTTPException(404, "no such probe")


class ApprovedProbe(BaseModel):
    probe_id: str
    operator: str
    approved_at: AwareDatetime


async def approve(conn: Conn, probe_id: str) -> ApprovedProbe | None:
    """Approve a probe (its first approval time is kept); None for an unknown probe."""
    cur = await conn.execute(
        "UPDATE probes SET approved_at = COALESCE(approved_at, now()) WHERE id = %s"
        " RETURNING operator, approved_at", (probe_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    return ApprovedProbe(probe_id=probe_id, operator=row[0], approved_at=row[1])


@router.post("/v1/probes/{probe_id}/approve", response_model=ApprovedProbe)
async def approve_probe(probe_id: str, request: Request, _: AdminDep) -> ApprovedProbe:
    """Operator only: the probe's results count from now on (its earlier batches do not)."""
    async with get_state(request).pool.connection() as conn:
        found = await approve(conn, probe_id)
    if found is None:
        raise HTTPException(404, "no such probe")
    return found

