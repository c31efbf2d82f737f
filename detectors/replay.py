"""Replay: read a stream (JSON Lines, docs/events.md format), drive the engine on its clock.

The clock is each upload's ``received_at``; the engine is evaluated every
``eval_interval_s`` of replay time and once more at ``until`` (default: the last line).
A bad line stops the replay with one error naming its line number, unless ``skip_bad``.
A batch a probe sent again (its ack was lost) is fed once, as the collector stores it once.
Uploads up to ``REORDER_WINDOW_S`` out of received_at order (a stream merged from several
replicas' logs) are put back in order before the engine sees them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from cutwatch.detectors.engine import Engine
from cutwatch.detectors.model import ProbeInfo, Transition, Upload
from cutwatch.detectors.params import Params
from cutwatch.wire import Access, Batch

RETRY_DEPTH: Final = 4  # batch ids remembered per probe to recognise a retried upload
REORDER_WINDOW_S: Final = 60.0  # how far out of received_at order an upload may arrive


class ReplayError(ValueError):
    """A line of the stream could not be read; the message names the line."""


class ProbeRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    id: str = Field(min_length=1, max_length=64)
    country: str | None = None
    subdivision: str | None = None
    city: str | None = None
    asn: int | None = None
    access: Access | None = None
    operator: str | None = Field(default=None, min_length=1, max_length=200)
    collector_abroad: bool = True


class ProbeLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["probe"]
    probe: ProbeRecord


class UploadLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["upload"]
    received_at: AwareDatetime
    batch: Batch


LINE: TypeAdapter[ProbeLine | UploadLine] = TypeAdapter(
    Annotated[ProbeLine | UploadLine, Field(discriminator="type")]
)


def parse_line(text: str, number: int) -> ProbeLine | UploadLine:
    try:
        return LINE.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = list(first["loc"])
        if loc and loc[0] in ("upload", "probe"):  # the union's tag, not a field
            loc = loc[1:]
        where = ".".join(str(p) for p in loc)
        raise ReplayError(f"line {number}: {where}: {first['msg']}" if where
                          else f"line {number}: {first['msg']}") from None


def probe_info(record: ProbeRecord) -> ProbeInfo:
    return ProbeInfo(record.id, record.country, record.subdivision, record.city, record.asn,
                     record.access, record.operator, record.collector_abroad)


def replay(lines: Iterable[str], params: Params | None = None, until: float | None = None,
           on_bad: Callable[[ReplayError], None] | None = None,
           engine: Engine | None = None) -> Iterator[Transition]:
    """Transitions of the stream, in order. ``on_bad`` receives skipped lines' errors."""
    engine = engine or Engine(params)
    items = _in_order(_items(lines, on_bad))
    yield from drive(engine, items, until)


def _items(lines: Iterable[str], on_bad: Callable[[ReplayError], None] | None,
           ) -> Iterator[ProbeInfo | Upload]:
    recent: dict[str, tuple[UUID, ...]] = {}  # probe -> its last batch ids
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            item = parse_line(text, number)
        except ReplayError as exc:
            if on_bad is None:
                raise
            on_bad(exc)
            continue
        if isinstance(item, ProbeLine):
            yield probe_info(item.probe)
            continue
        batch = item.batch
        latest = recent.get(batch.probe_id, ())
        if batch.batch_id in latest:
            # a retry whose first ack was lost: the collector stored it once (accepted=0),
            # and the online detector reads it once; a probe retries its latest batches only
            continue
        recent[batch.probe_id] = (*latest[-(RETRY_DEPTH - 1):], batch.batch_id)
        yield Upload(item.received_at.timestamp(), batch)


def _in_order(items: Iterable[ProbeInfo | Upload], window_s: float = REORDER_WINDOW_S,
              ) -> Iterator[ProbeInfo | Upload]:
    """Uploads in received_at order, each released once the stream is ``window_s`` past it.

    Registrations pass at once. An upload later than the window is fed late, as before.
    """
    pending: list[tuple[float, int, Upload]] = []
    latest = float("-inf")
    for count, item in enumerate(items):
        if isinstance(item, ProbeInfo):
            yield item
            continue
        heapq.heappush(pending, (item.received_at, count, item))
        latest = max(latest, item.received_at)
        while pending[0][0] <= latest - window_s:
            yield heapq.heappop(pending)[2]
    while pending:
        yield heapq.heappop(pending)[2]


def drive(engine: Engine, items: Iterable[ProbeInfo | Upload],
          until: float | None = None) -> Iterator[Transition]:
    """Feed inputs in order, evaluating on the replay clock; shared by replay and tests."""
    last = None
    for item in items:
        if isinstance(item, ProbeInfo):
            engine.register(item)
            continue
        now = item.received_at
        if until is not None and now > until:
            break
        yield from engine.evaluate_until(now)
        engine.upload(item)
        last = now if last is None else max(last, now)
    end = until if until is not None else last
    if end is None or engine.next_tick is None:
        return
    yield from engine.evaluate_until(end)
    if engine.next_tick - engine.params.eval_interval_s < end:
        yield from engine.evaluate(end)
