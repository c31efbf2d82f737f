"""Atom and JSON Feed of event transitions, filterable with the subscriptions' vocabulary.

For newsrooms that prefer a feed reader to a webhook: the same transitions the outbox sends,
newest first, read from ``feed_entries`` (written by ``outbox.enqueue``). Public, read-only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import ValidationError

from cutwatch.api.errors import describe_errors
from cutwatch.api.state import PoolDep, SettingsDep
from cutwatch.api.webhooks import config, payloads
from cutwatch.api.webhooks.filters import Filters, severity_matches, where_matches

router = APIRouter(prefix="/v1/feeds", tags=["feeds"])
ATOM = "http://www.w3.org/2005/Atom"
# Transitions scanned per request; a feed shows the newest ones that pass the filter.
SCAN_LIMIT = 5000

Codes = Annotated[list[str], Query(description="repeatable")]


def feed_filters(
    country: Codes = [],  # noqa: B006 (FastAPI copies defaults per request)
    subdivision: Codes = [],  # noqa: B006
    city: Codes = [],  # noqa: B006
    asn: Codes = [],  # noqa: B006
    asn_subdivision: Codes = [],  # noqa: B006
    children: Annotated[bool, Query(description="include what lies inside")] = False,
    kind: Codes = [],  # noqa: B006
    min_status: Annotated[str, Query(description="suspected | confirmed")] = "suspected",
    min_confidence: Annotated[float, Query(ge=0, le=1)] = 0.0,
) -> Filters:
    """The subscription filter vocabulary as query parameters."""
    given = {"country": country, "subdivision": subdivision, "city": city, "asn": asn,
             "asn_subdivision": asn_subdivision}
    raw: dict[str, Any] = {
        "entities": [{"type": kind_, "code": code, "children": children}
                     for kind_, codes in given.items() for code in codes],
        "kinds": kind, "min_status": min_status, "min_confidence": min_confidence,
    }
    try:
        return Filters.model_validate(raw)
    except ValidationError as exc:
        raise HTTPException(422, describe_errors(exc.errors())) from None


FeedFilters = Annotated[Filters, Depends(feed_filters)]


async def select(pool: Any, filters: Filters, limit: int) -> list[dict[str, Any]]:
    """Newest transitions first, of events that concern the filter and were strong enough.

    As with webhooks, once an event passed the status/confidence bar its other transitions
    (resolution, retraction) are shown too.
    """
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT transition FROM feed_entries ORDER BY at DESC, id DESC LIMIT %s",
            (SCAN_LIMIT,))
        rows = [row[0] for row in await cur.fetchall()]
    strong = {t["event"]["id"] for t in rows if severity_matches(filters, t["event"])}
    return [t for t in rows
            if t["event"]["id"] in strong and where_matches(filters, t["event"])][:limit]


def title(transition: Mapping[str, Any]) -> str:
    event = transition["event"]
    entity = event.get("entity") or {}
    kind = str(event.get("kind", "event")).replace("_", " ").capitalize()
    place = entity.get("name") or entity.get("code", "?")
    return (f"{kind} {transition['action']}: {place} ({entity.get('type', '?')} "
            f"{entity.get('code', '?')}), {event.get('status')}"
            + (", single source" if event.get("single_source") else ""))


def summary(transition: Mapping[str, Any]) -> str:
    event = transition["event"]
    return (f"Status {event.get('status')}, confidence {event.get('confidence')}, "
            f"{event.get('probes_affected')} of {event.get('probes_total')} probes affected, "
            f"since {event.get('start')}" + (f" until {event['end']}" if event.get("end") else ""))


def terms(transition: Mapping[str, Any]) -> list[str]:
    """Categories (Atom) and tags (JSON Feed): kind, status, and ``single_source`` when the
    event is flagged so (a reader can filter staged-looking events out)."""
    event = transition["event"]
    out = [str(t) for t in (event.get("kind"), event.get("status")) if t]
    return [*out, "single_source"] if event.get("single_source") else out


def entry_id(base: str, transition: Mapping[str, Any]) -> str:
    api = payloads.links(base, str(transition["event"]["id"]))["api"]
    return f"{api}#{transition['action']}@{transition['at']}"


def atom(transitions: list[dict[str, Any]], base: str, self_url: str) -> bytes:
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", self_url)
    sub(feed, "title", "Cutwatch: Internet shutdown events")
    sub(feed, "updated", transitions[0]["at"] if transitions else payloads.now_rfc3339())
    sub(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=f"{base}/", type="text/html")
    sub(sub(feed, "author"), "name", "Cutwatch")
    for transition in transitions:
        links = payloads.links(base, str(transition["event"]["id"]))
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(base, transition))
        sub(entry, "title", title(transition))
        sub(entry, "updated", transition["at"])
        sub(entry, "link", rel="alternate", href=links["dashboard"], type="text/html")
        sub(entry, "link", rel="related", href=links["api"], type="application/json")
        for term in terms(transition):
            sub(entry, "category", term=term)
        sub(entry, "summary", summary(transition))
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def json_feed(transitions: list[dict[str, Any]], base: str, self_url: str) -> dict[str, Any]:
    items = []
    for transition in transitions:
        links = payloads.links(base, str(transition["event"]["id"]))
        items.append({
            "id": entry_id(base, transition),
            "url": links["dashboard"],
            "external_url": links["api"],
            "title": title(transition),
            "content_text": summary(transition),
            "date_published": transition["at"],
            "tags": terms(transition),
            "_cutwatch": transition,
        })
    return {"version": "https://jsonfeed.org/version/1.1",
            "title": "Cutwatch: Internet shutdown events",
            "home_page_url": f"{base}/", "feed_url": self_url, "items": items}


FEED_DOC = "Newest transitions first, filtered like webhook subscriptions (docs/webhooks.md)."


@dataclass(frozen=True)
class Feed:
    """What both feed formats render: the chosen transitions and the links around them."""

    transitions: list[dict[str, Any]]
    base: str
    self_url: str


async def chosen_feed(request: Request, pool: PoolDep, settings: SettingsDep,
                      filters: FeedFilters,
                      limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Feed:
    base = config.from_settings(settings).base_url.rstrip("/")
    query = urlencode(list(request.query_params.multi_items()))
    self_url = f"{base}{request.url.path}" + (f"?{query}" if query else "")
    return Feed(await select(pool, filters, limit), base, self_url)


FeedDep = Annotated[Feed, Depends(chosen_feed)]


@router.get("/events.atom", response_class=Response, description=FEED_DOC)
async def atom_feed(feed: FeedDep) -> Response:
    body = atom(feed.transitions, feed.base, feed.self_url)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/events.json", response_class=Response, description=FEED_DOC)
async def json_feed_route(feed: FeedDep) -> Response:
    body = json_feed(feed.transitions, feed.base, feed.self_url)
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/feed+json")
