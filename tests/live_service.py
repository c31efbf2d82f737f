"""The whole service (create_app, its lifespan and workers) on a real uvicorn socket, in a thread.

One harness for every test folder and benchmark, with the configuration ``cutwatch serve``
uses (``cutwatch.api.server.uvicorn_config``: no access log, no client address anywhere). It can be
stopped and started again on the same port, so a probe sees its collector vanish and return.
Importable by name from any test (``tests/`` is on the path through the root conftest).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Self

import httpx
import uvicorn

from cutwatch.api.app import create_app
from cutwatch.api.server import uvicorn_config
from cutwatch.api.settings import Settings

START_TIMEOUT_S = 30.0


class LiveService:
    """``with LiveService(settings) as service: service.client().get("/healthz")``."""

    def __init__(self, settings: Settings, *, port: int = 0, log_level: str = "warning",
                 **config: Any) -> None:
        self.settings = settings
        self.port = port
        self.log_level = log_level
        self.config = config  # extra uvicorn.Config attributes (a test's control runs)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        config = uvicorn_config(create_app(self.settings), self.settings,
                                log_level=self.log_level)
        for key, value in self.config.items():
            setattr(config, key, value)
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when the
        # listening socket says TCP; with proto 0 each response waits for a delayed ACK.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self.port = self._sock.getsockname()[1]
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._sock.close()
                raise RuntimeError("the service did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=START_TIMEOUT_S)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, token: str | None = None, *, source: str | None = None,
               **kwargs: Any) -> httpx.Client:
        """A client, optionally authenticated and connecting from a chosen 127.x address."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.HTTPTransport(local_address=source) if source else None
        return httpx.Client(base_url=self.url, headers=headers, timeout=30,
                            transport=transport, **kwargs)
