"""The demo probe (what `cutwatch serve --demo` can run) delivers lab results to a collector."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from probe_collector import ADMIN, LiveCollector, collector_settings

from probes.config import load_config, load_credentials
from probes.demo import DemoProbe

pytestmark = pytest.mark.slow


def test_demo_probe_feeds_the_collector(database_url: str, tmp_path: Path) -> None:
    with LiveCollector(collector_settings(database_url, tmp_path)) as collector:
        demo = DemoProbe(collector.url, ADMIN, tmp_path / "demo").start()
        try:
            probe_id = load_credentials(load_config(demo.config_path)).probe_id
            deadline = time.monotonic() + 30
            failures: dict[str, str | None] = {}
            while time.monotonic() < deadline and len(failures) < 10:
                time.sleep(0.5)
                failures = {f"{r['target']}/{r['family']}": r["failure"]  # type: ignore[misc]
                            for r in collector.results(probe_id)}
        finally:
            demo.stop()
    assert failures == {
        "lab-dns-ok/ipv4": None, "lab-dns-ok/ipv6": None,
        "lab-dns-nxdomain/ipv4": "dns_nxdomain_error",
        "lab-dns-silent/ipv4": "generic_timeout_error",
        "lab-dns-injected/ipv4": "dns_injection_error",
        "lab-tcp-open/ipv4": None, "lab-tcp-closed/ipv4": "connection_refused",
        "lab-tcp-reset/ipv4": "connection_reset",
        "lab-http-ok/ipv4": None, "lab-http-blocked/ipv4": "http_block_page",
    }
