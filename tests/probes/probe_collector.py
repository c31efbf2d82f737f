"""The real collector (api.app.create_app on uvicorn) in a thread, for probe tests.

It can be stopped and started again on the same port, so a probe sees its collector vanish
and come back, exactly as after a regional cut.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from api.app import create_app
from api.server import uvicorn_config
from api.settings import Settings

ADMIN = "probe-tests-admin-token-0123456789"


def collector_settings(database_url: str, tmp: Path, catalogue: Path | None = None) -> Settings:
    return Settings(database_url=database_url, admin_token=ADMIN, data_dir=tmp / "var",
                    catalogue=catalogue, pool_max_size=4)


class LiveCollector:
    def __init__(self, settings: Settings, port: int = 0) -> None:
        self.settings = settings
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveCollector:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self.port = self._sock.getsockname()[1]
        config = uvicorn_config(create_app(self.settings), self.settings, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("collector did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()

    def __enter__(self) -> LiveCollector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def register(self, country: str = "MM") -> tuple[str, str]:
        reply = httpx.post(f"{self.url}/v1/probes", headers={"Authorization": f"Bearer {ADMIN}"},
                           json={"country": country, "subdivision": "MM-07", "city": "Bago",
                                 "access": "fixed"}, timeout=30)
        assert reply.status_code == 201, reply.text
        body = reply.json()
        return body["probe_id"], body["token"]

    def results(self, probe_id: str) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        cursor = None
        while True:
            params = {"since": "2000-01-01T00:00:00Z", "limit": "10000"}
            params |= {"cursor": cursor} if cursor else {}
            # The read API allows a bounded window: ask from a recent start.
            params["since"] = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                            time.gmtime(time.time() - 6 * 86_400))
            page = httpx.get(f"{self.url}/v1/probes/{probe_id}/results", params=params,
                             timeout=30).json()
            out += page["results"]
            cursor = page.get("next_cursor")
            if not cursor:
                return out
