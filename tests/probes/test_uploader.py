"""Uploader error paths a real collector cannot produce on demand (httpx MockTransport)."""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from probe_results import result

from cutwatch.probes.clock import clock_synced
from cutwatch.probes.spool import Spool
from cutwatch.probes.uploader import Round, Uploader

pytestmark = pytest.mark.anyio
Handler = Callable[[httpx.Request], httpx.Response]


def ack(request: httpx.Request, skew_s: float = 0) -> httpx.Response:
    batch = json.loads(gzip.decompress(request.content))
    return httpx.Response(200, json={
        "batch_id": batch["batch_id"], "accepted": len(batch["results"]), "duplicates": 0,
        "server_time": (datetime.now(UTC) - timedelta(seconds=skew_s)).isoformat()})


async def upload(tmp_path: Path, handler: Handler, n: int = 5, batch_size: int = 500
                 ) -> tuple[Round, Spool, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    spool = Spool(tmp_path / "s.db")
    for i in range(n):
        spool.add(result(i))
    with httpx.Client(transport=httpx.MockTransport(record)) as client:
        uploader = Uploader(spool, client, collectors=("http://a", "http://b"), probe_id="p-1",
                            token="p-1.secret", batch_size=batch_size)
        outcome = await uploader.upload()
    return outcome, spool, seen


async def test_ack_deletes_and_records_offset_and_heartbeat(tmp_path: Path) -> None:
    _outcome, spool, seen = await upload(tmp_path, lambda r: ack(r, skew_s=-2))
    body = json.loads(gzip.decompress(seen[0].content))
    assert seen[0].headers["content-encoding"] == "gzip"
    assert seen[0].headers["authorization"] == "Bearer p-1.secret"
    assert body["heartbeat"]["seq"] == 1
    assert body["heartbeat"]["spool_depth"] == 0
    assert len(body["results"]) == 5
    assert spool.depth() == 0
    offset = spool.number("clock_offset_ms")
    assert offset is not None
    assert -2500 < offset < -1500  # the collector's clock is 2 s ahead


async def test_5xx_tries_next_url_then_keeps_everything(tmp_path: Path) -> None:
    outcome, spool, seen = await upload(tmp_path, lambda r: httpx.Response(503, json={
        "detail": "database unavailable"}))
    assert [str(r.url) for r in seen] == ["http://a/v1/batches", "http://b/v1/batches"]
    assert seen[0].content == seen[1].content  # the same batch, byte for byte
    assert outcome.error is not None
    assert "HTTP 503 database unavailable" in outcome.error
    assert (spool.depth(), spool.pending()) == (5, 0)
    assert spool.open_batch() is not None
    assert spool.meta("last_upload_error") is not None


async def test_second_url_takes_over(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "a":
            raise httpx.ConnectError("unreachable")
        return ack(request)

    outcome, spool, _seen = await upload(tmp_path, handler)
    assert outcome.error is None
    assert spool.depth() == 0


async def test_401_keeps_data_and_asks_to_wait_long(tmp_path: Path) -> None:
    outcome, spool, _ = await upload(tmp_path, lambda r: httpx.Response(
        401, json={"detail": "invalid probe token"}))
    assert outcome.wait_long is True
    assert spool.depth() == 5
    assert spool.counter("dropped_total") == 0


async def test_422_drops_the_batch_counted(tmp_path: Path) -> None:
    _outcome, spool, seen = await upload(tmp_path, lambda r: httpx.Response(
        422, json={"detail": "results.0.kind: bad"}))
    assert len(seen) == 1  # never retried
    assert (spool.depth(), spool.counter("dropped_total")) == (0, 5)


async def test_413_halves_the_batch_and_releases_results(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        batch = json.loads(gzip.decompress(request.content))
        return httpx.Response(413, json={"detail": "too big"}) if len(
            batch["results"]) > 2 else ack(request)

    outcome, spool, _seen = await upload(tmp_path, handler, n=8, batch_size=4)
    assert outcome.error is not None
    assert (spool.depth(), spool.counter("dropped_total")) == (8, 0)
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        uploader = Uploader(spool, client, collectors=("http://a",), probe_id="p-1",
                            token="p-1.secret", batch_size=2)
        again = await uploader.upload()
    assert (again.error, again.sent, spool.depth()) == (None, 4, 0)


async def test_round_limit_reports_a_backlog_left(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    for i in range(5):
        spool.add(result(i))
    with httpx.Client(transport=httpx.MockTransport(ack)) as client:
        uploader = Uploader(spool, client, collectors=("http://a",), probe_id="p-1",
                            token="p-1.secret", batch_size=2, fresh_per_batch=1)
        first = await uploader.upload(max_batches=2)
        second = await uploader.upload(max_batches=2)
    assert (first.sent, first.results, first.more) == (2, 4, True)
    assert (second.sent, second.results, second.more, spool.depth()) == (1, 1, False, 0)


async def test_captive_portal_200_is_not_an_ack(tmp_path: Path) -> None:
    portal = "<html><body>Please log in to the hotel Wi-Fi</body></html>"
    outcome, spool, seen = await upload(tmp_path, lambda r: httpx.Response(200, text=portal))
    assert len(seen) == 2  # both URLs tried, the same batch
    assert outcome.error is not None
    assert "no ack of this batch" in outcome.error
    assert (spool.depth(), spool.counter("dropped_total")) == (5, 0)
    assert spool.open_batch() is not None


@pytest.mark.skipif(sys.platform != "linux", reason="adjtimex is Linux's")
def test_clock_synced_asks_the_kernel() -> None:
    # None would mean the call never reached adjtimex(): every batch would say "unknown".
    assert clock_synced() in (True, False)


async def test_a_refusal_in_json_of_another_shape_is_still_reported(tmp_path: Path) -> None:
    # A proxy's JSON array has no .get(): the round must still end with the refusal in words.
    outcome, spool, _ = await upload(tmp_path, lambda r: httpx.Response(400, json=["nope"]))
    assert outcome.error == 'http://a: HTTP 400 ["nope"]'
    assert spool.counter("dropped_total") == 5
