"""The upload path's economy (one token lookup, results as binary arrays) keeps every value
and every refusal: real uvicorn socket, real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from collector_helpers import LiveServer, make_batch, make_result, new_probe

from cutwatch.api import auth


def post(server: LiveServer, token: str, batch: dict[str, Any]) -> Any:
    with server.client(token=token) as client:
        return client.post("/v1/batches", content=json.dumps(batch).encode(),
                           headers={"Content-Type": "application/json"})


def test_an_upload_looks_the_probe_token_up_once(live: LiveServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The limits middleware verifies the token before the body is read; the route reuses
    that probe instead of a second query on a second pooled connection."""
    probe_id, token = new_probe(live)
    calls: list[str] = []
    original = auth.token_holder

    async def counting(request: Any, query: str) -> Any:
        calls.append(query)
        return await original(request, query)

    monkeypatch.setattr(auth, "token_holder", counting)
    answer = post(live, token, make_batch(probe_id, 2))
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
    assert calls == []
    # A wrong secret is still refused before anything is stored.
    wrong = post(live, f"{probe_id}.not-the-secret", make_batch(probe_id, 1, seq=2))
    assert wrong.status_code == 401


def test_stored_rows_are_the_uploaded_results(live: LiveServer, settings: Any) -> None:
    probe_id, token = new_probe(live)
    at = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=123456)
    results = [
        make_result(details={"quote": 'a "b" \\ c', "unicode": "Bagó ✓ 日本",
                             "nested": [1, [2.5, None], {"x": True}], "big": 2**62},
                    measured_at=at.isoformat(), duration_ms=0.125, ok=True, failure=None),
        make_result(scope=None, family=None, details={}, kind="gateway", target="t,{}\"'",
                    measured_at=(at + timedelta(seconds=1)).isoformat()),
    ]
    answer = post(live, token, make_batch(probe_id, results))
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT id, kind, target, scope, family, measured_at, duration_ms, ok, failure,"
            " details FROM results WHERE probe_id = %s ORDER BY measured_at", (probe_id,),
        ).fetchall()
        accepted = conn.execute("SELECT accepted_count FROM batches WHERE probe_id = %s",
                                (probe_id,)).fetchone()
    assert accepted == (2,)
    assert [
        (str(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]) for r in rows
    ] == [
        (r["id"], r["kind"], r["target"], r["scope"], r["family"],
         datetime.fromisoformat(r["measured_at"]), r["duration_ms"], r["ok"], r["failure"],
         r["details"]) for r in results
    ]


def test_a_batch_id_taken_by_another_probe_stores_none_of_its_results(
    live: LiveServer, settings: Any
) -> None:
    """The results go in before the batch row; a 409 must take them back out."""
    first_id, first_token = new_probe(live)
    other_id, other_token = new_probe(live)
    batch_id = str(uuid.uuid4())
    assert post(live, first_token, make_batch(first_id, 2, batch_id=batch_id)).status_code == 200
    taken = post(live, other_token, make_batch(other_id, 3, batch_id=batch_id))
    assert taken.status_code == 409
    assert "another probe" in taken.json()["detail"]
    with psycopg.connect(settings.database_url) as conn:
        stored = conn.execute("SELECT probe_id, count(*) FROM results GROUP BY probe_id"
                              ).fetchall()
    assert stored == [(first_id, 2)]
