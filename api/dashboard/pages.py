"""Dashboard routes: overview ``/``, ``/entities/{type}/{code}``, ``/events/{id}``, ``/docs``.

Pages are rendered on the server from the same read functions as the API (events through
api/events.py, signals through api/series.py), so they work without scripts; the vendored
charting library only draws the series a page already carries (with a data table beside it).
A page showing an ongoing event reloads itself every minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cutwatch.api import events as events_api
from cutwatch.api import series
from cutwatch.api.dashboard import view
from cutwatch.api.settings import Settings
from cutwatch.api.state import get_state

HERE: Final = Path(__file__).resolve().parent
STATIC: Final = HERE / "static"
REFRESH_S: Final = 60
# Fewer, wider buckets than the API's default: a chart a phone can show, where a bucket of
# one upload period would flicker with every upload that slips into the next minute.
CHART_POINTS: Final = 120
RANGES: Final[dict[str, timedelta]] = {
    "6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
MEDIA: Final = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
                ".txt": "text/plain; charset=utf-8"}


def make_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(when=view.when, ago=view.ago, duration=view.duration,
                       label=view.label, entity_url=view.entity_url,
                       lasted=view.lasted)
    # Only files shipped in static/ are served, looked up in this map (no path walking).
    files = {str(p.relative_to(STATIC)): p for p in STATIC.rglob("*") if p.is_file()}

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("refresh", None)
        html = env.get_template(name).render(now=datetime.now(UTC), **context)
        return HTMLResponse(html, status_code=status)

    @router.get("/static/{path:path}")
    async def static(path: str) -> Response:
        found = files.get(path)
        if found is None:
            raise HTTPException(404, "no such file")
        return FileResponse(found, media_type=MEDIA.get(found.suffix),
                            headers={"Cache-Control": "public, max-age=3600"})

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="Cutwatch collector API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg")

    @router.get("/", response_class=HTMLResponse)
    async def overview(request: Request) -> HTMLResponse:
        state = get_state(request)
        ongoing = []
        for status in series.ONGOING:
            ongoing += (await events_api.list_events(request, None, None, status, None,
                                                     1000)).events
        ongoing.sort(key=lambda e: e["start"], reverse=True)
        recent = (await events_api.list_events(request, None, None, None, None, 50)).events
        async with state.pool.connection() as conn:
            entities = await series.list_entities(conn, settings.min_publishable_probes,
                                                  settings.silent_after_seconds)
        return page("overview.html", ongoing=ongoing,
                    recent=[e for e in recent if e["status"] not in series.ONGOING],
                    entities=[e.model_dump() for e in entities],
                    min_probes=settings.min_publishable_probes,
                    refresh=REFRESH_S if ongoing else None)

    @router.get("/events")
    async def events_home() -> RedirectResponse:
        # Older links (feeds, payloads) named /events as the dashboard's home.
        return RedirectResponse("/", status_code=307)

    @router.get("/entities/{entity_type}/{code:path}", response_class=HTMLResponse)
    async def entity(request: Request, entity_type: str, code: str,
                     range: str = "6h") -> HTMLResponse:
        if entity_type not in series.ENTITY_TYPES or range not in RANGES:
            return page("error.html", 404, title="No such page",
                        detail=f"unknown entity type {entity_type!r} or range {range!r}")
        now = datetime.now(UTC).replace(microsecond=0)
        key = f"{entity_type}:{code}"
        try:
            found = await series.series_for(
                request, key, now - RANGES[range], now,
                series.pick_bucket(RANGES[range].total_seconds(), CHART_POINTS))
        except HTTPException as exc:
            return page("error.html", exc.status_code, title="Not published",
                        detail=str(exc.detail))
        listed = (await events_api.list_events(request, key, None, None, None, 100)).events
        ongoing = [e for e in listed if e["status"] in series.ONGOING]
        query = urlencode({"entity": key, "start": view.iso(found.start),
                           "end": view.iso(found.end)})
        return page("entity.html", series=found, events=listed, ongoing=ongoing,
                    charts=view.charts(found, listed), range=range, ranges=list(RANGES),
                    exports=view.series_exports(query),
                    refresh=REFRESH_S if ongoing else None)

    @router.get("/events/{event_id}", response_class=HTMLResponse)
    async def event(request: Request, event_id: str) -> HTMLResponse:
        try:
            detail = await events_api.get_event(request, UUID(event_id))
        except (ValueError, HTTPException):
            return page("error.html", 404, title="No such event",
                        detail=f"there is no event {event_id}")
        ev = detail.event
        entity_key = f"{ev['entity']['type']}:{ev['entity']['code']}"
        start, end = view.parse(ev["start"]), view.parse(ev["end"]) if ev["end"] else None
        now = datetime.now(UTC).replace(microsecond=0)
        charts, note = [], None
        try:
            since, until = start - timedelta(hours=2), min(now, (end or now) + timedelta(hours=1))
            found = await series.series_for(
                request, entity_key, since, until,
                series.pick_bucket((until - since).total_seconds(), CHART_POINTS),
                ev["entity"].get("access"))
            charts = view.charts(found, [ev])
        except HTTPException as exc:
            note = str(exc.detail)
        ongoing = ev["status"] in series.ONGOING
        one = urlencode({"event": ev["id"]})
        return page("event.html", event=ev, transitions=detail.transitions, charts=charts,
                    chart_note=note, ongoing=ongoing,
                    exports=view.event_exports(one, ev["id"]),
                    entity_href=f"/entities/{ev['entity']['type']}/"
                                f"{quote(ev['entity']['code'], safe='/')}",
                    refresh=REFRESH_S if ongoing else None)

    return router
