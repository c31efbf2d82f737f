"""The whole service (create_app, its lifespan and workers) on uvicorn in a thread, port 0."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.server import uvicorn_config
from api.settings import Settings

ADMIN = "admin-token-for-webhook-tests"


def settings_for(database_url: str, tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url, "admin_token": ADMIN, "data_dir": tmp_path / "var",
        "pool_max_size": 4, "public_base_url": "https://cutwatch.example",
        "webhook_allow_private": True, "webhook_retry_schedule": (0, 0.2, 0.2, 0.2),
    }
    return Settings(**{**values, **extra})


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = ""

    def __enter__(self) -> Service:
        config = uvicorn_config(create_app(self.settings), self.settings, log_level="warning")
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._sock.close()
                raise RuntimeError("the service did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)
