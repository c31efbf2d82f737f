"""POST /v1/batches through a real uvicorn socket into a real PostgreSQL."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from collector_helpers import LiveServer, make_batch, make_result, new_probe

Request = tuple[dict[str, str], bytes]


def counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        results = conn.execute("SELECT count(*) FROM results").fetchone()
        batches = conn.execute("SELECT count(*) FROM batches").fetchone()
    assert results is not None
    assert batches is not None
    return results[0], batches[0]


def post(server: LiveServer, token: str | None, batch: dict[str, Any], *, gz: bool = False,
         headers: dict[str, str] | None = None) -> Any:
    body = json.dumps(batch).encode()
    sent = {"Content-Type": "application/json"}
    if gz:
        body = gzip.compress(body)
        sent["Content-Encoding"] = "gzip"
    sent.update(headers or {})
    with server.client(token=token) as client:
        return client.post("/v1/batches", content=body, headers=sent)


def test_same_batch_twice_is_stored_once(live: LiveServer, settings: Any) -> None:
    probe_id, token = new_probe(live)
    batch = make_batch(probe_id, results=5)
    first = post(live, token, batch, gz=True)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 5
    assert first.json()["duplicates"] == 0
    assert first.json()["batch_id"] == batch["batch_id"]
    again = post(live, token, batch, gz=True)
    assert again.status_code == 200
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 5)
    assert counts(settings.database_url) == (5, 1)


def test_a_result_repeated_in_another_batch_is_stored_once(live: LiveServer, settings: Any) -> None:
    probe_id, token = new_probe(live)
    repeated = make_result()
    first = post(live, token, make_batch(probe_id, [repeated, make_result()], seq=1))
    second = post(live, token, make_batch(probe_id, [make_result(), repeated], seq=2))
    assert (first.json()["accepted"], first.json()["duplicates"]) == (2, 0)
    assert (second.json()["accepted"], second.json()["duplicates"]) == (1, 1)
    assert counts(settings.database_url) == (3, 2)
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute("SELECT count(*) FROM results WHERE id = %s",
                            (repeated["id"],)).fetchone()
    assert rows == (1,)


def test_an_accepted_batch_updates_liveness_with_the_collector_clock(
    live: LiveServer, settings: Any
) -> None:
    probe_id, token = new_probe(live)
    before = datetime.now(UTC)
    # A probe whose clock is two hours off: received_at must not believe it.
    skewed = (before - timedelta(hours=2)).replace(microsecond=0)
    batch = make_batch(probe_id, 2, seq=41, sent_at=skewed.isoformat())
    assert post(live, token, batch).status_code == 200
    after = datetime.now(UTC)
    with psycopg.connect(settings.database_url) as conn:
        probe = conn.execute(
            "SELECT last_seen_at, last_seq, spool_depth, dropped_total, clock_synced,"
            " clock_offset_ms, software FROM probes WHERE id = %s", (probe_id,)).fetchone()
        received = conn.execute("SELECT DISTINCT received_at FROM results").fetchall()
        stored_batch = conn.execute(
            "SELECT seq, received_at, result_count, accepted_count, sent_at FROM batches"
        ).fetchone()
    assert probe is not None
    assert stored_batch is not None
    assert before <= probe[0] <= after
    assert probe[1:] == (41, 7, 2, True, -3.5, "test/1")
    assert received == [(probe[0],)]
    assert stored_batch[:4] == (41, probe[0], 2, 2)
    assert stored_batch[4] == skewed
    # An older batch retried late does not move last_seq backwards.
    assert post(live, token, make_batch(probe_id, 0, seq=40)).status_code == 200
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT last_seq FROM probes").fetchone() == (41,)


def test_an_empty_heartbeat_batch_is_accepted(live: LiveServer, settings: Any) -> None:
    probe_id, token = new_probe(live)
    response = post(live, token, make_batch(probe_id, 0))
    assert response.status_code == 200
    assert response.json()["accepted"] == 0
    assert counts(settings.database_url) == (0, 1)


def test_a_batch_id_of_another_probe_is_a_conflict(live: LiveServer, settings: Any) -> None:
    probe_a, token_a = new_probe(live)
    probe_b, token_b = new_probe(live)
    batch = make_batch(probe_a, 1)
    assert post(live, token_a, batch).status_code == 200
    stolen = make_batch(probe_b, 2, batch_id=batch["batch_id"])
    response = post(live, token_b, stolen)
    assert response.status_code == 409
    assert counts(settings.database_url) == (1, 1)


def _bomb() -> bytes:
    # 64 MiB of zeros squeeze into ~64 KiB; the server must stop inflating at its cap.
    return gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 8192):
        yield data[start:start + 8192]


# (name, how to build the request from (probe_id, other_probe_id), token choice, status, detail)
REJECTIONS: list[tuple[str, Callable[[str, str], Request], str, int, str]] = [
    ("no credentials", lambda p, o: _json(make_batch(p)), "none", 401, "missing bearer"),
    ("wrong secret", lambda p, o: _json(make_batch(p)), "wrong", 401, "invalid probe token"),
    ("malformed token", lambda p, o: _json(make_batch(p)), "garbage", 401, "malformed token"),
    ("another probe's id", lambda p, o: _json(make_batch(o)), "own", 403, "not the authenticated"),
    ("text/plain", lambda p, o: ({"Content-Type": "text/plain"},
                                 json.dumps(make_batch(p)).encode()), "own", 415, "content type"),
    ("brotli", lambda p, o: ({"Content-Type": "application/json", "Content-Encoding": "br"},
                             json.dumps(make_batch(p)).encode()), "own", 415, "encoding"),
    ("not JSON", lambda p, o: ({"Content-Type": "application/json"}, b'{"schema_version": 1,'),
     "own", 400, "malformed JSON"),
    ("gzip garbage", lambda p, o: ({"Content-Type": "application/json",
                                    "Content-Encoding": "gzip"}, b"not gzip at all"),
     "own", 400, "invalid gzip"),
    ("truncated gzip", lambda p, o: ({"Content-Type": "application/json",
                                      "Content-Encoding": "gzip"},
                                     gzip.compress(json.dumps(make_batch(p)).encode())[:-12]),
     "own", 400, "truncated gzip"),
    ("unknown field", lambda p, o: _json(make_batch(p, latitude=16.8)), "own", 422, "latitude"),
    ("counter overflow", lambda p, o: _json(make_batch(p, heartbeat={
        "seq": 2**63, "spool_depth": 0, "dropped_total": 0})), "own", 422, "out of range"),
    ("NUL in software", lambda p, o: _json(make_batch(p, heartbeat={
        "seq": 1, "spool_depth": 0, "dropped_total": 0, "software": "x\x00"})),
     "own", 422, "NUL"),
    # One bad result no longer refuses its batch: tests/api/test_admission.py.
    ("oversized plain", lambda p, o: _json(make_batch(p, 400)), "own", 413, "larger than"),
    ("gzip bomb", lambda p, o: ({"Content-Type": "application/json",
                                 "Content-Encoding": "gzip"}, _bomb()), "own", 413, "decompressed"),
]


def _json(batch: dict[str, Any], raw: tuple[bytes, bytes] = (b"", b"")) -> Request:
    """The batch as a JSON body; ``raw`` replaces bytes JSON itself cannot express."""
    body = json.dumps(batch).encode()
    return {"Content-Type": "application/json"}, body.replace(*raw) if raw[0] else body


@pytest.mark.parametrize(("name", "build", "who", "status", "detail"), REJECTIONS,
                         ids=[r[0] for r in REJECTIONS])
def test_bad_uploads_get_a_reason_and_store_nothing(
    live: LiveServer, settings: Any, name: str, build: Callable[[str, str], Request], who: str,
    status: int, detail: str,
) -> None:
    probe_id, token = new_probe(live)
    other_id, _ = new_probe(live)
    headers, body = build(probe_id, other_id)
    chosen = {"none": None, "own": token, "wrong": f"{probe_id}.{'x' * 43}",
              "garbage": "no-dot-here"}[who]
    with live.client(token=chosen) as client:
        response = client.post("/v1/batches", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert "\n" not in response.json()["detail"]
    assert counts(settings.database_url) == (0, 0)
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM probes WHERE last_seen_at IS NOT NULL"
                            ).fetchone() == (0,)


def test_a_chunked_body_without_length_is_capped_while_streaming(
    live: LiveServer, settings: Any
) -> None:
    probe_id, token = new_probe(live)
    body = json.dumps(make_batch(probe_id, 400)).encode()
    assert len(body) > settings.max_body_bytes
    with live.client(token=token) as client:
        response = client.post("/v1/batches", content=_chunks(body),
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert counts(settings.database_url) == (0, 0)


def test_a_disabled_probe_can_no_longer_upload(live: LiveServer, settings: Any) -> None:
    probe_id, token = new_probe(live)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE probes SET disabled_at = now()")
    assert post(live, token, make_batch(probe_id)).status_code == 401
    assert uuid.UUID(make_batch(probe_id)["batch_id"])  # the builder makes real UUIDs


def test_text_that_only_looks_like_an_escaped_nul_is_stored(live: LiveServer,
                                                            settings: Any) -> None:
    probe_id, token = new_probe(live)
    result = make_result(details={"raw": "\\u0000 is how JSON spells NUL"})
    assert post(live, token, make_batch(probe_id, [result])).status_code == 200
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT details->>'raw' FROM results").fetchone()
    assert row == ("\\u0000 is how JSON spells NUL",)


def test_concurrent_batches_sharing_results_store_each_once(live: LiveServer,
                                                            settings: Any) -> None:
    probe_id, token = new_probe(live)
    shared = [make_result() for _ in range(200)]
    batches = [make_batch(probe_id, shared, seq=1), make_batch(probe_id, shared[::-1], seq=2),
               make_batch(probe_id, shared[::2], seq=3), make_batch(probe_id, shared, seq=4)]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda b: post(live, token, b), batches))
    assert [a.status_code for a in answers] == [200] * 4
    assert sum(a.json()["accepted"] for a in answers) == 200
    assert counts(settings.database_url) == (200, 4)
