"""What a probe sends cannot hurt anyone else: every time field bounded and normalised, every
value PostgreSQL or the detector cannot hold refused, and one bad result refused alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from collector_helpers import LiveServer, make_batch, make_result, new_probe
from test_ingest import counts

HB = {"seq": 1, "spool_depth": 0, "dropped_total": 0}


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


# (name, batch overrides, detail): the batch itself is refused (422) and nothing stored.
BATCH_REFUSALS: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
    ("sent_at year 1 with an offset", lambda: {"sent_at": "0001-01-01T00:00:00+01:00"},
     "sent_at: Value error, year must be between 2000 and 2199"),
    ("sent_at year 9999", lambda: {"sent_at": "9999-12-31T23:59:59-01:00"}, "sent_at: Value"),
    ("sent_at as a number", lambda: {"sent_at": 0}, "sent_at: Value error, must be an RFC 3339"),
    ("sent_at as a big number", lambda: {"sent_at": 1_800_000_000},
     "sent_at: Value error, must be an RFC 3339"),
    ("sent_at two years ago", lambda: {"sent_at": _iso(-timedelta(days=730))},
     "sent_at: more than 366 days before"),
    ("sent_at two years ahead", lambda: {"sent_at": _iso(timedelta(days=730))},
     "sent_at: more than 366 days after"),
    ("started_at year 1 with an offset", lambda: {"heartbeat": {
        **HB, "started_at": "0001-01-01T00:00:00+01:00"}}, "heartbeat.started_at: Value error"),
    ("started_at year 9999", lambda: {"heartbeat": {
        **HB, "started_at": "9999-12-31T00:00:00Z"}}, "heartbeat.started_at: Value error"),
    ("started_at as a number", lambda: {"heartbeat": {**HB, "started_at": 0}},
     "heartbeat.started_at: Value error, must be an RFC 3339"),
    ("started_at two years ago", lambda: {"heartbeat": {
        **HB, "started_at": _iso(-timedelta(days=730))}}, "heartbeat.started_at: more than"),
    ("offset_ms NaN", lambda: {"clock": {"offset_ms": "__NaN__"}},
     "clock.offset_ms: Input should be a finite number"),
    ("offset_ms Infinity", lambda: {"clock": {"offset_ms": "__Infinity__"}},
     "clock.offset_ms: Input should be a finite number"),
    ("offset_ms -Infinity", lambda: {"clock": {"offset_ms": "__-Infinity__"}},
     "clock.offset_ms: Input should be a finite number"),
    ("offset_ms beyond a year", lambda: {"clock": {"offset_ms": 1e300}}, "clock.offset_ms"),
    ("spool_depth beyond integer", lambda: {"heartbeat": {**HB, "spool_depth": 2**31}},
     "heartbeat.spool_depth: out of range"),
    ("dropped_total beyond bigint", lambda: {"heartbeat": {**HB, "dropped_total": 2**63}},
     "heartbeat.dropped_total: out of range"),
    ("results not a list", lambda: {"results": {"0": make_result()}}, "results: Input should"),
]


def _body(batch: dict[str, Any]) -> bytes:
    """JSON with the bare NaN/Infinity tokens a hostile client can send."""
    text = json.dumps(batch)
    for token in ("NaN", "Infinity", "-Infinity"):
        text = text.replace(f'"__{token}__"', token)
    return text.encode()


def _send(live: LiveServer, token: str, body: bytes) -> Any:
    with live.client(token=token) as client:
        return client.post("/v1/batches", content=body,
                           headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(("name", "overrides", "detail"), BATCH_REFUSALS,
                         ids=[r[0] for r in BATCH_REFUSALS])
def test_a_batch_out_of_bounds_is_refused_whole(
    live: LiveServer, settings: Any, name: str, overrides: Callable[[], dict[str, Any]],
    detail: str,
) -> None:
    probe_id, token = new_probe(live)
    response = _send(live, token, _body({**make_batch(probe_id, 2), **overrides()}))
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(detail), response.json()
    assert "\n" not in response.json()["detail"]
    assert counts(settings.database_url) == (0, 0)
    # Positive control: the same probe's well-formed batch goes through.
    assert _send(live, token, _body(make_batch(probe_id, 2))).status_code == 200


# (name, result overrides, detail): that result is refused, its neighbours are stored.
RESULT_REFUSALS: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
    ("measured_at year 1 with an offset", lambda: {"measured_at": "0001-01-01T00:00:00+01:00"},
     "measured_at: Value error, year must be between 2000 and 2199"),
    ("measured_at year 9999", lambda: {"measured_at": "9999-12-31T23:59:59Z"},
     "measured_at: Value error"),
    ("measured_at as a number", lambda: {"measured_at": 1_800_000_000}, "measured_at: Value"),
    ("measured_at two years ago", lambda: {"measured_at": _iso(-timedelta(days=730))},
     "measured_at: more than 366 days before"),
    ("measured_at an hour ahead", lambda: {"measured_at": _iso(timedelta(hours=1))},
     "measured_at: more than 600 s after"),
    ("naive measured_at", lambda: {"measured_at": "2026-01-01T00:00:00"}, "measured_at"),
    ("duration NaN", lambda: {"duration_ms": "__NaN__"}, "duration_ms: Input should be a finite"),
    ("duration Infinity", lambda: {"duration_ms": "__Infinity__"}, "duration_ms"),
    ("unknown failure", lambda: {"failure": "cable_cut"}, "failure: Input should be"),
    ("NUL in target", lambda: {"target": "a\x00b"}, "target: NUL characters"),
    ("NUL in details", lambda: {"details": {"x": "\x00"}}, "details: NUL characters"),
    ("NUL in a details key", lambda: {"details": {"a\x00": 1}}, "details: NUL characters"),
    ("NaN in details", lambda: {"details": {"rtt_ms": "__NaN__"}}, "details: number out of"),
    ("Infinity in details", lambda: {"details": {"rtt_ms": "__Infinity__"}}, "details: number"),
    ("unknown kind", lambda: {"kind": "smoke-signal"}, "kind: Input should be"),
    ("not an object", lambda: {"__whole__": 42}, "Input should be a valid dictionary"),
]


@pytest.mark.parametrize(("name", "overrides", "detail"), RESULT_REFUSALS,
                         ids=[r[0] for r in RESULT_REFUSALS])
def test_one_bad_result_is_refused_alone(
    live: LiveServer, settings: Any, name: str, overrides: Callable[[], dict[str, Any]],
    detail: str,
) -> None:
    probe_id, token = new_probe(live)
    changes = overrides()
    bad: Any = changes["__whole__"] if "__whole__" in changes else make_result(**changes)
    good = [make_result(), make_result()]
    batch = make_batch(probe_id, [good[0], bad, good[1]])
    response = _send(live, token, _body(batch))
    assert response.status_code == 200, response.text
    ack = response.json()
    assert (ack["accepted"], ack["duplicates"]) == (2, 0)
    assert len(ack["refused"]) == 1
    refused = ack["refused"][0]
    assert refused["index"] == 1
    assert refused["id"] == (bad["id"] if isinstance(bad, dict) else None)
    assert refused["detail"].startswith(f"results.1.{detail}"), refused
    assert counts(settings.database_url) == (2, 1)
    with psycopg.connect(settings.database_url) as conn:
        stored = {str(r[0]) for r in conn.execute("SELECT id FROM results").fetchall()}
        row = conn.execute("SELECT result_count, accepted_count, refused_count FROM batches"
                           ).fetchone()
    assert stored == {good[0]["id"], good[1]["id"]}
    assert row == (2, 2, 1)
    # The same batch retried (its answer lost) is the same batch: no 409, nothing twice.
    again = _send(live, token, _body(batch))
    assert again.status_code == 200, again.text
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    assert len(again.json()["refused"]) == 1


def test_times_within_bounds_are_stored_in_utc(live: LiveServer, settings: Any) -> None:
    probe_id, token = new_probe(live)
    yangon = timezone_of(6, 30)
    measured = (datetime.now(UTC) - timedelta(days=300)).replace(microsecond=0)
    ahead = (datetime.now(UTC) + timedelta(seconds=300)).replace(microsecond=0)
    started = (datetime.now(UTC) - timedelta(days=20)).replace(microsecond=0)
    sent = (datetime.now(UTC) - timedelta(hours=5)).replace(microsecond=0)
    batch = make_batch(
        probe_id,
        [make_result(measured_at=measured.astimezone(yangon).isoformat()),
         make_result(measured_at=ahead.astimezone(yangon).isoformat())],
        sent_at=sent.astimezone(timezone_of(-3, 0)).isoformat(),
        heartbeat={**HB, "started_at": started.astimezone(yangon).isoformat()},
    )
    response = _send(live, token, _body(batch))
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["refused"]) == (2, [])
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("SET timezone = 'Asia/Yangon'")
        measured_rows = conn.execute(
            "SELECT (measured_at AT TIME ZONE 'UTC')::text FROM results ORDER BY measured_at"
        ).fetchall()
        times = conn.execute("SELECT sent_at, started_at FROM batches").fetchone()
    assert [r[0] for r in measured_rows] == [
        measured.replace(tzinfo=None).isoformat(" "), ahead.replace(tzinfo=None).isoformat(" ")]
    assert times == (sent, started)


def timezone_of(hours: int, minutes: int) -> Any:
    from datetime import timezone

    sign = 1 if hours >= 0 else -1
    return timezone(sign * timedelta(hours=abs(hours), minutes=minutes))


def test_a_reused_batch_id_with_other_results_is_a_conflict(
    live: LiveServer, settings: Any
) -> None:
    probe_id, token = new_probe(live)
    first = make_batch(probe_id, 2)
    assert _send(live, token, _body(first)).status_code == 200
    reused = {**first, "results": [make_result(), make_result(), make_result()]}
    response = _send(live, token, _body(reused))
    assert response.status_code == 409, response.text
    assert "batch_id already used for other results" in response.json()["detail"]
    # The first batch stays as stored; its retry is still fine.
    assert counts(settings.database_url) == (2, 1)
    assert _send(live, token, _body(first)).status_code == 200


def test_a_lone_surrogate_is_malformed_json(live: LiveServer, settings: Any) -> None:
    # RFC 8259 leaves unpaired surrogates undefined; PostgreSQL cannot store them.
    probe_id, token = new_probe(live)
    response = _send(live, token, _body(make_batch(probe_id, [make_result(target="a\udc00")])))
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith("malformed JSON: lone")
    assert counts(settings.database_url) == (0, 0)


def test_text_checks_cover_what_json_parsing_lets_through() -> None:
    # Batches built in Python (the probe, replay) skip the JSON parser's surrogate check.
    from cutwatch.api.admission import text_problem

    assert text_problem("fine") is None
    assert text_problem("a\x00") == "NUL characters are not allowed"
    assert text_problem("a\udc00") == "not valid Unicode (unpaired surrogate)"
