"""The drill's subscriber: a webhook endpoint that verifies every signature and keeps arrivals.

Verification is done by the ``standardwebhooks`` library, as a subscriber would; a delivery
whose signature does not verify is answered 400 and counted, never recorded as received.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Arrival:
    at: float
    """``time.monotonic()`` when the delivery arrived."""
    webhook_id: str
    event_id: str
    type: str
    action: str
    kind: str
    entity_type: str
    entity_code: str
    status: str
    start: str | None
    end: str | None
    method: str | None = None
    """A service block's method (``dns``, ``tcp``, ...), from the event's evidence."""

    @property
    def entity(self) -> str:
        return f"{self.entity_type}:{self.entity_code}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            payload = Webhook(self.server.secret).verify(body, dict(self.headers.items()))
        except WebhookVerificationError:
            self.server.note_forged()
            self._answer(400)
            return
        self.server.record(str(self.headers.get("webhook-id")), payload)
        self._answer(204)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver(ThreadingHTTPServer):
    """Create it in the namespace it must listen in; ``start()`` serves from a thread."""

    daemon_threads = True

    def __init__(self, host: str, secret: str = "") -> None:
        super().__init__((host, 0), _Handler)
        self.secret = secret
        self.arrivals: list[Arrival] = []
        self.forged = 0
        self._seen: set[str] = set()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="drill-receiver")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/hooks/cutwatch"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def note_forged(self) -> None:
        with self._changed:
            self.forged += 1

    def record(self, webhook_id: str, payload: Any) -> None:
        data = payload.get("data", {}) if isinstance(payload, dict) else {}
        event = data.get("event", {})
        entity = event.get("entity", {})
        arrival = Arrival(
            at=time.monotonic(), webhook_id=webhook_id, event_id=str(event.get("id")),
            type=str(payload.get("type")),
            action=str(data.get("action")), kind=str(event.get("kind")),
            entity_type=str(entity.get("type")), entity_code=str(entity.get("code")),
            status=str(event.get("status")), start=event.get("start"), end=event.get("end"),
            method=(event.get("evidence") or {}).get("method"),
        )
        with self._changed:
            if webhook_id in self._seen:  # a retried delivery: Standard Webhooks says dedupe
                return
            self._seen.add(webhook_id)
            self.arrivals.append(arrival)
            self._changed.notify_all()

    def since(self, moment: float) -> list[Arrival]:
        with self._changed:
            return [a for a in self.arrivals if a.at >= moment]

    def wait_for(self, moment: float, predicate: Any, timeout: float) -> list[Arrival]:
        """Arrivals since ``moment`` once ``predicate(them)`` holds, or at the deadline."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = [a for a in self.arrivals if a.at >= moment]
                left = deadline - time.monotonic()
                if predicate(got) or left <= 0:
                    return got
                self._changed.wait(min(left, 0.5))


def summary(arrival: Arrival) -> str:
    return json.dumps({"action": arrival.action, "kind": arrival.kind, "entity": arrival.entity,
                       "status": arrival.status})
