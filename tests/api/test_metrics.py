"""GET /metrics: Prometheus text with ingest counts and refusals, batch latency, the
detector's queue, leader and tick, and probes reporting per country (issue 10.5)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from collector_helpers import LiveServer, make_batch, new_probe
from prometheus_client.parser import text_string_to_metric_families


def _scrape(live: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with live.client() as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
           **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.detector
def test_metrics_count_uploads_refusals_and_the_detector(live: LiveServer, settings: Any) -> None:
    before = _scrape(live)
    probe_id, token = new_probe(live)
    with live.client(token=token) as client:
        assert client.post("/v1/batches", json=make_batch(probe_id, 3)).status_code == 200
        assert client.post("/v1/batches", json={"nonsense": 1}).status_code == 422
    with live.client(token=f"{probe_id}.{'x' * 43}") as client:
        assert client.post("/v1/batches", json=make_batch(probe_id, 1)).status_code == 401
    with live.client(token=token) as client:  # refused by the size limit, before any route
        too_big = b"x" * (settings.max_body_bytes + 1)
        assert client.post("/v1/batches", content=too_big,
                           headers={"Content-Type": "application/json"}).status_code == 413
    deadline = time.monotonic() + 30
    while True:  # the detector (a child process) takes the batch off the queue
        after = _scrape(live)
        if _value(after, "cutwatch_detector_queue_batches") == 0 and any(
                name == "cutwatch_detector_leader_info" for name, _ in after):
            break
        assert time.monotonic() < deadline, "the detector never fed the batch"
        time.sleep(0.05)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("cutwatch_ingest_batches_total", outcome="new") == 1
    assert delta("cutwatch_ingest_results_total", outcome="accepted") == 3
    assert delta("cutwatch_ingest_rejects_total", reason="invalid") == 1
    assert delta("cutwatch_ingest_rejects_total", reason="unauthenticated") == 1
    assert delta("cutwatch_ingest_rejects_total", reason="too_large") == 1
    assert delta("cutwatch_ingest_batch_seconds_count") == 4
    assert _value(after, "cutwatch_probes_reporting", country="MM") == 1
    leaders = [labels for (name, labels), v in after.items()
               if name == "cutwatch_detector_leader_info" and v == 1]
    assert len(leaders) == 1
    assert _value(after, "cutwatch_detector_last_step_age_seconds") < 30
    assert _value(after, "cutwatch_detector_last_tick_seconds") > 0
    # no probe id or address in any label: only reasons, outcomes, countries, leader names
    assert probe_id not in str(after)
    assert "127.0.0.7" not in str(after)
