"""Who is calling: the operator (admin token), an enrollment token holder, or a probe.

Secrets are 32 random bytes; only their SHA-256 is stored and comparisons are constant-time.
A token reads ``<id>.<secret>``: the id finds the row, the secret proves possession.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request

from cutwatch.api.state import AppState, get_state

if TYPE_CHECKING:
    from cutwatch.api.limits import RateLimiter

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


def unauthorized(detail: str) -> HTTPException:
    """A 401 with the ``WWW-Authenticate: Bearer`` challenge every refusal here carries."""
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def bearer(request: Request) -> str:
    """The bearer token of the request, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("missing bearer token")
    return token.strip()


def split_token(token: str) -> tuple[str, str]:
    ident, sep, secret = token.partition(".")
    if not sep or not ident or not secret:
        raise unauthorized("malformed token")
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


async def token_holder(request: Request, query: str) -> tuple[str, tuple[Any, ...]] | None:
    """Check ``Authorization: Bearer <id>.<secret>`` against the row ``query`` finds for the id.

    ``query`` takes the id as its one parameter and selects the stored hash first. Returns the
    id and its row, or None when the id is unknown or the secret wrong (alike in time).
    """
    ident, secret = split_token(bearer(request))
    async with get_state(request).pool.connection() as conn:
        cur = await conn.execute(query, (ident,))
        row: tuple[Any, ...] | None = await cur.fetchone()
    if not secret_matches(secret, row[0] if row else None) or row is None:
        return None
    return ident, row


# Where api.limits leaves the probe whose token it verified before the body was read, so the
# route does not query the same row again (one query and one pooled connection per upload).
VERIFIED_PROBE = "cutwatch.verified_probe"


async def current_probe(request: Request) -> AuthenticatedProbe:
    """The probe behind ``Authorization: Bearer <probe_id>.<secret>``, or 401."""
    verified = request.scope.get("state", {}).get(VERIFIED_PROBE)
    if isinstance(verified, AuthenticatedProbe):
        rate_limit(request, "probe", verified.id)
        return verified
    found = await token_holder(
        request, "SELECT token_hash, country FROM probes WHERE id = %s AND disabled_at IS NULL")
    if found is None:
        raise unauthorized("invalid probe token")
    probe_id, row = found
    rate_limit(request, "probe", probe_id)
    return AuthenticatedProbe(id=probe_id, country=row[1])


async def require_admin(request: Request) -> None:
    """Operator-only endpoints: ``Authorization: Bearer <admin token>``, else 401."""
    if not is_admin(get_state(request), bearer(request)):
        raise unauthorized("admin token required")
    rate_limit(request, "admin", "admin")


# Which table proves a token, by the prefix of its id; anything else is a probe's token.
_HOLDERS = (
    ("enr_", "SELECT token_hash FROM enrollment_tokens WHERE id = %s AND revoked_at IS NULL"
             " AND expires_at > now() AND (max_uses IS NULL OR uses < max_uses)",
     "invalid, expired or used-up token"),
    ("sbr_", "SELECT key_hash FROM subscribers WHERE id = %s AND revoked_at IS NULL",
     "invalid subscriber API key"),
)
_PROBE_HOLDER = ("SELECT token_hash, country FROM probes WHERE id = %s AND disabled_at IS NULL",
                 "invalid probe token")


async def refuse_credential(state: AppState, token: str,
                            verified: dict[str, Any] | None = None) -> str | None:
    """Why ``token`` proves no credential at all (the 401 detail), or None when it does.

    For api.limits, before a body is read; the route's own dependency then decides whether
    this credential may do what is asked. A probe's token, once proved, is kept in
    ``verified`` (the request's scope state) under VERIFIED_PROBE for ``current_probe``.
    """
    if is_admin(state, token):
        return None
    ident, sep, secret = token.partition(".")
    if not sep:
        # Only the admin token has no id part: the route compares it (no database needed)
        # and answers in its own words ("admin token required", "malformed token").
        return None
    if not ident or not secret:
        return "malformed token"
    holder = next(((q, d) for prefix, q, d in _HOLDERS if ident.startswith(prefix)),
                  _PROBE_HOLDER)
    query, detail = holder
    async with state.pool.connection() as conn:
        # Autocommit for this one read: no BEGIN and COMMIT around it, one round trip
        # instead of three on every upload. The pool's next user gets transactions again.
        await conn.set_autocommit(True)
        try:
            cur = await conn.execute(query, (ident,))
            row = await cur.fetchone()
        finally:
            if not conn.broken:
                await conn.set_autocommit(False)
    if not secret_matches(secret, row[0] if row else None) or row is None:
        return detail
    if verified is not None and holder is _PROBE_HOLDER:
        verified[VERIFIED_PROBE] = AuthenticatedProbe(id=ident, country=row[1])
    return None


async def is_operator(request: Request) -> bool:
    """Whether the request carries the admin token (public reads show the operator more)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not is_admin(get_state(request), token.strip()):
        return False
    rate_limit(request, "admin", "admin")
    return True


def rate_limit(request: Request, kind: str, ident: str) -> None:
    """429 when the verified credential ``kind:ident`` is over its rate (api.limits)."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(kind, ident)


ProbeDep = Annotated[AuthenticatedProbe, Depends(current_probe)]
AdminDep = Annotated[None, Depends(require_admin)]
