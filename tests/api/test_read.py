"""Read API: the public probe list and a probe's results over a validated, paged window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from collector_helpers import ADMIN_TOKEN, LiveServer, make_batch, make_result, new_probe

PUBLIC_FIELDS = {"id", "name", "country", "subdivision", "city", "access", "asn",
                 "network_mismatch", "registered_at", "last_seen_at", "status", "operator",
                 "approved"}


def test_probe_list_shows_public_fields_and_live_or_silent(live: LiveServer, settings: Any) -> None:
    # The operator's view: every field of every probe (the public one: test_publish.py).
    quiet_id, _ = new_probe(live, name="quiet")
    busy_id, token = new_probe(live, name="busy", city="Yangon", subdivision="MM-06")
    with live.client(token=token) as client:
        assert client.post("/v1/batches", json=make_batch(busy_id, 1)).status_code == 200
    with live.client(token=ADMIN_TOKEN) as client:
        listed = {p["id"]: p for p in client.get("/v1/probes").json()}
    assert set(listed) == {quiet_id, busy_id}
    assert all(set(p) == PUBLIC_FIELDS for p in listed.values())
    assert (listed[busy_id]["status"], listed[quiet_id]["status"]) == ("live", "silent")
    assert listed[busy_id]["city"] == "Yangon"
    assert listed[quiet_id]["last_seen_at"] is None
    # Silent again once the last batch is older than the configured silence.
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE probes SET last_seen_at = now() - interval '11 minutes'")
    with live.client(token=ADMIN_TOKEN) as client:
        assert {p["status"] for p in client.get("/v1/probes").json()} == {"silent"}


def _stored(live: LiveServer) -> tuple[str, list[dict[str, Any]], datetime]:
    probe_id, token = new_probe(live)
    # Companions in its country, so that its results may be published (api.publish).
    for _ in range(live.settings.min_publishable_probes - 1):
        new_probe(live)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    results = [
        make_result(measured_at=(base + timedelta(minutes=i)).isoformat(),
                    kind="tcp" if i % 3 == 0 else "dns", target=f"t{i}")
        for i in range(30)
    ]
    with live.client(token=token) as client:
        assert client.post("/v1/batches", json=make_batch(probe_id, results)).status_code == 200
    return probe_id, results, base


def test_results_in_a_window_filtered_by_kind(live: LiveServer) -> None:
    probe_id, _, base = _stored(live)
    since, until = base + timedelta(minutes=5), base + timedelta(minutes=20)
    with live.client() as client:
        page = client.get(f"/v1/probes/{probe_id}/results",
                          params={"since": since.isoformat(), "until": until.isoformat(),
                                  "kind": "tcp"}).json()
    assert [r["target"] for r in page["results"]] == ["t6", "t9", "t12", "t15", "t18"]
    first = page["results"][0]
    assert first["details"] == {"rcode": 3, "qname": "example.test."}
    assert first["failure"] == "dns_nxdomain_error"
    assert page["next_cursor"] is None
    # Default window: the last 24 hours, everything here.
    with live.client() as client:
        everything = client.get(f"/v1/probes/{probe_id}/results").json()
    assert len(everything["results"]) == 30


def test_results_page_through_without_gaps_or_repeats(live: LiveServer) -> None:
    probe_id, results, _ = _stored(live)
    seen: list[str] = []
    cursor = None
    with live.client() as client:
        for _ in range(10):
            params: dict[str, Any] = {"limit": 7}
            if cursor:
                params["cursor"] = cursor
            page = client.get(f"/v1/probes/{probe_id}/results", params=params).json()
            seen += [r["id"] for r in page["results"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert seen == [r["id"] for r in results]


@pytest.mark.parametrize(("params", "status", "detail"), [
    ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, 422, "before until"),
    ({"since": "2025-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, 422, "longer than"),
    ({"since": "yesterday"}, 422, "since"),
    ({"since": "2026-01-01T00:00:00"}, 422, "since"),
    ({"kind": "smoke-signal"}, 422, "kind"),
    ({"limit": 0}, 422, "limit"),
    ({"limit": 10_001}, 422, "limit"),
    ({"cursor": "!!!"}, 422, "cursor"),
])
def test_bad_result_queries_get_a_reason(live: LiveServer, params: dict[str, Any], status: int,
                                         detail: str) -> None:
    probe_id, _ = new_probe(live)
    with live.client() as client:
        response = client.get(f"/v1/probes/{probe_id}/results", params=params)
    assert response.status_code == status
    assert detail in response.json()["detail"]


def test_results_of_an_unknown_probe_are_404(live: LiveServer) -> None:
    with live.client() as client:
        response = client.get("/v1/probes/p-nobody/results")
    assert response.status_code == 404
    assert response.json() == {"detail": "no such probe"}


def test_hourly_rollup_view_runs_on_plain_postgresql(live: LiveServer, settings: Any) -> None:
    probe_id, results, _ = _stored(live)
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute("SELECT sum(total), sum(ok_count), count(DISTINCT bucket)"
                            " FROM results_hourly WHERE probe_id = %s", (probe_id,)).fetchone()
    assert rows is not None
    assert rows[:2] == (len(results), 0)
    assert rows[2] in (1, 2, 3)  # 30 minutes starting anywhere in an hour
