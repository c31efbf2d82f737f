"""The one webhook receiver: a subscriber's endpoint that verifies every delivery.

``Receiver`` listens on one address (loopback by default; the drill creates it inside a
network namespace), verifies each request's Standard Webhooks signature with the
``standardwebhooks`` library, as a subscriber would, keeps every request with its arrival
time, and answers what ``respond`` says (by default 204 when the signature verifies, 400
when not). The drill, the demo's walkthrough (``python -m cutwatch.api.lab.receiver``), the
webhook tests and the webhook benchmark all use it. It can be stopped and started again on
the same port ("down for a while"). Not a production receiver.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    """One request as it arrived."""

    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    at: float = field(default_factory=time.monotonic)
    verified: Any = None
    """The message (parsed JSON) when the signature verified, else None."""
    error: str | None = None
    """Why verification failed."""
    status: int = 0
    """What the receiver answered."""

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 300


Respond = Callable[[Delivery], tuple[int, dict[str, str]]]


def verified_or_400(delivery: Delivery) -> tuple[int, dict[str, str]]:
    """What a subscriber answers: 204 for a verified message, 400 for a bad signature."""
    return (204, {}) if delivery.error is None else (400, {})


def ok(_delivery: Delivery) -> tuple[int, dict[str, str]]:
    """200 whatever came (tests that look at the sender's side only)."""
    return 200, {}


class Receiver:
    """``Receiver(secret).start()``; ``secret`` may be set later (a subscription's secret is
    known only once the receiver's URL was subscribed)."""

    def __init__(self, secret: str = "", *, host: str = "127.0.0.1", port: int = 0,
                 path: str = "/hook", respond: Respond = verified_or_400,
                 on_delivery: Callable[[Delivery], None] | None = None) -> None:
        self.secret, self.host, self.port, self.path = secret, host, port, path
        self.respond, self.on_delivery = respond, on_delivery
        self.requests: list[Delivery] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    def start(self) -> Receiver:
        """Listen (again, on the same port once it had one) and serve from a thread."""
        self._server = ThreadingHTTPServer((self.host, self.port), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True, name="webhook-receiver").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def receive(self, headers: dict[str, str], body: bytes) -> tuple[Delivery, dict[str, str]]:
        """Verify and keep one request, then decide the answer (status and headers)."""
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        got = Delivery(headers=headers, body=body)
        try:
            got.verified = Webhook(self.secret).verify(body, headers)
        except (WebhookVerificationError, ValueError) as exc:  # ValueError: a malformed secret
            got.error = str(exc) or type(exc).__name__
        with self._changed:
            self.requests.append(got)
        # ``respond`` sees the request already kept (a test may answer by how many came)
        got.status, answer = self.respond(got)
        with self._changed:
            self._changed.notify_all()
        if self.on_delivery is not None:
            self.on_delivery(got)
        return got, answer

    # --- what arrived -----------------------------------------------------------------------

    def ids(self) -> list[str]:
        """webhook-id of every request, in arrival order (retries included)."""
        with self._changed:
            return [r.webhook_id for r in self.requests]

    def accepted_ids(self) -> list[str]:
        """webhook-ids verified and acknowledged with a 2xx."""
        with self._changed:
            return [r.webhook_id for r in self.requests if r.ok]

    def counts(self) -> Counter[str]:
        """How often each webhook-id arrived (over 1: a redelivery)."""
        with self._changed:
            return Counter(r.webhook_id for r in self.requests)

    @property
    def bad(self) -> int:
        """Requests whose signature did not verify."""
        with self._changed:
            return sum(r.error is not None for r in self.requests)

    def messages(self, since: float = 0.0) -> list[Delivery]:
        """Verified deliveries arrived at or after ``since`` (monotonic), each webhook-id once
        (Standard Webhooks: a receiver deduplicates redeliveries by id)."""
        with self._changed:
            return _first_verified(self.requests, since)

    def wait_for(self, predicate: Callable[[list[Delivery]], bool], timeout: float,
                 since: float = 0.0) -> list[Delivery]:
        """``messages(since)`` once ``predicate`` holds for them, or at the deadline."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = _first_verified(self.requests, since)
                left = deadline - time.monotonic()
                if predicate(got) or left <= 0:
                    return got
                self._changed.wait(min(left, 0.5))


def _first_verified(requests: list[Delivery], since: float) -> list[Delivery]:
    seen: set[str] = set()
    out = []
    for r in requests:
        if r.verified is None or r.webhook_id in seen:
            continue
        seen.add(r.webhook_id)
        if r.at >= since:
            out.append(r)
    return out


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            got, headers = receiver.receive({k.lower(): v for k, v in self.headers.items()},
                                            body)
            self.send_response(got.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: what arrived is kept (and printed by the command line)."""

    return Handler


def _print(delivery: Delivery) -> None:
    if delivery.verified is None:
        print(f"receiver: refused a message: {delivery.error}", file=sys.stderr, flush=True)
        return
    message = delivery.verified
    print(json.dumps({"webhook-id": delivery.webhook_id, "type": message.get("type"),
                      "data": message.get("data")}), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cutwatch.api.lab.receiver``: print every verified message as one JSON line
    (``webhook-id``, type, data) on stdout; a bad signature gets 400 and a line on stderr.
    For the walkthrough in docs/webhooks.md ("Try it locally")."""
    parser = argparse.ArgumentParser(prog="python -m cutwatch.api.lab.receiver",
                                     description="A webhook receiver for trying "
                                     "subscriptions locally: verifies and prints each message.")
    parser.add_argument("--port", type=int, default=9000, help="port on 127.0.0.1 (9000)")
    parser.add_argument("--secret", required=True, help="the subscription's whsec_... secret")
    args = parser.parse_args(argv)
    if not args.secret.startswith("whsec_"):
        parser.error("--secret must be the subscription's whsec_... secret")
    receiver = Receiver(args.secret, port=args.port, path="/", on_delivery=_print)
    try:
        receiver.start()
    except OSError as exc:
        parser.exit(2, f"receiver: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}\n")
    print(f"receiver: listening on {receiver.url}", file=sys.stderr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
