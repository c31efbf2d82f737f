"""Collector test helpers and fixtures: tiny GeoIP database, settings, service on uvicorn.

The service runs in a thread on a loopback socket bound to port 0, with the same uvicorn
configuration `cutwatch serve` uses. Clients connect from chosen 127.x source addresses, so
tests can look for exactly that address in logs and tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_service import LiveService
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from cutwatch.api.settings import Settings

ADMIN_TOKEN = "admin-test-token-0123456789"
# 127.0.0.0/16 plays a Myanmar ISP, 127.1.0.0/16 a Thai one: a probe moving between source
# addresses of the two "changes network".
HOME_ADDRESS = "127.0.0.7"
HOME_ASN, HOME_COUNTRY = 64500, "MM"
ABROAD_ADDRESS = "127.1.0.9"
ABROAD_ASN, ABROAD_COUNTRY = 64501, "TH"


def write_geoip_db(path: Path) -> Path:
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-ASN-Country-Test")
    writer.insert_network(IPSet(["127.0.0.0/16"]), {
        "autonomous_system_number": HOME_ASN,
        "autonomous_system_organization": "Test Home ISP",
        "country": {"iso_code": HOME_COUNTRY},
    })
    # The ipinfo-lite field names, to prove both layouts are read.
    writer.insert_network(IPSet(["127.1.0.0/16"]), {
        "asn": f"AS{ABROAD_ASN}", "as_name": "Test Abroad ISP", "country_code": ABROAD_COUNTRY,
    })
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def geoip_db(tmp_path: Path) -> Path:
    return write_geoip_db(tmp_path / "geo.mmdb")


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, geoip_db: Path,
             tmp_path: Path) -> Settings:
    # The detector's leader is a child process: an interpreter start, imports and a database
    # connection of its own for every service, competing for the CPU with the test. Only the
    # tests marked `detector` look at its work, so only their service runs it.
    detector = "child" if request.node.get_closest_marker("detector") else "off"
    return Settings(
        database_url=database_url,
        detector=detector,
        admin_token=ADMIN_TOKEN,
        data_dir=tmp_path / "var",
        geoip_asn_db=geoip_db,
        max_body_bytes=64 * 1024,
        max_decompressed_bytes=256 * 1024,
        pool_max_size=4,
    )


class LiveServer(LiveService):
    """The service for collector tests: its clients connect from HOME_ADDRESS by default."""

    def __init__(self, settings: Settings, *, log_level: str = "info", **config: Any) -> None:
        super().__init__(settings, log_level=log_level, **config)

    def client(  # type: ignore[override]
        self, source: str = HOME_ADDRESS, token: str | None = None
    ) -> httpx.Client:
        """A client connecting from ``source`` (a 127.x address), optionally authenticated."""
        return super().client(token, source=source)


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(settings) as server:
        yield server


def register(
    server: LiveServer, token: str = ADMIN_TOKEN, source: str = HOME_ADDRESS, **body: Any
) -> httpx.Response:
    payload = {"country": "MM", "subdivision": "MM-07", "city": "Bago", "access": "fixed"}
    payload.update(body)
    with server.client(source, token) as client:
        return client.post("/v1/probes", json=payload)


def new_probe(server: LiveServer, **body: Any) -> tuple[str, str]:
    """A registered probe's (id, token)."""
    response = register(server, **body)
    assert response.status_code == 201, response.text
    data = response.json()
    return data["probe_id"], data["token"]


def make_result(**overrides: Any) -> dict[str, Any]:
    result = {
        "id": str(uuid.uuid4()), "kind": "dns", "target": "example-dns", "scope": "domestic",
        "family": "ipv4", "measured_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "duration_ms": 12.5, "ok": False, "failure": "dns_nxdomain_error",
        "details": {"rcode": 3, "qname": "example.test."},
    }
    result.update(overrides)
    return result


def make_batch(probe_id: str, results: int | list[dict[str, Any]] = 3, seq: int = 1,
               **overrides: Any) -> dict[str, Any]:
    items = [make_result() for _ in range(results)] if isinstance(results, int) else results
    batch = {
        "schema_version": 1, "batch_id": str(uuid.uuid4()), "probe_id": probe_id,
        "sent_at": datetime.now(UTC).isoformat(),
        "clock": {"synced": True, "offset_ms": -3.5},
        "heartbeat": {"seq": seq, "spool_depth": 7, "dropped_total": 2, "software": "test/1"},
        "results": items,
    }
    batch.update(overrides)
    return batch
