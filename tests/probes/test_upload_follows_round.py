"""A round's results go up when the round ends, not up to a whole upload interval later."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
from datetime import datetime
from pathlib import Path

import pytest
from probe_collector import LiveCollector, collector_settings
from probe_lab import ZONE, Lab
from test_probe_collector import register, write_config

from cutwatch.api.lab.dns import DnsServer
from cutwatch.probes.agent import Agent
from cutwatch.probes.checks.base import Context
from cutwatch.probes.config import load_config, load_credentials
from cutwatch.probes.main import spool_for
from cutwatch.probes.targets import DnsTarget, Schedule

pytestmark = pytest.mark.slow
EVERY = 2.0


def test_results_are_uploaded_as_their_round_ends(database_url: str, tmp_path: Path,
                                                  lab: Lab) -> None:
    config_path = write_config(tmp_path, lab)
    with LiveCollector(collector_settings(database_url, tmp_path)) as collector, \
            DnsServer(ZONE, mode="silent") as silent:
        register(collector, config_path)
        # measuring and uploading at the same interval (the drill's probes, and the
        # default), which left each round's results waiting for the upload after it
        config = load_config(config_path)
        # a resolver that never answers makes each round last its timeout (half an
        # interval), as real rounds take a while: the next upload comes before it ends
        slow = DnsTarget(name="lab-silent", tag="domestic", query="ok.test",
                         resolver=f"127.0.0.1:{silent.port}", families=("ipv4",),
                         timeout=EVERY / 2)
        config = dataclasses.replace(config, targets=(*config.targets, slow), schedule=Schedule(
            pulse=EVERY, upload=EVERY, jitter=0.0, service=3600))
        agent = Agent(config, Context(), spool_for(config))
        credentials = load_credentials(config)

        async def run_for(seconds: float) -> None:
            stop = asyncio.Event()
            running = asyncio.create_task(agent.run(stop, credentials, lambda: None))
            await asyncio.sleep(seconds)
            stop.set()
            await running

        asyncio.run(run_for(5 * EVERY))
        assert agent.spool is not None
        agent.spool.close()
        stored = collector.results(credentials.probe_id)

    def at(text: object) -> float:
        return datetime.fromisoformat(str(text)).timestamp()

    # how long after its round ended a round's last result (the silent resolver's, the
    # slowest check) arrived; the first round ends right after the start-up heartbeat
    lags = sorted((at(r["measured_at"]), at(r["received_at"]) - at(r["measured_at"])
                   - float(str(r["duration_ms"])) / 1000)
                  for r in stored if r["target"] == "lab-silent")
    later = [lag for _, lag in lags[1:]]
    assert len(later) >= 3, lags
    assert statistics.median(later) < 0.25 * EVERY, later
