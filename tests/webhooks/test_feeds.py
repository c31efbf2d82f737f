"""Atom and JSON Feed: valid documents, newest first, filtered like subscriptions."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

from live_service import LiveService

from .factory import transition
from .service import settings_for
from .test_api import enqueue

A = "{http://www.w3.org/2005/Atom}"
MM07 = {"type": "subdivision", "code": "MM-07", "name": "Bago"}
MM_AS = {"type": "asn_subdivision", "code": "AS9988/MM-01", "name": "x", "asn": 9988}
IR = {"type": "country", "code": "IR", "name": "Iran"}


def test_feeds_parse_and_filter(database_url: str, tmp_path: Path) -> None:
    with LiveService(settings_for(database_url, tmp_path)) as service:
        enqueue(database_url, transition("opened", event_id="bago", entity=MM07))
        enqueue(database_url, transition("opened", event_id="isp", entity=MM_AS,
                                         kind="throttling", confidence=0.4))
        enqueue(database_url, transition("opened", event_id="iran", entity=IR,
                                         status="confirmed"))
        enqueue(database_url, transition("resolved", event_id="bago", entity=MM07,
                                         status="resolved", at="2021-02-15T09:00:00Z"))

        with service.client() as client:
            atom = client.get("/v1/feeds/events.atom")
            assert atom.headers["content-type"].startswith("application/atom+xml")
            root = ET.fromstring(atom.content)  # noqa: S314 (our own output)
            assert root.tag == f"{A}feed"
            for required in ("id", "title", "updated"):
                assert root.find(f"{A}{required}") is not None
            entries = root.findall(f"{A}entry")
            assert len(entries) == 4
            first = entries[0]
            assert first.findtext(f"{A}title") == (
                "Blackout resolved: Bago (subdivision MM-07), resolved")
            assert first.findtext(f"{A}updated") == "2021-02-15T09:00:00Z"
            hrefs = {link.get("rel"): link.get("href") for link in first.findall(f"{A}link")}
            assert hrefs == {"alternate": "https://cutwatch.example/events/bago",
                             "related": "https://cutwatch.example/v1/events/bago"}
            assert len({e.findtext(f"{A}id") for e in entries}) == 4

            feed = client.get("/v1/feeds/events.json", params={"country": "MM",
                                                               "children": "true"})
            assert feed.headers["content-type"] == "application/feed+json"
            doc = json.loads(feed.content)
            assert doc["version"] == "https://jsonfeed.org/version/1.1"
            assert doc["feed_url"] == ("https://cutwatch.example/v1/feeds/events.json"
                                       "?country=MM&children=true")
            assert [(i["_cutwatch"]["event"]["id"], i["_cutwatch"]["action"])
                    for i in doc["items"]] == [("bago", "resolved"), ("isp", "opened"),
                                               ("bago", "opened")]
            assert all(i["id"] and i["content_text"] for i in doc["items"])

            def ids(**params: object) -> list[str]:
                items = client.get("/v1/feeds/events.json", params=params).json()["items"]
                return [i["_cutwatch"]["event"]["id"] for i in items]

            assert ids(country="MM") == []  # no country-level event in MM, children not asked
            assert ids(asn="AS9988", children="true") == ["isp"]
            assert ids(kind="throttling") == ["isp"]
            assert ids(min_status="confirmed") == ["iran"]
            # The resolution of an event that passed the bar is listed with it.
            assert ids(min_confidence=0.5) == ["bago", "iran", "bago"]
            assert ids(limit=1) == ["bago"]

            bad = client.get("/v1/feeds/events.atom", params={"min_status": "maybe"})
            assert bad.status_code == 422
            assert bad.json()["detail"].startswith("min_status: ")
            assert client.get("/v1/feeds/events.json", params={"limit": 0}).status_code == 422
