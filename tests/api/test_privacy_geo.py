"""The probe's address: turned into ASN and country on every batch, then never seen again."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from collector_helpers import (
    ABROAD_ADDRESS,
    ABROAD_ASN,
    ADMIN_TOKEN,
    HOME_ADDRESS,
    HOME_ASN,
    LiveServer,
    make_batch,
    new_probe,
    register,
    write_geoip_db,
)
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from cutwatch.api.geo import UNKNOWN, GeoLookup, Network
from cutwatch.api.server import DropAccessLog, silence_access_log

LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
CLIENT_SIDE = ("httpx", "httpcore")


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(CLIENT_SIDE):
            return  # the test's own HTTP client, which of course knows its address
        self.lines.append(f"{record.name} {record.getMessage()} {record.exc_text or ''}")


@contextmanager
def all_logs() -> Iterator[Collect]:
    handler = Collect()
    saved = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for logger, level in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)


def exercise(server: LiveServer, source: str) -> None:
    """Every endpoint, good and bad requests, all from ``source``."""
    with server.client(source, ADMIN_TOKEN) as admin:
        enrollment = admin.post("/v1/enrollment-tokens", json={"max_uses": 1}).json()["token"]
    probe = register(server, token=enrollment, source=source)
    assert probe.status_code == 201
    probe_id, token = probe.json()["probe_id"], probe.json()["token"]
    batch = json.dumps(make_batch(probe_id, 3)).encode()
    plain = {"Content-Type": "application/json"}
    with server.client(source, token) as client:
        for _ in range(2):
            ack = client.post("/v1/batches", content=gzip.compress(batch),
                              headers={**plain, "Content-Encoding": "gzip"})
            assert ack.status_code == 200
        assert client.post("/v1/batches", content=b"{", headers=plain).status_code == 400
        assert client.post("/v1/batches", content=b"{}", headers=plain).status_code == 422
        assert client.post("/v1/batches", content=b"x" * 100_000,
                           headers=plain).status_code == 413
        # Alone in its country: not published (api.publish); the operator sees it below.
        assert client.get(f"/v1/probes/{probe_id}/results").status_code == 404
        assert client.get("/v1/probes").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/nowhere").status_code == 404
    with server.client(source, ADMIN_TOKEN) as admin:
        assert admin.get(f"/v1/probes/{probe_id}/results").status_code == 200
        assert admin.post(f"/v1/probes/{probe_id}/approve").status_code == 200
    with server.client(source, "p-nobody.secret") as stranger:
        assert stranger.post("/v1/batches", content=batch, headers=plain).status_code == 401


def database_text(url: str) -> str:
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")]
        assert {"probes", "batches", "results", "enrollment_tokens"} <= set(tables)
        rows = [
            str(row[0])
            for table in tables
            for row in conn.execute(f'SELECT t::text FROM "{table}" t')  # noqa: S608
        ]
        inet_columns = conn.execute(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_schema = 'public' AND data_type IN ('inet', 'cidr')").fetchone()
    assert inet_columns == (0,)
    assert len(rows) > 5
    return "\n".join(rows)


def test_the_address_is_neither_stored_nor_logged(
    settings: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    source = "127.0.0.77"
    with LiveServer(settings, log_level="debug") as server, all_logs() as logs:
        exercise(server, source)
    out, err = capfd.readouterr()
    logged = "\n".join(logs.lines) + out + err
    assert "Application shutdown complete" in logged  # the capture did see the server talk
    assert source not in logged
    assert source not in database_text(settings.database_url)


def test_the_log_check_would_see_an_access_log(settings: Any) -> None:
    """Control: with uvicorn's access log on, the same capture does find the address."""
    logger = logging.getLogger("uvicorn.access")
    try:
        with LiveServer(settings, access_log=True) as server, all_logs() as logs:
            for drop in [f for f in logger.filters if isinstance(f, DropAccessLog)]:
                logger.removeFilter(drop)
            with server.client("127.0.0.78") as client:
                client.get("/healthz")
    finally:
        silence_access_log()
    assert any("127.0.0.78" in line for line in logs.lines)


