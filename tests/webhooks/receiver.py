"""The webhook tests' receiver: the project's one receiver (api/lab/receiver.py) on
loopback, answering 200 to everything unless a test's ``respond`` says otherwise (the tests
look at what the sender does; the signature is still verified and kept per request)."""

from __future__ import annotations

from typing import Any

from cutwatch.api.lab.receiver import Delivery, Respond, ok
from cutwatch.api.lab.receiver import Receiver as _Receiver

Received = Delivery
__all__ = ["Delivery", "Received", "Receiver", "Respond", "ok"]


class Receiver(_Receiver):
    def __init__(self, secret: str = "", respond: Respond = ok, port: int = 0,
                 **kw: Any) -> None:
        super().__init__(secret, respond=respond, port=port, **kw)
