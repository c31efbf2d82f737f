"""A real probe uploader against the real collector: one result the collector refuses costs
only that result; the rest is stored and the spool is emptied (nothing resent forever)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from collector_helpers import LiveServer, new_probe
from test_ingest import counts

from cutwatch.probes.records import Result
from cutwatch.probes.spool import Spool
from cutwatch.probes.uploader import Uploader

pytestmark = pytest.mark.anyio


def result(ahead: timedelta = timedelta(0)) -> Result:
    return Result(id=uuid.uuid4(), kind="tcp", target="t", scope="domestic", family="ipv4",
                  measured_at=datetime.now(UTC) - timedelta(seconds=5) + ahead,
                  duration_ms=12.5, ok=True)


async def test_the_probe_drops_only_the_refused_result(
    live: LiveServer, settings: object, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    probe_id, token = new_probe(live)
    spool = Spool(tmp_path / "spool.db")
    # A probe clock two hours fast for one measurement: past the collector's tolerance.
    for item in (result(), result(ahead=timedelta(hours=2)), result()):
        spool.add(item)
    with httpx.Client(timeout=30) as client, caplog.at_level(logging.WARNING):
        uploader = Uploader(spool, client, collectors=(live.url,), probe_id=probe_id,
                            token=token)
        outcome = await uploader.upload()
    assert outcome.error is None
    assert (outcome.sent, spool.depth()) == (1, 0)
    assert counts(live.settings.database_url or "") == (2, 1)
    assert any("collector refused 1 results, dropped" in r.getMessage()
               and "measured_at: more than 600 s after" in r.getMessage()
               for r in caplog.records)
