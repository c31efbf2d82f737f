"""Read back: the public list of probes and one probe's results over a time window.

Only public fields leave here: no token hash, no enrollment source, and of course no address
(which is never stored anyway). Results are paged with an opaque keyset cursor.
Publicly, no group of fewer than ``min_publishable_probes`` probes is shown (api.publish):
a city, province or network with fewer probes is left out of each probe's row, a country
with fewer hides its probes and their results. The operator (admin token) sees everything.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import AwareDatetime, BaseModel

from cutwatch.api import publish
from cutwatch.api.auth import is_operator
from cutwatch.api.state import get_state
from cutwatch.wire import Access, CheckKind

router = APIRouter(tags=["read"])

MAX_WINDOW = timedelta(days=31)

PROBES_SQL: Final = (
    "SELECT id, name, country, subdivision, city, access, asn, network_mismatch,"
    " registered_at, last_seen_at,"
    " COALESCE(last_seen_at > now() - make_interval(secs => %s), false),"
    " operator, approved_at IS NOT NULL"
    " FROM probes WHERE disabled_at IS NULL ORDER BY id"
)
# Keyset paging on (measured_at, id): the primary key, so each page is one index range scan.
RESULTS_SQL: Final = (
    "SELECT id, batch_id, kind, target, scope, family, measured_at, received_at,"
    " duration_ms, ok, failure, details FROM results"
    " WHERE probe_id = %(probe)s AND measured_at >= %(since)s AND measured_at < %(until)s"
    " AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)"
    " AND (%(after_at)s::timestamptz IS NULL"
    "      OR (measured_at, id) > (%(after_at)s::timestamptz, %(after_id)s::uuid))"
    " ORDER BY measured_at, id LIMIT %(limit)s"
)
DEFAULT_WINDOW = timedelta(hours=24)


class ProbeView(BaseModel):
    id: str
    name: str | None
    country: str
    subdivision: str | None
    city: str | None
    access: Access
    asn: int | None
    network_mismatch: bool
    registered_at: AwareDatetime
    last_seen_at: AwareDatetime | None
    status: Literal["live", "silent"]
    # The operator's view only (admin token); null in the public list.
    operator: str | None = None
    approved: bool | None = None


class ResultView(BaseModel):
    id: UUID
    batch_id: UUID
    kind: str
    target: str
    scope: str | None
    family: str | None
    measured_at: AwareDatetime
    received_at: AwareDatetime
    duration_ms: float
    ok: bool
    failure: str | None
    details: dict[str, Any]


class ResultPage(BaseModel):
    probe_id: str
    since: AwareDatetime
    until: AwareDatetime
    results: list[ResultView]
    next_cursor: str | None


@router.get("/v1/probes", response_model=list[ProbeView])
async def list_probes(request: Request) -> list[ProbeView]:
    """Registered probes with their public facts and live/silent status, generalised so that
    no country, province, city or network of fewer than the minimum of probes shows (the
    operator's admin token sees every field)."""
    state = get_state(request)
    operator = await is_operator(request)
    if not state.settings.public_probe_list and not operator:
        raise HTTPException(404, "the public probe list is turned off by the operator")
    async with state.pool.connection() as conn:
        cur = await conn.execute(PROBES_SQL, (state.settings.silent_after_seconds,))
        rows = await cur.fetchall()
    views = [
        ProbeView(
            id=r[0], name=r[1], country=r[2], subdivision=r[3], city=r[4], access=r[5],
            asn=r[6], network_mismatch=r[7], registered_at=r[8], last_seen_at=r[9],
            status="live" if r[10] else "silent", operator=r[11], approved=r[12],
        )
        for r in rows
    ]
    if operator:
        return views
    counts = publish.Counts.of(views, state.settings.min_publishable_probes)
    return [publish.generalise(v, counts) for v in views if counts.shows_country(v)]


@router.get("/v1/probes/{probe_id}/results", response_model=ResultPage)
async def probe_results(
    request: Request,
    probe_id: str,
    since: Annotated[AwareDatetime | None, Query(description="default: until - 24 h")] = None,
    until: Annotated[AwareDatetime | None, Query(description="default: now")] = None,
    kind: Annotated[CheckKind | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ResultPage:
    """Results measured in [since, until), oldest first, at most ``limit`` per page."""
    until = (until or datetime.now(UTC)).astimezone(UTC)
    since = (since or until - DEFAULT_WINDOW).astimezone(UTC)
    if since >= until:
        raise HTTPException(422, "since must be before until")
    if until - since > MAX_WINDOW:
        raise HTTPException(422, f"window longer than {MAX_WINDOW.days} days")
    after = _decode_cursor(cursor) if cursor else None
    state = get_state(request)
    operator = await is_operator(request)
    async with state.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT (SELECT count(*) FROM probes o WHERE o.country = p.country"
            " AND o.disabled_at IS NULL) FROM probes p WHERE id = %s", (probe_id,))
        found = await cur.fetchone()
        # A probe alone (or nearly) in its country is not published: it would be a person.
        if found is None or (found[0] < state.settings.min_publishable_probes and not operator):
            raise HTTPException(404, "no such probe")
        cur = await conn.execute(
            RESULTS_SQL,
            {"probe": probe_id, "since": since, "until": until, "kind": kind,
             "after_at": after[0] if after else None, "after_id": after[1] if after else None,
             "limit": limit + 1},
        )
        rows = await cur.fetchall()
    page = [
        ResultView(
            id=r[0], batch_id=r[1], kind=r[2], target=r[3], scope=r[4], family=r[5],
            measured_at=r[6], received_at=r[7], duration_ms=r[8], ok=r[9], failure=r[10],
            details=r[11],
        )
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return ResultPage(
        probe_id=probe_id, since=since, until=until, results=page,
        next_cursor=_encode_cursor(page[-1].measured_at, page[-1].id) if more else None,
    )


def _encode_cursor(measured_at: datetime, result_id: UUID) -> str:
    raw = f"{measured_at.astimezone(UTC).isoformat()}|{result_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, ident = raw.partition("|")
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, UUID(ident)
    except ValueError:
        raise HTTPException(422, "cursor: invalid") from None
