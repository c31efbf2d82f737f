"""Sends the spool to the collector: gzip batches, same ``batch_id`` on every retry, delete on ack.

One round: if a batch is open (sent before, not acknowledged — perhaps before a crash) it is
resent unchanged; otherwise the next batch is built from the spool (fresh results first, then
the backlog oldest first) and stored *before* it is sent. Collector URLs are tried in order.
- 2xx: the results are deleted, the clock offset recorded, the next batch follows; results
  the ack lists as refused are dropped with them (logged), the rest were stored;
- 5xx, 408, 429, connection errors: the next URL, then exponential backoff with jitter;
- 413: the batch is released and the batch size halved;
- other 4xx: the batch will never be accepted; its results are dropped and counted, except for
  401/403, where the probe keeps everything and waits for the volunteer to fix credentials.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from cutwatch import __version__
from cutwatch.probes.clock import offset_ms
from cutwatch.probes.records import batch_json, parse_ack
from cutwatch.probes.spool import OpenBatch, Spool

log = logging.getLogger(__name__)

KEEP_ON = {401, 403}  # credentials problem: keep the data, retry slowly
RETRY_ON = {408, 429}


@dataclass(frozen=True)
class Round:
    """What one upload round did, for the loop's backoff and for tests."""

    sent: int = 0  # batches acknowledged
    results: int = 0
    error: str | None = None
    wait_long: bool = False  # a credentials problem: back off to the maximum
    more: bool = False  # stopped at the round's batch limit with a backlog left


class Uploader:
    def __init__(self, spool: Spool, client: httpx.Client, *, collectors: tuple[str, ...],
                 probe_id: str, token: str, batch_size: int = 500, fresh_per_batch: int = 100,
                 started_at: datetime | None = None, clock_synced: Callable[[], bool | None]
                 = lambda: None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.spool = spool
        self.client = client
        self.collectors = collectors
        self.probe_id = probe_id
        self.headers = {"Authorization": f"Bearer {token}", "Content-Encoding": "gzip",
                        "Content-Type": "application/json"}
        self.batch_size = batch_size
        self.fresh = fresh_per_batch
        self.started_at = started_at
        self.clock_synced = clock_synced
        self.now = now

    async def upload(self, max_batches: int = 20) -> Round:
        """Send until the spool is empty, a batch fails, or ``max_batches`` were sent."""
        sent = results = 0
        for _ in range(max_batches):
            batch = self.spool.open_batch() or self._next_batch()
            outcome = await self._send(batch)
            if outcome.error is not None:
                return Round(sent, results, outcome.error, outcome.wait_long)
            sent, results = sent + 1, results + batch.result_count
            if self.spool.pending() == 0:
                return Round(sent, results)
        return Round(sent, results, more=True)

    def _next_batch(self) -> OpenBatch:
        reserved = self.spool.reserve(self.batch_size, self.fresh)
        seq = self.spool.counter("batch_seq") + 1
        batch_id = uuid.uuid4()
        text = batch_json(
            batch_id=batch_id, probe_id=self.probe_id, sent_at=self.now(),
            synced=self.clock_synced(), offset_ms=self.spool.number("clock_offset_ms"),
            seq=seq, spool_depth=self.spool.pending() - len(reserved),
            dropped_total=self.spool.counter("dropped_total"), started_at=self.started_at,
            software=f"cutwatch/{__version__}", results=[result for _, result in reserved])
        body = gzip.compress(text.encode(), compresslevel=9, mtime=0)
        stored = OpenBatch(str(batch_id), seq, len(reserved), body)
        self.spool.store_batch(stored, [s for s, _ in reserved])
        return stored

    async def _send(self, batch: OpenBatch) -> Round:
        errors = []
        for base in self.collectors:
            sent_at = self.now()
            try:
                # A blocking client in a worker thread: see probes.checks.http for why.
                response = await asyncio.to_thread(
                    self.client.post, f"{base}/v1/batches", content=batch.body,
                    headers=self.headers)
            except httpx.HTTPError as exc:
                errors.append(f"{base}: {type(exc).__name__}: {exc}"[:200])
                continue
            size = len(batch.body)
            if response.is_success:
                ack = parse_ack(response.content)
                if ack is None or ack.batch_id != batch.batch_id:
                    # A captive portal or a proxy answering 200: not an acknowledgement.
                    errors.append(f"{base}: HTTP {response.status_code} but no ack of this "
                                  "batch (captive portal or proxy?)")
                    self.spool.record_failure(errors[-1], size)
                    continue
                offset = offset_ms(sent_at, self.now(), ack.server_time)
                self.spool.acknowledge(batch.batch_id, size, offset)
                log.info("batch %s seq %d: %d results accepted, %d duplicates", batch.batch_id,
                         batch.seq, ack.accepted, ack.duplicates)
                if ack.refused:
                    # Refused for good (the rest is stored): the ack drops them with the batch.
                    log.warning("batch %s: collector refused %d results, dropped (first: %s)",
                                batch.batch_id, len(ack.refused), ack.refused[0][:200])
                return Round()
            detail = detail_of(response)
            if response.status_code >= 500 or response.status_code in RETRY_ON:
                errors.append(f"{base}: HTTP {response.status_code} {detail}")
                self.spool.record_failure(errors[-1], size)
                continue
            if response.status_code in KEEP_ON:
                error = f"{base}: HTTP {response.status_code} {detail} (check credentials)"
                self.spool.record_failure(error, size)
                return Round(error=error, wait_long=True)
            if response.status_code == 413 and self.batch_size > 1:
                self.batch_size //= 2
                self.spool.discard_batch(batch.batch_id, drop=False, sent_bytes=size)
            else:
                log.error("collector refused batch %s for good: HTTP %d %s; dropping %d "
                          "results", batch.batch_id, response.status_code, detail,
                          batch.result_count)
                self.spool.discard_batch(batch.batch_id, drop=True, sent_bytes=size)
            error = f"{base}: HTTP {response.status_code} {detail}"
            self.spool.record_failure(error)
            return Round(error=error)
        error = "; ".join(errors) or "no collector configured"
        self.spool.record_failure(error)
        return Round(error=error)


def detail_of(response: httpx.Response) -> str:
    """The collector's one-line ``detail``, or the start of whatever else answered (a proxy's
    page, JSON of another shape)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:200]
    return response.text[:200]