def probe_network(url: str, probe_id: str) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT asn, derived_country, network_mismatch, asn_changed_at IS NOT NULL"
            " FROM probes WHERE id = %s", (probe_id,)).fetchone()
    assert row is not None
    return tuple(row)


def upload_from(server: LiveServer, source: str, probe_id: str, token: str, seq: int) -> None:
    with server.client(source, token) as client:
        assert client.post("/v1/batches", json=make_batch(probe_id, 1, seq=seq)).status_code == 200


def public_probe(server: LiveServer, probe_id: str) -> dict[str, Any]:
    """The probe as the operator's list shows it (the public one hides groups too small)."""
    with server.client(token=ADMIN_TOKEN) as client:
        listed: list[dict[str, Any]] = client.get("/v1/probes").json()
    return next(p for p in listed if p["id"] == probe_id)


def test_network_is_rederived_on_every_batch_and_a_mismatch_is_flagged(
    live: LiveServer, settings: Any
) -> None:
    probe_id, token = new_probe(live)  # declared MM
    assert probe_network(settings.database_url, probe_id) == (None, None, False, False)
    upload_from(live, HOME_ADDRESS, probe_id, token, 1)
    assert probe_network(settings.database_url, probe_id) == (HOME_ASN, "MM", False, True)
    assert public_probe(live, probe_id)["network_mismatch"] is False
    upload_from(live, ABROAD_ADDRESS, probe_id, token, 2)
    assert probe_network(settings.database_url, probe_id) == (ABROAD_ASN, "TH", True, True)
    shown = public_probe(live, probe_id)
    assert (shown["asn"], shown["network_mismatch"]) == (ABROAD_ASN, True)
    upload_from(live, HOME_ADDRESS, probe_id, token, 3)
    assert probe_network(settings.database_url, probe_id) == (HOME_ASN, "MM", False, True)


def test_without_a_geoip_database_network_facts_stay_unknown(settings: Any) -> None:
    bare = settings.model_copy(update={"geoip_asn_db": None})
    with LiveServer(bare) as server:
        probe_id, token = new_probe(server)
        upload_from(server, ABROAD_ADDRESS, probe_id, token, 1)
    assert probe_network(settings.database_url, probe_id) == (None, None, False, False)


def test_lookup_reads_maxmind_and_ipinfo_layouts(geoip_db: Path) -> None:
    geo = GeoLookup.open([geoip_db])
    try:
        assert geo.lookup(HOME_ADDRESS) == Network(asn=HOME_ASN, country="MM")
        assert geo.lookup(ABROAD_ADDRESS) == Network(asn=ABROAD_ASN, country="TH")
        assert geo.lookup("127.2.0.1") == UNKNOWN
        assert geo.lookup("not-an-address") == UNKNOWN
        assert geo.lookup(None) == UNKNOWN
    finally:
        geo.close()


def test_separate_asn_and_country_files_are_merged(tmp_path: Path) -> None:
    asn_only = MMDBWriter(ip_version=4, database_type="GeoLite2-ASN")
    asn_only.insert_network(IPSet(["127.0.0.0/8"]), {"autonomous_system_number": 65001})
    asn_only.to_db_file(str(tmp_path / "asn.mmdb"))
    country_only = MMDBWriter(ip_version=4, database_type="GeoLite2-Country")
    country_only.insert_network(IPSet(["127.0.0.0/8"]), {"country": {"iso_code": "ir"}})
    country_only.to_db_file(str(tmp_path / "country.mmdb"))
    geo = GeoLookup.open([tmp_path / "asn.mmdb", tmp_path / "country.mmdb"])
    try:
        assert geo.lookup("127.9.9.9") == Network(asn=65001, country="IR")
    finally:
        geo.close()


def test_a_missing_database_file_is_named(tmp_path: Path) -> None:
    write_geoip_db(tmp_path / "present.mmdb")
    with pytest.raises(FileNotFoundError, match=r"absent\.mmdb"):
        GeoLookup.open([tmp_path / "present.mmdb", tmp_path / "absent.mmdb"])
