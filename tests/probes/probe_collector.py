"""The real collector (api.app.create_app on uvicorn) in a thread, for probe tests.

It can be stopped and started again on the same port, so a probe sees its collector vanish
and come back, exactly as after a regional cut.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from live_service import LiveService

from cutwatch.api.settings import Settings

ADMIN = "probe-tests-admin-token-0123456789"


def collector_settings(database_url: str, tmp: Path, catalogue: Path | None = None) -> Settings:
    # No detector leader (a child process per service): the probe tests read results only.
    return Settings(database_url=database_url, admin_token=ADMIN, data_dir=tmp / "var",
                    catalogue=catalogue, pool_max_size=4, detector="off")


class LiveCollector(LiveService):
    """The service with the probe tests' helpers: register a probe, read its results."""

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
            # As the operator: a probe alone in its country is not public (docs/privacy.md).
            page = httpx.get(f"{self.url}/v1/probes/{probe_id}/results", params=params,
                             headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30).json()
            out += page["results"]
            cursor = page.get("next_cursor")
            if not cursor:
                return out
