"""The probe against the real collector (PostgreSQL, uvicorn): check-in, upload, outages."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from probe_collector import LiveCollector, collector_settings
from probe_lab import Lab

from cutwatch.api.lab.tcp import closed_port
from cutwatch.cli import main as cli
from cutwatch.probes import checkin
from cutwatch.probes.agent import Agent
from cutwatch.probes.checks.base import Context
from cutwatch.probes.config import load_config, load_credentials
from cutwatch.probes.main import spool_for
from cutwatch.probes.status import collect
from cutwatch.probes.uploader import Uploader

pytestmark = pytest.mark.slow

CATALOGUE = """
[schedule]
pulse = 30
service = 600

[[block_pages]]
name = "lab-block"
pattern = "has been restricted"

[[targets]]
kind = "tcp"
name = "cat-intl-tcp"
host = "127.0.0.1"
port = {port}

[[targets]]
kind = "tcp"
name = "cat-mm-tcp"
country = "MM"
host = "127.0.0.1"
port = {port}

[[targets]]
kind = "tcp"
name = "cat-th-tcp"
country = "TH"
host = "127.0.0.1"
port = {port}
"""


def write_config(tmp: Path, lab: Lab, collectors: list[str] | None = None) -> Path:
    urls = "" if collectors is None else f"collectors = {collectors!r}\n".replace("'", '"')
    path = tmp / "probe.toml"
    path.write_text(f"""
[probe]
state_dir = "{tmp / 'state'}"
{urls}
[[targets]]
kind = "dns"
name = "lab-dns"
tag = "domestic"
query = "ok.test"
resolver = "127.0.0.1:{lab.dns.port}"
late_window = 0.05

[[targets]]
kind = "tcp"
name = "lab-closed"
tag = "domestic"
host = "127.0.0.1"
port = {closed_port()}

