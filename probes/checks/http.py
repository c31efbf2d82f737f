"""HTTP(S) check: one GET with httpx in one IP family, judged on what came back.

Records the status, the redirect chain (at most 10), the body's size and sha256 (read up to
``max_body``), phase timings from httpx's trace hook (connect, TLS, time to first byte) and,
for a known object (``expect_size``), the download throughput that throttling lowers. TLS
failures are classified from the certificate verification code; a body matching a block-page
fingerprint is ``http_block_page``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import ssl
import time
from typing import Any

import httpx

from cutwatch.failures import Failure
from cutwatch.probes.checks.base import Context, Outcome
from cutwatch.probes.checks.errors import classify_os_error
from cutwatch.probes.targets import HttpTarget
from cutwatch.probes.tls import tls_context
from cutwatch.vocab import Family

MAX_REDIRECTS = 10
BODY_DEADLINE_FACTOR = 6  # whole exchange at most 6 x the target's timeout (30 s by default)
LOCAL = {"ipv4": "0.0.0.0", "ipv6": "::"}  # binds the family only; the port stays ephemeral
# OpenSSL X509_V_ERR_* codes: whose fault a failed verification is.
HOSTNAME_CODES = {62, 64}
AUTHORITY_CODES = {2, 18, 19, 20, 21, 27}


async def check(target: HttpTarget, family: Family, context: Context) -> Outcome:
    # httpx's synchronous client in a worker thread: its async client would pull in anyio
    # and its asyncio backend (~2.5 MB) for the probe's handful of HTTP requests an hour.
    return await asyncio.to_thread(fetch, target, family, context)


def fetch(target: HttpTarget, family: Family, context: Context) -> Outcome:
    marks: dict[str, float] = {}

    def trace(event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.started":
            marks.clear()  # a redirect opens a new connection: time the last hop
        marks.setdefault(event, time.monotonic())

    transport = httpx.HTTPTransport(verify=tls_context(target.ca_file),
                                    local_address=LOCAL[family], retries=0)
    details: dict[str, Any] = {"url": target.url}
    started = time.monotonic()
    with httpx.Client(
        transport=transport, follow_redirects=True, max_redirects=MAX_REDIRECTS,
        timeout=target.timeout, headers={"User-Agent": context.user_agent},
    ) as client:
        try:
            with client.stream("GET", target.url, extensions={"trace": trace}) as response:
                details |= {"status": response.status_code, "redirects": len(response.history)}
                # httpx's timeouts are per read: a drip-fed body needs a deadline of its own.
                deadline = started + target.timeout * BODY_DEADLINE_FACTOR
                body, truncated = _read(response, target.max_body, deadline)
        except httpx.TooManyRedirects:
            return Outcome.failed("http_too_many_redirects", **details, phase="redirect",
                                  redirects=MAX_REDIRECTS)
        except (httpx.HTTPError, OSError) as exc:
            failure, phase = classify(exc, marks)
            return Outcome.failed(failure, **details, phase=phase, error=_message(exc),
                                  timings=_timings(marks, started))
    done = time.monotonic()
    details |= {"body_size": len(body), "body_sha256": hashlib.sha256(body).hexdigest(),
                "truncated": truncated, "timings": _timings(marks, started)}
    first_byte = marks.get("http11.receive_response_body.started")
    if target.expect_size is not None and first_byte is not None:
        details["size_ok"] = len(body) == target.expect_size
        details["throughput_bps"] = round(len(body) * 8 / max(done - first_byte, 1e-6))
    page = _block_page(body, target, context)
    if page is not None:
        return Outcome.failed("http_block_page", **details, block_page=page)
    status = details["status"]
    if (status not in target.expect_status) if target.expect_status else status >= 400:
        return Outcome.failed("http_request_failed", **details)
    return Outcome.success(**details)


def _read(response: httpx.Response, cap: int, deadline: float) -> tuple[bytes, bool]:
    """The body up to ``cap`` bytes or ``deadline``; True when cut short (throughput is
    still measured on what came, which is what a throttled link gives)."""
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size > cap or time.monotonic() > deadline:
            return b"".join(parts)[:cap], True
    return b"".join(parts), False


def classify(exc: BaseException, marks: dict[str, float]) -> tuple[Failure, str]:
    """The failure and the phase it happened in, from httpx's exception and its causes."""
    phase = _phase(marks)
    if isinstance(exc, httpx.TimeoutException):
        return "generic_timeout_error", phase
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            code = cause.verify_code
            if code in HOSTNAME_CODES:
                return "ssl_invalid_hostname", "tls_handshake"
            if code in AUTHORITY_CODES:
                return "ssl_unknown_authority", "tls_handshake"
            return "ssl_invalid_certificate", "tls_handshake"
        if isinstance(cause, ssl.SSLError):
            return "ssl_failed_handshake", "tls_handshake"
        if isinstance(cause, OSError) and (cause.errno is not None or
                                           isinstance(cause, TimeoutError)):
            return classify_os_error(cause), phase
    if isinstance(exc, httpx.RemoteProtocolError):
        return "eof_error", phase
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return ("ssl_failed_handshake" if phase == "tls_handshake" else "connection_reset"), phase
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return "probe_error", phase
    return "unknown_failure", phase


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _phase(marks: dict[str, float]) -> str:
    if "http11.receive_response_headers.complete" in marks:
        return "http_body"
    if "connection.start_tls.started" in marks and "connection.start_tls.complete" not in marks:
        return "tls_handshake"
    if "connection.connect_tcp.complete" in marks:
        return "http_request"
    return "connect"


def _timings(marks: dict[str, float], started: float) -> dict[str, float]:
    spans = {"connect_ms": ("connection.connect_tcp.started", "connection.connect_tcp.complete"),
             "tls_ms": ("connection.start_tls.started", "connection.start_tls.complete"),
             "ttfb_ms": ("http11.send_request_headers.started",
                         "http11.receive_response_headers.complete")}
    out = {name: round((marks[end] - marks[begin]) * 1000, 2)
           for name, (begin, end) in spans.items() if begin in marks and end in marks}
    if marks:
        out["total_ms"] = round((max(marks.values()) - started) * 1000, 2)
    return out


def _block_page(body: bytes, target: HttpTarget, context: Context) -> str | None:
    named = [(f"target:{i}", p) for i, p in enumerate(target.block_patterns)]
    named += [(page.name, page.pattern) for page in context.block_pages]
    if not named:  # no fingerprints: no need for a text copy of up to max_body bytes
        return None
    text = body.decode("utf-8", errors="replace")
    for name, pattern in named:
        if _compiled(pattern).search(text):
            return name
    return None


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _message(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:300]
