"""Evidence downloads: events and signals as CSV and JSON, and events shaped like IODA's.

Events are read through the events read API (api/events.py) and series through api/series.py,
so a download holds exactly what the API and the dashboard show. Each answer is an attachment
with a file name, ready to keep with a report.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Final
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from cutwatch.api import events as events_api
from cutwatch.api import series
from cutwatch.detectors.model import Kind, Status

router = APIRouter(tags=["exports"])

EVENT_COLUMNS: Final = (
    "id", "entity_type", "entity_code", "entity_name", "access", "kind", "status", "start",
    "end", "duration_seconds", "detected_at", "confidence", "probes_affected", "probes_total",
    "asns_affected",
)
SERIES_COLUMNS: Final = tuple(series.Point.model_fields)
# IODA names of our entity types; ours without an IODA counterpart keep their own name.
IODA_TYPE: Final = {"country": "country", "subdivision": "region", "asn": "asn"}

EventQuery = Annotated[UUID | None, Query(description="only this event")]
EntityFilter = Annotated[str | None, Query(
    max_length=120, description="TYPE:CODE (e.g. subdivision:MM-07) or a CODE alone")]
SinceQuery = Annotated[datetime | None, Query(
    description="only events still going on at or after this time (RFC 3339, with offset)")]
LimitQuery = Annotated[int, Query(ge=1, le=1000)]


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def duration_s(event: Mapping[str, Any], now: datetime) -> int:
    """Seconds from start to end, or to now while the event goes on."""
    end = _parse_time(event["end"]) if event.get("end") else now
    return max(0, int((end - _parse_time(event["start"])).total_seconds()))


def event_row(event: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    entity = event["entity"]
    return {
        "id": event["id"], "entity_type": entity["type"], "entity_code": entity["code"],
        "entity_name": entity.get("name", ""), "access": entity.get("access") or "",
        "kind": event["kind"], "status": event["status"], "start": event["start"],
        "end": event.get("end") or "", "duration_seconds": duration_s(event, now),
        "detected_at": event["detected_at"], "confidence": event["confidence"],
        "probes_affected": event["probes_affected"], "probes_total": event["probes_total"],
        "asns_affected": " ".join(str(a) for a in event.get("asns_affected", [])),
    }


def ioda_event(event: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """One event in the shape of IODA's outage events (``/outages/events``): ``location``,
    ``location_name``, ``start`` (Unix seconds), ``duration`` (s), ``score``, ..."""
    entity = event["entity"]
    start = _parse_time(event["start"])
    return {
        "location": f"{IODA_TYPE.get(entity['type'], entity['type'])}/{entity['code']}",
        "location_name": entity.get("name", entity["code"]),
        "start": int(start.timestamp()),
        "duration": duration_s(event, now),
        "uncertainty": None,
        "status": 0 if event.get("end") else 1,  # 1 while it goes on
        "fraction": (round(event["probes_affected"] / event["probes_total"], 4)
                     if event["probes_total"] else None),
        # IODA's score grows with the size and depth of an outage; ours is the detector's
        # confidence times the number of probes affected.
        "score": round(float(event["confidence"]) * event["probes_affected"], 3),
        "overlaps_window": False,
        "datasource": "cutwatch",
        "method": event["kind"],
        "cutwatch": {"id": event["id"], "status": event["status"], "kind": event["kind"]},
    }


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    return out.getvalue()


def attachment(body: str, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def _events(request: Request, event: UUID | None, entity: str | None, kind: Kind | None,
                  status: Status | None, since: datetime | None,
                  limit: int) -> list[dict[str, Any]]:
    if event is not None:
        return [(await events_api.get_event(request, event)).event]
    listed = await events_api.list_events(request, entity=entity, kind=kind, status=status,
                                          since=since, limit=limit)
    return listed.events


def _file_part(entity: Mapping[str, str]) -> str:
    # codes carry volunteer-declared city names: only safe characters go into the header
    return re.sub(r"[^A-Za-z0-9.-]+", "_", f"{entity['type']}-{entity['code']}")


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")


@router.get("/v1/exports/events.csv", response_class=Response)
async def events_csv(request: Request, event: EventQuery = None, entity: EntityFilter = None,
                     kind: Kind | None = None, status: Status | None = None,
                     since: SinceQuery = None, limit: LimitQuery = 1000) -> Response:
    """Events as CSV, one row per event (filters as ``GET /v1/events``)."""
    now = datetime.now(UTC)
    found = await _events(request, event, entity, kind, status, since, limit)
    return attachment(to_csv(EVENT_COLUMNS, (event_row(e, now) for e in found)), "text/csv",
                      f"cutwatch-events-{_stamp(now)}.csv")


@router.get("/v1/exports/events.json", response_class=Response)
async def events_json(request: Request, event: EventQuery = None, entity: EntityFilter = None,
                      kind: Kind | None = None, status: Status | None = None,
                      since: SinceQuery = None, limit: LimitQuery = 1000) -> Response:
    """Events as JSON (the event objects of ``GET /v1/events``, each with its transitions)."""
    now = datetime.now(UTC)
    found = await _events(request, event, entity, kind, status, since, limit)
    full = [(await events_api.get_event(request, UUID(e["id"]))).model_dump() for e in found]
    body = json.dumps({"exported_at": now.isoformat().replace("+00:00", "Z"), "events": full},
                      indent=1, ensure_ascii=False)
    return attachment(body, "application/json", f"cutwatch-events-{_stamp(now)}.json")


@router.get("/v1/exports/events.ioda.json", response_class=Response)
async def events_ioda(request: Request, event: EventQuery = None, entity: EntityFilter = None,
                      kind: Kind | None = None, status: Status | None = None,
                      since: SinceQuery = None, limit: LimitQuery = 1000) -> Response:
    """Events in the shape of IODA's outage events, so tools that read IODA read these."""
    now = datetime.now(UTC)
    found = await _events(request, event, entity, kind, status, since, limit)
    body = json.dumps({"type": "outages.events", "data": [ioda_event(e, now) for e in found]},
                      indent=1, ensure_ascii=False)
    return attachment(body, "application/json", f"cutwatch-events-ioda-{_stamp(now)}.json")


@router.get("/v1/exports/series.csv", response_class=Response)
async def series_csv(request: Request, entity: series.EntityQuery,
                     start: series.StartQuery = None, end: series.EndQuery = None,
                     bucket: series.BucketQuery = None,
                     access: series.AccessQuery = None) -> Response:
    """The signals of ``GET /v1/series`` as CSV, one row per bucket."""
    found = await series.series_for(request, entity, start, end, bucket, access)
    rows = [p.model_dump(mode="json") for p in found.points]
    name = _file_part(found.entity)
    return attachment(to_csv(SERIES_COLUMNS, rows), "text/csv",
                      f"cutwatch-series-{name}-{_stamp(found.end)}.csv")


@router.get("/v1/exports/series.json", response_class=Response)
async def series_json(request: Request, entity: series.EntityQuery,
                      start: series.StartQuery = None, end: series.EndQuery = None,
                      bucket: series.BucketQuery = None,
                      access: series.AccessQuery = None) -> Response:
    """The answer of ``GET /v1/series``, as a file."""
    found = await series.series_for(request, entity, start, end, bucket, access)
    name = _file_part(found.entity)
    return attachment(found.model_dump_json(indent=1), "application/json",
                      f"cutwatch-series-{name}-{_stamp(found.end)}.json")
