"""Read API of events: ``GET /v1/events`` (filtered list) and ``GET /v1/events/{id}``.

Events are the detector's (api/leader.py stores them); each is the event object of
docs/events.md, the same as in webhook payloads. One event also lists its transitions.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, get_args
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import AwareDatetime, BaseModel

from cutwatch.api.state import get_state
from cutwatch.detectors import codes
from cutwatch.detectors.model import EntityType, Kind, Status

router = APIRouter(tags=["events"])
ENTITY_TYPES: Final[tuple[str, ...]] = get_args(EntityType)

LIST_SQL: Final = (
    "SELECT event FROM events"
    " WHERE (%(type)s::text IS NULL OR entity_type = %(type)s::text)"
    " AND (%(code)s::text IS NULL OR entity_code = %(code)s::text)"
    " AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)"
    " AND (%(status)s::text IS NULL OR status = %(status)s::text)"
    " AND (%(since)s::timestamptz IS NULL OR end_at IS NULL OR end_at >= %(since)s)"
    " ORDER BY start_at DESC, id LIMIT %(limit)s"
)


class EventList(BaseModel):
    events: list[dict[str, Any]]


class EventDetail(BaseModel):
    event: dict[str, Any]
    transitions: list[dict[str, Any]]


@router.get("/v1/events", response_model=EventList)
async def list_events(
    request: Request,
    entity: Annotated[str | None, Query(
        max_length=120, description="TYPE:CODE (e.g. subdivision:MM-07) or a CODE alone")] = None,
    kind: Annotated[Kind | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    since: Annotated[AwareDatetime | None, Query(
        description="only events still going on at or after this time")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventList:
    """Events, newest start first."""
    entity_type, code = _entity(entity)
    state = get_state(request)
    async with state.pool.connection() as conn:
        cur = await conn.execute(LIST_SQL, {"type": entity_type, "code": code, "kind": kind,
                                            "status": status, "since": since, "limit": limit})
        rows = await cur.fetchall()
    return EventList(events=[r[0] for r in rows])


@router.get("/v1/events/{event_id}", response_model=EventDetail)
async def get_event(request: Request, event_id: UUID) -> EventDetail:
    """One event as it stands now, with every transition it went through, in order."""
    state = get_state(request)
    async with state.pool.connection() as conn:
        cur = await conn.execute("SELECT event FROM events WHERE id = %s", (event_id,))
        row = await cur.fetchone()
        if row is None:
            raise HTTPException(404, "no such event")
        cur = await conn.execute(
            "SELECT transition FROM event_transitions WHERE event_id = %s ORDER BY seq",
            (event_id,))
        transitions = [r[0] for r in await cur.fetchall()]
    return EventDetail(event=row[0], transitions=transitions)


def _entity(value: str | None) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    entity_type, code = codes.parse_ref(value)
    if entity_type is None:
        return None, code
    if entity_type not in ENTITY_TYPES or not code:
        raise HTTPException(422, "entity: expected TYPE:CODE with TYPE one of "
                                 + ", ".join(ENTITY_TYPES))
    return entity_type, code
