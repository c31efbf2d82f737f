"""The drill's subscriber: what arrived at the one webhook receiver, as event transitions.

The receiver (api/lab/receiver.py) verifies every delivery with the ``standardwebhooks``
library, as a subscriber would: a delivery whose signature does not verify is answered 400
and counted, never taken as received; redeliveries of one webhook-id count once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cutwatch.api.lab.receiver import Delivery, Receiver


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


def arrival(delivery: Delivery) -> Arrival:
    """One verified delivery of an event transition."""
    payload = delivery.verified if isinstance(delivery.verified, dict) else {}
    data = payload.get("data", {})
    event = data.get("event", {})
    entity = event.get("entity", {})
    return Arrival(
        at=delivery.at, webhook_id=delivery.webhook_id, event_id=str(event.get("id")),
        type=str(payload.get("type")),
        action=str(data.get("action")), kind=str(event.get("kind")),
        entity_type=str(entity.get("type")), entity_code=str(entity.get("code")),
        status=str(event.get("status")), start=event.get("start"), end=event.get("end"),
        method=(event.get("evidence") or {}).get("method"),
    )


class Subscriber:
    """The receiver on ``host`` (create it in the namespace it must listen in)."""

    def __init__(self, host: str, on_arrival: Callable[[Arrival], None] | None = None) -> None:
        def show(delivery: Delivery) -> None:
            if on_arrival is not None and delivery.verified is not None:
                on_arrival(arrival(delivery))

        self.receiver = Receiver(host=host, path="/hooks/cutwatch", on_delivery=show)

    @property
    def url(self) -> str:
        return self.receiver.url

    @property
    def forged(self) -> int:
        """Deliveries refused because their signature did not verify."""
        return self.receiver.bad

    def set_secret(self, secret: str) -> None:
        self.receiver.secret = secret

    def start(self) -> Subscriber:
        self.receiver.start()
        return self

    def stop(self) -> None:
        self.receiver.stop()

    def since(self, moment: float) -> list[Arrival]:
        return [arrival(d) for d in self.receiver.messages(since=moment)]

    def wait_for(self, moment: float, predicate: Callable[[list[Arrival]], bool],
                 timeout: float) -> list[Arrival]:
        """Arrivals since ``moment`` once ``predicate(them)`` holds, or at the deadline."""
        got = self.receiver.wait_for(lambda ds: predicate([arrival(d) for d in ds]), timeout,
                                     since=moment)
        return [arrival(d) for d in got]

