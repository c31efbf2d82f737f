"""Limits before work: body size, a bearer token before a body is read, and request rates.

``LimitsMiddleware`` is pure ASGI and sits outside FastAPI, so it acts before any JSON is
parsed: a declared ``Content-Length`` over the route's cap is answered 413 without reading,
a streamed body is cut off at the cap, and a body-carrying request without a valid token
is answered 401 unread (every route that takes a body needs a credential). Requests without
a credential are rate-limited per client address (held in memory under a salted hash, never
stored); authenticated ones per credential, once it is verified (``RateLimiter.check``,
called by the auth dependencies). Limits live in each replica's memory (``limits``).
A body-carrying request's token is verified here (``auth.refuse_credential``) before its
body is read; what the credential may do is still the route's dependency's business.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

import psycopg
from fastapi import HTTPException
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from psycopg_pool import PoolTimeout

from cutwatch.api.auth import refuse_credential

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
# Load balancers poll these; they must answer even when a client floods the service.
_UNLIMITED_PATHS: Final = frozenset({"/healthz", "/readyz"})


class RateLimiter:
    """A moving one-minute window per key, in this process's memory."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._item = RateLimitItemPerMinute(max(per_minute, 1))
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        # Client addresses are keyed by a salted hash: not even memory holds them in clear.
        self._salt = secrets.token_bytes(16)

    def retry_after(self, key: str) -> int | None:
        """Count one request for ``key``; None when allowed, else seconds to wait."""
        if self.per_minute <= 0:
            return None
        if self._limiter.hit(self._item, key):
            return None
        reset, _ = self._limiter.get_window_stats(self._item, key)
        return max(1, math.ceil(reset - time.time()))

    def check(self, kind: str, ident: str) -> None:
        """429 with ``Retry-After`` when the credential ``kind:ident`` is over its rate."""
        wait = self.retry_after(f"{kind}:{ident}")
        if wait is not None:
            raise HTTPException(429, f"rate limit of {self.per_minute} requests per minute "
                                "exceeded", headers={"Retry-After": str(wait)})

    def address_key(self, address: str) -> str:
        return "addr:" + hashlib.sha256(self._salt + address.encode()).hexdigest()[:32]


class LimitsMiddleware:
    """Body cap per route, a valid credential before a body, per-address rate for the
    anonymous."""

    def __init__(self, app: ASGIApp, *, default_cap: int, caps: dict[str, int],
                 limiter: RateLimiter) -> None:
        self.app = app
        self.default_cap = default_cap
        self.caps = caps  # exact path -> its own cap (the batch upload's is larger)
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        path: str = scope.get("path", "")
        authorization = headers.get("authorization", "")
        if path not in _UNLIMITED_PATHS and not authorization:
            client = scope.get("client")
            wait = self.limiter.retry_after(self.limiter.address_key(client[0] if client else ""))
            if wait is not None:
                await _error(send, 429, f"rate limit of {self.limiter.per_minute} requests per "
                             "minute exceeded", {"retry-after": str(wait)})
                return
        has_body = scope.get("method") in _BODY_METHODS or "content-length" in headers \
            or "transfer-encoding" in headers
        cap = self.caps.get(path, self.default_cap)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _error(send, 400, "invalid Content-Length")
                return
            if int(declared) > cap:
                await _error(send, 413, f"body larger than {cap} bytes")
                return
        if _carries_nul(scope):
            await _error(send, 422, "NUL characters are not allowed in the URL")
            return
        if scope.get("method") in _BODY_METHODS:
            refusal = await self._credential_refusal(scope, authorization)
            if refusal is not None:
                status, detail = refusal
                extra = {"www-authenticate": "Bearer"} if status == 401 else {"retry-after": "1"}
                await _error(send, status, detail, extra)
                return
        if not has_body:
            await self.app(scope, receive, send)
            return
        await _Capped(self.app, cap)(scope, receive, send)


    async def _credential_refusal(self, scope: Scope, authorization: str
                                  ) -> tuple[int, str] | None:
        """Every route that takes a body needs a credential: checked before the body is read."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401, "missing bearer token"
        state = getattr(scope["app"].state, "cutwatch", None) if "app" in scope else None
        if state is None:
            return None  # not started (tests building the app alone): the routes decide
        try:
            detail = await refuse_credential(state, token.strip(), scope.setdefault("state", {}))
        except (PoolTimeout, psycopg.OperationalError):
            return 503, "database unavailable, retry later"
        return None if detail is None else (401, detail)


class _Capped:
    """Passes the body through until it exceeds the cap, then answers 413 itself and tells
    the app the client went away (anything the app still sends is dropped)."""

    def __init__(self, app: ASGIApp, cap: int) -> None:
        self.app = app
        self.cap = cap
        self.seen = 0
        self.answered = False
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def capped_receive() -> Message:
            if self.answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.seen += len(message.get("body", b""))
                if self.seen > self.cap and not self.started:
                    self.answered = True
                    await _error(send, 413, f"body larger than {self.cap} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if self.answered:
                return
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            # The app tripped over the disconnect we simulated; the client has its 413.
            if not self.answered:
                raise


async def _error(send: Send, status: int, detail: str,
                 headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _carries_nul(scope: Scope) -> bool:
    """PostgreSQL text cannot hold NUL: a URL carrying one (``%00`` in the query, or in the
    path, which ASGI hands over decoded) is refused here, once, instead of reaching SQL
    through whichever route passes that parameter on (it was a 500 on the events filter)."""
    query: bytes = scope.get("query_string", b"")
    return b"%00" in query or b"\x00" in query or "\x00" in scope.get("path", "")
