"""`cutwatch serve --demo`'s probe: a real `cutwatch probe run` process feeding a collector."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from probe_collector import ADMIN, LiveCollector, collector_settings

from cutwatch.api.demo import DemoProbe, lab_targets

pytestmark = pytest.mark.slow


def test_demo_probe_feeds_the_collector(database_url: str, tmp_path: Path) -> None:
    with LiveCollector(collector_settings(database_url, tmp_path)) as collector, \
            lab_targets() as targets:
        demo = DemoProbe(collector.url, ADMIN, tmp_path / "demo", targets).start()
        try:
            assert demo.started.wait(30), "the demo probe did not start"
            assert demo.probe_id is not None
            deadline = time.monotonic() + 40
            failures: dict[str, str | None] = {}
            while time.monotonic() < deadline and len(failures) < 10:
                time.sleep(0.5)
                failures = {f"{r['target']}/{r['family']}": r["failure"]  # type: ignore[misc]
                            for r in collector.results(demo.probe_id)}
            first_id = demo.probe_id
        finally:
            demo.stop()
        assert demo.process is not None
        assert demo.process.returncode is not None, "the probe process was left running"

        # A second demo on the same database reuses the registered probe.
        again = DemoProbe(collector.url, ADMIN, tmp_path / "demo", targets).start()
        try:
            assert again.started.wait(30)
            assert again.probe_id == first_id
        finally:
            again.stop()
    assert failures == {
        "lab-dns-ok/ipv4": None, "lab-dns-ok/ipv6": None,
        "lab-dns-nxdomain/ipv4": "dns_nxdomain_error",
        "lab-dns-silent/ipv4": "generic_timeout_error",
        "lab-dns-injected/ipv4": "dns_injection_error",
        "lab-tcp-open/ipv4": None, "lab-tcp-closed/ipv4": "connection_refused",
        "lab-tcp-reset/ipv4": "connection_reset",
        "lab-http-ok/ipv4": None, "lab-http-blocked/ipv4": "http_block_page",
    }
