"""``POST /v1/batches``: a probe's upload, from HTTP body to stored rows.

Order of checks: probe credentials (401), content type and encoding (415), size before and
after gzip (413, decompressed in a capped stream so a gzip bomb costs nothing), JSON (400),
the batch's own fields (422), ownership (403); then each result on its own (api.admission:
refused ones are listed in the answer, the rest stored). Then the source address is turned
into ASN and country and forgotten, and the batch is stored idempotently (api.store).
"""

from __future__ import annotations

import ipaddress
import zlib
from datetime import UTC, datetime, timedelta
from typing import Final

from fastapi import APIRouter, HTTPException, Request

from cutwatch.api.admission import Admitted, Bounds, Malformed, Refused, admit
from cutwatch.api.auth import ProbeDep
from cutwatch.api.settings import Settings
from cutwatch.api.state import get_state
from cutwatch.api.store import BatchOwnedElsewhere, BatchReused, results_digest, store_batch
from cutwatch.wire import BatchAck

router = APIRouter(tags=["ingest"])

_ENCODINGS: Final = frozenset({"identity", "gzip"})


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


def parse_batch(body: bytes, bounds: Bounds | None = None) -> Admitted:
    """The admitted part of the batch in ``body`` (api.admission): 400 when it is not JSON,
    422 when the batch itself is refused. ``bounds`` defaults to the default settings' now."""
    if bounds is None:
        bounds = bounds_of(Settings())
    try:
        return admit(body, bounds)
    except Malformed as exc:
        raise HTTPException(400, str(exc)) from None
    except Refused as exc:
        raise HTTPException(422, str(exc)) from None


def bounds_of(settings: Settings) -> Bounds:
    """The time bounds of an upload received now."""
    return Bounds(now=datetime.now(UTC), window=timedelta(days=settings.time_window_days),
                  tolerance=timedelta(seconds=settings.clock_tolerance_seconds))


@router.post("/v1/batches", response_model=BatchAck)
async def post_batch(request: Request, probe: ProbeDep) -> BatchAck:
    """Store one batch of results from the authenticated probe (idempotent on batch_id)."""
    state = get_state(request)
    admitted = parse_batch(await read_body(request, state.settings), bounds_of(state.settings))
    batch = admitted.batch
    if batch.probe_id != probe.id:
        raise HTTPException(403, "batch.probe_id is not the authenticated probe")
    # The source address is used for this lookup only: never stored, never logged.
    host = request.client.host if request.client else None
    # Not an address (X-Forwarded-For garbage from a trusted proxy): the probe's network
    # facts are left as they were rather than cleared.
    network = state.geo.lookup(host) if state.geo.configured and _is_address(host) else None
    async with state.pool.connection() as conn:
        try:
            outcome = await store_batch(conn, batch, network, len(admitted.refused),
                                        results_digest(admitted.ids), admitted.details)
        except BatchOwnedElsewhere:
            raise HTTPException(409, "batch_id already used by another probe") from None
        except BatchReused:
            raise HTTPException(
                409, "batch_id already used for other results; a new batch needs a new "
                "batch_id") from None
    return BatchAck(
        batch_id=batch.batch_id,
        accepted=outcome.accepted,
        duplicates=outcome.duplicates,
        refused=admitted.refused,
        server_time=outcome.received_at,
    )


def _is_address(host: str | None) -> bool:
    try:
        ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return True
