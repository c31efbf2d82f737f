"""The demo's cuttable fleet: gates that carry a made-up address to the collector, and cut."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from live_service import LiveService

from cutwatch.api.demo_cut import FLEET, Gate, read_cuts, set_cut, write_geoip
from cutwatch.api.settings import Settings
from cutwatch.cli import main

ADMIN = "demo-cut-tests-admin-token-0123456789"


def test_cuts_expire_and_restore(tmp_path: Path) -> None:
    set_cut(tmp_path, "MM-07", 60)
    assert read_cuts(tmp_path) == {"MM-07"}
    assert read_cuts(tmp_path, now=time.time() + 30) == {"MM-07"}
    assert read_cuts(tmp_path, now=time.time() + 90) == set()
    set_cut(tmp_path, "MM-07", None)
    assert read_cuts(tmp_path) == set()
    with pytest.raises(ValueError, match="can cut MM-07, not KH-12"):
        set_cut(tmp_path, "KH-12", 60)


def test_demo_cut_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "cut", "mm-07", "--minutes", "2", "--data-dir", str(tmp_path)]) == 0
    assert read_cuts(tmp_path / "demo") == {"MM-07"}
    assert main(["demo", "restore", "MM-07", "--data-dir", str(tmp_path)]) == 0
    assert read_cuts(tmp_path / "demo") == set()
    assert main(["demo", "cut", "XX-01", "--data-dir", str(tmp_path)]) == 2
    assert "can cut MM-07, not XX-01" in capsys.readouterr().err


def test_gate_carries_the_probe_network_and_cuts(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, admin_token=ADMIN, data_dir=tmp_path / "var",
                        forwarded_allow_ips="127.0.0.1",
                        geoip_asn_db=write_geoip(tmp_path / "demo.mmdb"))
    bago, yangon = FLEET[2], FLEET[4]  # AS64602 in MM-07, AS64601 in MM-06
    with LiveService(settings) as service:
        gates = [Gate(p, service.url, tmp_path).start() for p in (bago, yangon)]
        try:
            admin = {"Authorization": f"Bearer {ADMIN}"}
            body = {"country": "MM", "subdivision": bago.subdivision, "access": "fixed"}
            made = httpx.post(gates[0].url + "/v1/probes", json=body, headers=admin, timeout=30)
            assert made.status_code == 201, made.text
            probe_id, token = made.json()["probe_id"], made.json()["token"]
            batch = {"schema_version": 1, "batch_id": str(uuid.uuid4()), "probe_id": probe_id,
                     "sent_at": datetime.now(UTC).isoformat(),
                     "heartbeat": {"seq": 1, "spool_depth": 0, "dropped_total": 0},
                     "results": []}
            sent = httpx.post(gates[0].url + "/v1/batches", json=batch, timeout=30,
                              headers={"Authorization": f"Bearer {token}"})
            assert sent.status_code == 200, sent.text
            # the collector derived the network from the gate's made-up address
            # the operator's list (the public one hides groups of fewer than 3 probes)
            listed = httpx.get(service.url + "/v1/probes", headers=admin, timeout=10).json()
            assert [p["asn"] for p in listed if p["id"] == probe_id] == [bago.asn]
            assert httpx.get(gates[0].url + "/ping", timeout=5).text == "pong\n"

            set_cut(tmp_path, "MM-07", 60)
            with pytest.raises(httpx.RemoteProtocolError):
                httpx.get(gates[0].url + "/ping", timeout=5)
            with pytest.raises(httpx.RemoteProtocolError):
                httpx.get(gates[0].url + "/v1/probes", timeout=5)
            # the other province is untouched
            assert httpx.get(gates[1].url + "/ping", timeout=5).status_code == 200

            set_cut(tmp_path, "MM-07", None)
            assert httpx.get(gates[0].url + "/ping", timeout=5).status_code == 200
        finally:
            for gate in gates:
                gate.stop()