[[targets]]
kind = "http"
name = "lab-blocked"
tag = "international"
group = "pulse"
url = "{lab.web.url('/blocked')}"
""")
    return path


def register(collector: LiveCollector, config: Path) -> None:
    admin = collector.settings.admin_token
    assert admin is not None
    status = cli(["probe", "register", "--collector", collector.url, "--token",
                  admin.get_secret_value(), "--country", "MM", "--subdivision", "MM-07",
                  "--city", "Bago", "--access", "fixed", "--config", str(config)])
    assert status == 0
    stored = config.parent / "state" / "credentials.json"
    assert stored.stat().st_mode & 0o777 == 0o600


def uploader_for(config: Any, client: httpx.Client, **extra: Any) -> tuple[Uploader, Any]:
    credentials = load_credentials(config)
    spool = spool_for(config)
    return Uploader(spool, client, collectors=credentials.collectors,
                    probe_id=credentials.probe_id, token=credentials.token, **extra), spool


def test_checkin_catalogue_by_country_kept_on_disk(database_url: str, tmp_path: Path,
                                                   lab: Lab) -> None:
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(CATALOGUE.format(port=lab.held.port))
    config_path = write_config(tmp_path, lab)
    with LiveCollector(collector_settings(database_url, tmp_path, catalogue)) as collector:
        register(collector, config_path)
        config = load_config(config_path)
        credentials = load_credentials(config)

        async def fetch() -> Any:
            with httpx.Client() as client:
                return await checkin.fetch(client, credentials.collectors, credentials.token)

        reply = asyncio.run(fetch())
        denied = httpx.get(f"{collector.url}/v1/checkin",
                           headers={"Authorization": "Bearer p-nobody.secret"})
    assert denied.status_code == 401
    assert not isinstance(reply, str)
    tags = {t.name: t.tag for t in reply.catalogue.targets}
    assert tags == {"cat-intl-tcp": "international", "cat-mm-tcp": "domestic"}
    assert reply.schedule is not None
    assert reply.schedule.pulse == 30
    checkin.save(config.probe.state_dir, reply)
    # The collector is gone: the probe measures with its saved catalogue.
    agent = Agent(config, Context())
    saved = checkin.load(config.probe.state_dir)
    assert saved == reply
    agent.apply(saved)
    results = asyncio.run(agent.measure_round())
    by_name = {r.target: r for r in results}
    assert set(by_name) == {"lab-dns", "lab-closed", "lab-blocked", "cat-intl-tcp",
                            "cat-mm-tcp"}
    assert by_name["cat-mm-tcp"].scope == "domestic"
    assert by_name["cat-mm-tcp"].ok
    # The catalogue's block-page fingerprint applies to the volunteer's own HTTP target.
    assert by_name["lab-blocked"].failure == "http_block_page"
    assert by_name["lab-blocked"].details["block_page"] == "lab-block"


def test_outage_then_every_result_arrives_once(database_url: str, tmp_path: Path,
                                               lab: Lab) -> None:
    config_path = write_config(tmp_path, lab)
    collector = LiveCollector(collector_settings(database_url, tmp_path)).start()
    try:
        register(collector, config_path)
        config = load_config(config_path)
        agent = Agent(config, Context(), spool_for(config))
        asyncio.run(agent.measure_round())
        collector.stop()  # the region is cut off from its collector

        async def attempt(**extra: Any) -> Any:
            with httpx.Client(timeout=5) as client:
                uploader, spool = uploader_for(config, client, **extra)
                try:
                    return await uploader.upload(), spool.depth()
                finally:
                    spool.close()

        failed, depth = asyncio.run(attempt())
        assert failed.error is not None
        assert "ConnectError" in failed.error
        asyncio.run(agent.measure_round())  # measuring goes on while offline
        assert depth == 4
        collector.start()  # same port: the cut ends
        done, left = asyncio.run(attempt(batch_size=3, fresh_per_batch=1))
        assert (done.error, done.sent, done.results, left) == (None, 3, 8, 0)
        probe_id = load_credentials(config).probe_id
        stored = collector.results(probe_id)
        state = collect(config)
    finally:
        collector.stop()
        assert agent.spool is not None
        agent.spool.close()
    ids = [r["id"] for r in stored]
    assert len(ids) == len(set(ids)) == 8
    assert sorted(r["target"] for r in stored) == sorted(["lab-dns", "lab-closed",
                                                           "lab-blocked", "lab-dns"] * 2)
    assert {r["failure"] for r in stored if r["target"] == "lab-closed"} == {
        "connection_refused"}
    assert state["spool"]["waiting"] == 0
    assert state["last_upload_error"] is None
    assert state["bytes_sent_today"] > 0
    assert {r["target"] for r in state["last_results"]} == {"lab-dns", "lab-closed",
                                                            "lab-blocked"}


def test_lost_ack_resends_the_same_batch_and_next_collector_url(
        database_url: str, tmp_path: Path, lab: Lab) -> None:
    config_path = write_config(tmp_path, lab)
    with LiveCollector(collector_settings(database_url, tmp_path)) as collector:
        register(collector, config_path)
        dead = f"http://127.0.0.1:{closed_port()}"
        config = load_config(write_config(tmp_path, lab, [dead, collector.url]))
        agent = Agent(config, Context(), spool_for(config))
        asyncio.run(agent.measure_round())

        async def scenario() -> tuple[Any, Any, int]:
            with httpx.Client(timeout=5) as client:
                uploader, spool = uploader_for(config, client)
                batch = uploader._next_batch()
                # Sent and stored by the collector, but the probe dies before the ack lands.
                first = await asyncio.to_thread(
                    client.post, f"{collector.url}/v1/batches", content=batch.body,
                    headers=uploader.headers)
                assert first.json()["accepted"] == 4
                again = spool.open_batch()
                assert again == batch
                done = await uploader.upload()
                depth = spool.depth()
                spool.close()
                return batch, done, depth

        batch, done, depth = asyncio.run(scenario())
        stored = collector.results(load_credentials(config).probe_id)
        assert agent.spool is not None
        agent.spool.close()
    assert (done.error, done.sent, depth) == (None, 1, 0)
    assert len(stored) == 4
    assert {r["batch_id"] for r in stored} == {batch.batch_id}
