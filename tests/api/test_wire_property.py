"""Property: whatever a probe uploads, it gets a 4xx, or it is stored and the detector reads it.

Hypothesis builds batches of the wire shape with hostile values in every field (years 1 to
9999 with any offset, numbers for times, NaN and Infinity, NUL characters, integers past
64 bits, unknown kinds) and posts them to the real service over a socket; every 200 is read
back with the detector's own loader (``read_back``, the one call into api.detection_store).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from collector_helpers import LiveServer, new_probe
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from cutwatch.api.detection_store import history_page, load_uploads
from cutwatch.api.settings import Settings
from cutwatch.detectors.model import Upload
from cutwatch.failures import FAILURES

EXAMPLES = 150


def read_back(url: str, after: datetime) -> list[Upload]:
    """Every upload received since ``after``, as the detector loads it."""

    async def load() -> list[Upload]:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            keys = await history_page(conn, (after, uuid.UUID(int=0)),
                                      datetime.now(UTC) + timedelta(hours=1), 100_000)
            return await load_uploads(conn, keys)

    return asyncio.run(load())


offsets = st.builds(timezone, st.timedeltas(min_value=-timedelta(hours=23, minutes=59),
                                            max_value=timedelta(hours=23, minutes=59)))
near = st.builds(lambda d, tz: (datetime.now(UTC) + d).astimezone(tz).isoformat(),
                 st.timedeltas(min_value=-timedelta(days=800), max_value=timedelta(days=800)),
                 offsets)
# Naive datetimes given an offset afterwards: st.datetimes draws wall-clock values.
anywhen = st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(), st.datetimes(), offsets)
times = st.one_of(near, near, anywhen, st.integers(-2**40, 2**40), st.floats(),
                  st.just("2026-01-01T00:00:00"), st.text(max_size=30))
numbers = st.one_of(st.floats(), st.integers(-2**70, 2**70))
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10)

results = st.fixed_dictionaries(
    {"id": st.one_of(st.uuids().map(str), st.just("not-a-uuid")),
     "kind": st.sampled_from(["dns", "tcp", "http", "gateway", "icmp", "traceroute", "smoke"]),
     "target": texts, "measured_at": times, "duration_ms": numbers, "ok": st.booleans()},
    optional={"scope": st.sampled_from(["lan", "domestic", "international", "mars", None]),
              "family": st.sampled_from(["ipv4", "ipv6", None]),
              "failure": st.sampled_from([*sorted(FAILURES), None, "cable_cut"]),
              "details": st.dictionaries(texts, json_values, max_size=4)})

batches = st.fixed_dictionaries(
    {"schema_version": st.just(1), "sent_at": times,
     "heartbeat": st.fixed_dictionaries(
         {"seq": st.integers(-1, 2**64), "spool_depth": st.integers(-1, 2**32),
          "dropped_total": st.integers(-1, 2**64)},
         optional={"started_at": st.one_of(st.none(), times),
                   "software": st.one_of(st.none(), texts)}),
     "results": st.lists(results, max_size=5)},
    optional={"clock": st.fixed_dictionaries(
        {}, optional={"synced": st.one_of(st.none(), st.booleans()),
                      "offset_ms": st.one_of(st.none(), numbers)})})


# The service's own threads (worker jitter) use the global random module while Hypothesis
# draws; Hypothesis takes that for a strategy using random and warns.
@pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning")
def test_any_batch_is_refused_or_stored_and_read_back_by_the_detector(settings: Settings) -> None:
    unlimited = settings.model_copy(update={"rate_limit_per_minute": 0})
    since = datetime.now(UTC) - timedelta(seconds=1)
    stored: dict[str, int] = {}
    statuses: set[int] = set()
    with LiveServer(unlimited, log_level="warning") as live:
        probe_id, token = new_probe(live)
        with live.client(token=token) as client:

            @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                                 suppress_health_check=[HealthCheck.too_slow,
                                                        HealthCheck.data_too_large])
            @given(batches)
            def upload(batch: dict[str, Any]) -> None:
                batch = {**batch, "batch_id": str(uuid.uuid4()), "probe_id": probe_id}
                # Python's json writes NaN and Infinity bare, as a hostile client would.
                body = json.dumps(batch).encode()
                response = client.post("/v1/batches", content=body,
                                       headers={"Content-Type": "application/json"})
                statuses.add(response.status_code)
                assert response.status_code in (200, 400, 413, 422), response.text
                answer = response.json()
                assert isinstance(answer.get("detail", ""), str)
                if response.status_code == 200:
                    assert answer["accepted"] + answer["duplicates"] + len(answer["refused"]) \
                        == len(batch["results"])
                    stored[batch["batch_id"]] = answer["accepted"]

            upload()
    # Both sides of the property were exercised.
    assert 200 in statuses
    assert 422 in statuses
    uploads = {str(u.batch.batch_id): u for u in read_back(settings.database_url, since)}
    assert set(uploads) == set(stored)
    for batch_id, accepted in stored.items():
        upload = uploads[batch_id]
        assert upload.received_at > since.timestamp()
        assert upload.batch.sent_at.tzinfo is not None
        # Every field the detector does arithmetic on is a finite, in-range value.
        assert all(r.measured_at.year >= 2000 for r in upload.batch.results)
        assert all(r.measured_at.timestamp() <= upload.received_at + 600 + 5
                   for r in upload.batch.results)
        assert len(upload.batch.results) == accepted
