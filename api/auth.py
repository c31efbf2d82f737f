"""Who is calling: the operator (admin token), an enrollment token holder, or a probe.

Secrets are 32 random bytes; only their SHA-256 is stored and comparisons are constant-time.
A token reads ``<id>.<secret>``: the id finds the row, the secret proves possession.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.state import AppState, get_state

# Hash of nothing in particular, compared against when the id is unknown, so an unknown id
# and a wrong secret take the same time.
_DUMMY_HASH = hashlib.sha256(b"cutwatch-no-such-probe").hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash or _DUMMY_HASH) and (
        stored_hash is not None
    )


def bearer(request: Request) -> str:
    """The bearer token of the request, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def split_token(token: str) -> tuple[str, str]:
    ident, sep, secret = token.partition(".")
    if not sep or not ident or not secret:
        raise HTTPException(401, "malformed token", headers={"WWW-Authenticate": "Bearer"})
    return ident, secret


def is_admin(state: AppState, token: str) -> bool:
    admin = state.settings.admin_token
    if admin is None:
        return False
    return hmac.compare_digest(token.encode(), admin.get_secret_value().encode())


@dataclass(frozen=True)
class AuthenticatedProbe:
    id: str
    country: str


async def current_probe(request: Request) -> AuthenticatedProbe:
    """The probe behind ``Authorization: Bearer <probe_id>.<secret>``, or 401."""
    state = get_state(request)
    probe_id, secret = split_token(bearer(request))
    async with state.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT token_hash, country FROM probes WHERE id = %s AND disabled_at IS NULL",
            (probe_id,),
        )
        row = await cur.fetchone()
    if not secret_matches(secret, row[0] if row else None) or row is None:
        raise HTTPException(401, "invalid probe token", headers={"WWW-Authenticate": "Bearer"})
    return AuthenticatedProbe(id=probe_id, country=row[1])


async def require_admin(request: Request) -> None:
    """Operator-only endpoints: ``Authorization: Bearer <admin token>``, else 401."""
    if not is_admin(get_state(request), bearer(request)):
        raise HTTPException(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})


ProbeDep = Annotated[AuthenticatedProbe, Depends(current_probe)]
AdminDep = Annotated[None, Depends(require_admin)]
