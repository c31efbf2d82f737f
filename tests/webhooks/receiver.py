"""A real webhook receiver on loopback (http.server on port 0) that verifies every request.

It can be stopped and started again on the same port ("down for a while"), and answers with
whatever a test's ``respond`` callable says.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Respond = Callable[["Received"], tuple[int, dict[str, str]]]


def ok(_request: Received) -> tuple[int, dict[str, str]]:
    return 200, {}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: Any = None
    error: str | None = None
    status: int = 0


@dataclass
class Receiver:
    secret: str
    respond: Respond = ok
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                got = Received(headers={k.lower(): v for k, v in self.headers.items()},
                               body=body)
                try:
                    got.verified = Webhook(receiver.secret).verify(body, got.headers)
                except WebhookVerificationError as exc:
                    got.error = str(exc)
                with receiver._lock:
                    receiver.requests.append(got)
                code, headers = receiver.respond(got)
                got.status = code
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        with self._lock:
            return [r.headers["webhook-id"] for r in self.requests]

    def accepted_ids(self) -> list[str]:
        """webhook-ids the receiver acknowledged with a 2xx, after verification."""
        with self._lock:
            return [r.headers["webhook-id"] for r in self.requests
                    if r.error is None and 200 <= r.status < 300]
