"""What of an upload the collector admits: between reading the body (ingest) and storing it.

Pure functions of the body and the collector's clock. A problem with the batch itself
(envelope, heartbeat, clock) refuses the whole batch; a problem with one result refuses that
result only and the rest is stored, so one bad measurement cannot cost a probe its batch nor
block its queue. Everything admitted fits PostgreSQL and reads back into the detector.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

import pydantic_core
from pydantic import ValidationError

from cutwatch.api.errors import describe_errors
from cutwatch.wire import MAX_RESULTS_PER_BATCH, Batch, RefusedResult, Result

_BIGINT: Final = 2**63 - 1
_INTEGER: Final = 2**31 - 1
# "\u0000" as json.dumps writes NUL, not preceded by an escaping backslash.
_ESCAPED_NUL: Final = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class Malformed(ValueError):
    """The body is not JSON (400)."""


class Refused(ValueError):
    """The batch as a whole cannot be admitted (422); the message is the one-line detail."""


@dataclass(frozen=True)
class Bounds:
    """The collector's clock and how far from it a probe's timestamps may be."""

    now: datetime
    # Every timestamp within this of ``now``: a clock further off is broken, not skewed.
    window: timedelta
    # A measurement may start at most this long after ``now`` (an unsynced probe's clock).
    tolerance: timedelta

    def outside(self, at: datetime, *, latest: datetime | None = None) -> str | None:
        """Why ``at`` is out of bounds, or None."""
        if at < self.now - self.window:
            return f"more than {self.window.days} days before the collector's clock"
        if latest is not None and at > latest:
            seconds = int(self.tolerance.total_seconds())
            return f"more than {seconds} s after the collector's clock"
        if at > self.now + self.window:
            return f"more than {self.window.days} days after the collector's clock"
        return None


@dataclass(frozen=True)
class Admitted:
    batch: Batch  # with the admitted results only
    refused: list[RefusedResult]
    # Every result id the upload carried, in order (refused ones too, None where unreadable;
    # see api.store).
    ids: list[object]
    # Each admitted result's details as the JSON text written to check it, in batch order:
    # api.store stores this text, so details are serialised once per upload.
    details: list[str]


def admit(body: bytes, bounds: Bounds) -> Admitted:
    """Parse and check one upload: Malformed (400), Refused (422) or what may be stored."""
    try:
        # The common case, a batch that fits the schema, in one pass of the Rust validator;
        # only a batch with a schema error is taken apart result by result.
        whole = Batch.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(e["type"] == "json_invalid" for e in errors):
            detail = errors[0]["msg"].removeprefix("Invalid JSON: ")
            raise Malformed(f"malformed JSON: {detail}") from None
        return _admit_apart(body, bounds)
    problem = batch_problem(whole, bounds)
    if problem is not None:
        raise Refused(problem)
    return _sort(whole, list(enumerate(whole.results)), [], bounds,
                 [r.id for r in whole.results])


def _admit_apart(body: bytes, bounds: Bounds) -> Admitted:
    try:
        raw = pydantic_core.from_json(body)
    except ValueError as exc:
        raise Malformed(f"malformed JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise Refused("the body must be a JSON object (a batch)")
    items = raw.get("results", [])
    if not isinstance(items, list):
        raise Refused("results: Input should be a valid list")
    if len(items) > MAX_RESULTS_PER_BATCH:
        raise Refused(f"results: at most {MAX_RESULTS_PER_BATCH} results per batch")
    try:
        envelope = Batch.model_validate({**raw, "results": []})
    except ValidationError as exc:
        raise Refused(describe_errors(exc.errors(include_url=False))) from None
    problem = batch_problem(envelope, bounds)
    if problem is not None:
        raise Refused(problem)
    valid: list[tuple[int, Result]] = []
    refused: list[RefusedResult] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, Result.model_validate(item)))
        except ValidationError as exc:
            detail = describe_errors(exc.errors(include_url=False))
            refused.append(RefusedResult(index=index, id=_id_of(item),
                                         detail=f"results.{index}.{detail}"))
    return _sort(envelope, valid, refused, bounds, [_id_of(item) for item in items])


def _sort(envelope: Batch, valid: list[tuple[int, Result]], refused: list[RefusedResult],
          bounds: Bounds, ids: list[UUID | None]) -> Admitted:
    """Schema-valid results into admitted and refused (bounds, storability)."""
    admitted: list[Result] = []
    details: list[str] = []
    for index, result in valid:
        problem, text = _checked(result, bounds)
        if problem is None:
            admitted.append(result)
            details.append(text)
        else:
            refused.append(RefusedResult(index=index, id=result.id,
                                         detail=f"results.{index}.{problem}"))
    refused.sort(key=lambda r: r.index)
    batch = envelope if len(admitted) == len(envelope.results) and not refused \
        else envelope.model_copy(update={"results": admitted})
    return Admitted(batch, refused, list(ids), details)


def batch_problem(batch: Batch, bounds: Bounds) -> str | None:
    """Why the batch's own fields cannot be stored, or None."""
    hb = batch.heartbeat
    if hb.seq > _BIGINT:
        return "heartbeat.seq: out of range"
    if hb.dropped_total > _BIGINT:
        return "heartbeat.dropped_total: out of range"
    if hb.spool_depth > _INTEGER:
        return "heartbeat.spool_depth: out of range"
    if hb.software is not None and (why := text_problem(hb.software)):
        return f"heartbeat.software: {why}"
    if why := bounds.outside(batch.sent_at):
        return f"sent_at: {why}"
    if hb.started_at is not None and (why := bounds.outside(hb.started_at)):
        return f"heartbeat.started_at: {why}"
    return None


def result_problem(result: Result, bounds: Bounds) -> str | None:
    """Why one schema-valid result cannot be stored, or None."""
    return _checked(result, bounds)[0]


def _checked(result: Result, bounds: Bounds) -> tuple[str | None, str]:
    """Why ``result`` cannot be stored (or None), and its details as JSON text."""
    if why := bounds.outside(result.measured_at, latest=bounds.now + bounds.tolerance):
        return f"measured_at: {why}", ""
    if why := text_problem(result.target):
        return f"target: {why}", ""
    try:
        text = json.dumps(result.details, allow_nan=False, ensure_ascii=False)
    except ValueError:
        # NaN/Infinity (jsonb has neither) or an integer too long to write out.
        return "details: number out of range", ""
    # The substring test first: the regex is only needed to tell "\\u0000" (text) apart.
    if "\\u0000" in text and _ESCAPED_NUL.search(text):
        return "details: NUL characters are not allowed", ""
    if why := text_problem(text):
        return f"details: {why}", ""
    return None, text


def text_problem(text: str) -> str | None:
    """Why PostgreSQL's text cannot hold ``text`` (NUL, unpaired surrogates), or None."""
    if "\x00" in text:
        return "NUL characters are not allowed"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode (unpaired surrogate)"
    return None


def _id_of(item: object) -> UUID | None:
    if isinstance(item, Mapping):
        value: Any = item.get("id")
        try:
            return UUID(value) if isinstance(value, str) else None
        except ValueError:
            return None
    return None
