"""``POST /v1/batches``: a probe's upload, from HTTP body to stored rows.

Order of checks: probe credentials (401), content type and encoding (415), size before and
after gzip (413, decompressed in a capped stream so a gzip bomb costs nothing), JSON (400),
wire schema (422), ownership (403). Then the source address is turned into ASN and country
and forgotten, and the batch is stored idempotently (api.store).
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Final

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError

from api.auth import ProbeDep
from api.errors import describe_errors
from api.settings import Settings
from api.state import get_state
from api.store import BatchOwnedElsewhere, store_batch
from cutwatch.wire import Batch, BatchAck

router = APIRouter(tags=["ingest"])

_ENCODINGS: Final = frozenset({"identity", "gzip"})
_BIGINT: Final = 2**63 - 1
_INTEGER: Final = 2**31 - 1
# "\u0000" as json.dumps writes NUL, not preceded by an escaping backslash.
_ESCAPED_NUL: Final = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


async def read_body(request: Request, settings: Settings) -> bytes:
    """The request body, decompressed, within the configured limits; 4xx otherwise."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise HTTPException(415, "content type must be application/json")
    encoding = request.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in _ENCODINGS:
        raise HTTPException(415, f"unsupported content encoding {encoding!r} (use gzip)")
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, "invalid Content-Length")
        if int(declared) > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if encoding == "gzip":
        return gunzip_capped(body, settings.max_decompressed_bytes)
    if len(body) > settings.max_decompressed_bytes:
        raise HTTPException(413, f"body larger than {settings.max_decompressed_bytes} bytes")
    return body


def gunzip_capped(data: bytes, cap: int) -> bytes:
    """One gzip member, refusing to produce more than ``cap`` bytes (413)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error as exc:
        raise HTTPException(400, f"invalid gzip body: {exc}") from None
    if len(out) > cap:
        raise HTTPException(413, f"decompressed body larger than {cap} bytes")
    if not inflater.eof:
        raise HTTPException(400, "truncated gzip body")
    if inflater.unused_data:
        raise HTTPException(400, "trailing data after the gzip body")
    return out


def parse_batch(body: bytes) -> Batch:
    """The batch in ``body``: 400 when it is not JSON, 422 when it breaks the wire schema."""
    try:
        batch = Batch.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise HTTPException(400, f"malformed JSON: {errors[0]['msg']}") from None
        raise HTTPException(422, describe_errors(errors)) from None
    _check_storable(batch)
    return batch


def _check_storable(batch: Batch) -> None:
    """Refuse (422) what the schema allows but PostgreSQL cannot store.

    Such a batch would otherwise fail with a 5xx on every retry and block the probe's queue.
    """
    hb = batch.heartbeat
    if hb.seq > _BIGINT or hb.dropped_total > _BIGINT or hb.spool_depth > _INTEGER:
        raise HTTPException(422, "heartbeat: counter out of range")
    if hb.software and "\x00" in hb.software:
        raise HTTPException(422, "heartbeat.software: NUL characters are not allowed")
    for index, result in enumerate(batch.results):
        # PostgreSQL text and jsonb hold no NUL, and jsonb no Infinity.
        if "\x00" in result.target:
            raise HTTPException(422, f"results.{index}.target: NUL characters are not allowed")
        try:
            text = json.dumps(result.details, allow_nan=False)
        except ValueError:
            raise HTTPException(422, f"results.{index}.details: number out of range") from None
        if _ESCAPED_NUL.search(text):
            raise HTTPException(422, f"results.{index}.details: NUL characters are not allowed")


@router.post("/v1/batches", response_model=BatchAck)
async def post_batch(request: Request, probe: ProbeDep) -> BatchAck:
    """Store one batch of results from the authenticated probe (idempotent on batch_id)."""
    state = get_state(request)
    batch = parse_batch(await read_body(request, state.settings))
    if batch.probe_id != probe.id:
        raise HTTPException(403, "batch.probe_id is not the authenticated probe")
    # The source address is used for this lookup only: never stored, never logged.
    network = (
        state.geo.lookup(request.client.host if request.client else None)
        if state.geo.configured else None
    )
    async with state.pool.connection() as conn:
        try:
            outcome = await store_batch(conn, batch, network)
        except BatchOwnedElsewhere:
            raise HTTPException(409, "batch_id already used by another probe") from None
    return BatchAck(
        batch_id=batch.batch_id,
        accepted=outcome.accepted,
        duplicates=outcome.duplicates,
        server_time=outcome.received_at,
    )
