"""Atom and JSON Feed of event transitions, filterable with the subscriptions' vocabulary.

For newsrooms that prefer a feed reader to a webhook: the same transitions the outbox sends,
newest first, read from ``feed_entries`` (written by ``outbox.enqueue``) into the typed
``Transition`` once per row. Public, read-only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import ValidationError

from cutwatch.api.errors import describe_errors
from cutwatch.api.state import PoolDep, SettingsDep
from cutwatch.api.webhooks import config, payloads
from cutwatch.api.webhooks.filters import Filters, severity_matches, where_matches
from cutwatch.detectors.model import Transition, TransitionError, iso

log = logging.getLogger(__name__)
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


async def select(pool: Any, filters: Filters, limit: int) -> list[Transition]:
    """Newest transitions first, of events that concern the filter and were strong enough.

    As with webhooks, once an event passed the status/confidence bar its other transitions
    (resolution, retraction) are shown too.
    """
    async with pool.connection() as conn:
        transitions = await _rows.scan(conn, SCAN_LIMIT)
    strong = {t.event.id for t in transitions if severity_matches(filters, t.event)}
    return [t for t in transitions
            if t.event.id in strong and where_matches(filters, t.event)][:limit]


def read(stored: Any) -> Transition | str:
    """One stored row as a Transition, or why it is not one (one line)."""
    try:
        return Transition.from_json(stored)
    except TransitionError as exc:
        return str(exc)


# A row of feed_entries: its id and version (xmin changes when a row is rewritten; the time
# it was recorded tells apart rows of different databases with the same id).
RowKey = tuple[int, str]
_WINDOW = ("SELECT id, xmin::text || '/' || recorded_at::text FROM feed_entries"
           " ORDER BY at DESC, id DESC LIMIT %s")
_ROWS = ("SELECT id, xmin::text || '/' || recorded_at::text, transition FROM feed_entries"
         " WHERE id = ANY(%s)")
# After a start, when most of the window is new: one ordered scan beats looking up each id.
_WINDOW_ROWS = ("SELECT id, xmin::text || '/' || recorded_at::text, transition"
                " FROM feed_entries ORDER BY at DESC, id DESC LIMIT %s")


@dataclass
class StoredRows:
    """The feed's scan window, each row read into a Transition once per process.

    The outbox only appends, so a request fetches the keys of the window and only the rows
    it has not read yet (a feed poll then costs no JSON decoding or parsing of old rows).
    Reading every stored row on every request would cost about 70 us per row, 0.35 s at
    ``SCAN_LIMIT``. Only the last window is kept. A row that is not a transition is left out
    and logged once, when first read (a public request cannot make it log again).
    """

    known: dict[RowKey, Transition | str] = field(default_factory=dict)

    async def scan(self, conn: Any, limit: int) -> list[Transition]:
        cur = await conn.execute(_WINDOW, (limit,))
        keys: list[RowKey] = [(row[0], row[1]) for row in await cur.fetchall()]
        fresh: dict[RowKey, Transition | str] = {}
        missing = [key[0] for key in keys if key not in self.known]
        if missing:
            cur = await (conn.execute(_WINDOW_ROWS, (limit,)) if len(missing) > len(keys) // 2
                         else conn.execute(_ROWS, (missing,)))
            fresh = {(row_id, version): read(stored)
                     for row_id, version, stored in await cur.fetchall()
                     if (row_id, version) not in self.known}
            unreadable = [(key[0], got) for key, got in fresh.items() if isinstance(got, str)]
            if unreadable:
                log.warning("feed: %d stored transition(s) unreadable, left out of the feeds "
                            "(first: feed_entries id %s: %s)", len(unreadable), *unreadable[0])
        window = {**self.known, **fresh}
        # A row rewritten between the two queries is not in either: read on the next scan.
        self.known = {key: window[key] for key in keys if key in window}
        return [got for got in self.known.values() if isinstance(got, Transition)]


_rows = StoredRows()


def title(transition: Transition) -> str:
    event = transition.event
    entity = event.entity
    kind = event.kind.replace("_", " ").capitalize()
    place = entity.get("name") or entity.get("code", "?")
    return (f"{kind} {transition.action}: {place} ({entity.get('type', '?')} "
            f"{entity.get('code', '?')}), {event.status}"
            + (", single source" if event.single_source else ""))


def summary(transition: Transition) -> str:
    event = transition.event
    return (f"Status {event.status}, confidence {event.confidence}, "
            f"{event.probes_affected} of {event.probes_total} probes affected, "
            f"since {event.start}" + (f" until {event.end}" if event.end else ""))


def terms(transition: Transition) -> list[str]:
    """Categories (Atom) and tags (JSON Feed): kind, status, and ``single_source`` when the
    event is flagged so (a reader can filter staged-looking events out)."""
    event = transition.event
    out: list[str] = [event.kind, event.status]
    return [*out, "single_source"] if event.single_source else out


def entry_id(base: str, transition: Transition) -> str:
    api = payloads.links(base, transition.event.id)["api"]
    return f"{api}#{transition.action}@{iso(transition.at)}"


def atom(transitions: list[Transition], base: str, self_url: str) -> bytes:
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", self_url)
    sub(feed, "title", "Cutwatch: Internet shutdown events")
    sub(feed, "updated", iso(transitions[0].at) if transitions else payloads.now_rfc3339())
    sub(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=f"{base}/", type="text/html")
    sub(sub(feed, "author"), "name", "Cutwatch")
    for transition in transitions:
        links = payloads.links(base, transition.event.id)
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(base, transition))
        sub(entry, "title", title(transition))
        sub(entry, "updated", iso(transition.at))
        sub(entry, "link", rel="alternate", href=links["dashboard"], type="text/html")
        sub(entry, "link", rel="related", href=links["api"], type="application/json")
        for term in terms(transition):
            sub(entry, "category", term=term)
        sub(entry, "summary", summary(transition))
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def json_feed(transitions: list[Transition], base: str, self_url: str) -> dict[str, Any]:
    items = []
    for transition in transitions:
        links = payloads.links(base, transition.event.id)
        items.append({
            "id": entry_id(base, transition),
            "url": links["dashboard"],
            "external_url": links["api"],
            "title": title(transition),
            "content_text": summary(transition),
            "date_published": iso(transition.at),
            "tags": terms(transition),
            "_cutwatch": transition.to_json(),  # what the outbox stored, the webhooks' data
        })
    return {"version": "https://jsonfeed.org/version/1.1",
            "title": "Cutwatch: Internet shutdown events",
            "home_page_url": f"{base}/", "feed_url": self_url, "items": items}


FEED_DOC = "Newest transitions first, filtered like webhook subscriptions (docs/webhooks.md)."


@dataclass(frozen=True)
class Feed:
    """What both feed formats render: the chosen transitions and the links around them."""

    transitions: list[Transition]
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
