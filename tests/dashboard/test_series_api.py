"""Signals API, exports and links on a real collector holding an ongoing province blackout.

The expected series are recomputed here in Python from the very rows the loader stored (an
independent oracle for the SQL), bucket by bucket.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from dashboard_blackout import PROVINCE, Loaded
from live_service import LiveService

from cutwatch.api import series
from cutwatch.api.webhooks import payloads
from cutwatch.detectors.model import ProbeInfo


def _bin(moment: datetime, step: int) -> datetime:
    origin = datetime(2000, 1, 1, tzinfo=UTC)
    return origin + timedelta(seconds=(moment - origin).total_seconds() // step * step)


def _members(loaded: Loaded, entity_type: str, code: str) -> set[str]:
    out = set()
    for pid, p in loaded.probes.items():
        info = ProbeInfo(pid, p["country"], p["subdivision"], p["city"], p["asn"], p["access"])
        if any(k.type == entity_type and k.code == code and k.access is None
               for k, _ in info.entities()):
            out.add(pid)
    return out


def _oracle(loaded: Loaded, members: set[str], first: datetime,
            step: int) -> tuple[dict[datetime, set[str]], dict[datetime, list[bool]]]:
    """Probes reporting and domestic outcomes per bucket, straight from the stored rows."""
    reporting: dict[datetime, set[str]] = defaultdict(set)
    for pid, at in loaded.uploads:
        if pid in members and first <= at < loaded.now:
            reporting[_bin(at, step)].add(pid)
    dom: dict[datetime, list[bool]] = defaultdict(list)
    for pid, at, scope, ok in loaded.results:
        if pid in members and scope == "domestic" and first <= at < loaded.now:
            dom[_bin(at, step)].append(ok)
    return reporting, dom


@pytest.mark.slow
@pytest.mark.parametrize("step", [60, 300, 900, 3600, 10800, 21600])  # raw rows, roll-ups
def test_series_match_the_stored_rows_and_show_the_drop(collector: LiveService,
                                                        blackout: Loaded, step: int) -> None:
    members = _members(blackout, "subdivision", PROVINCE)
    start = blackout.now - timedelta(hours=3)
    with collector.client() as client:
        answer = client.get("/v1/series", params={
            "entity": f"subdivision:{PROVINCE}", "start": start.isoformat(),
            "end": blackout.now.isoformat(), "bucket": step})
        assert answer.status_code == 200, answer.text
        got = answer.json()
    assert got["bucket_seconds"] == step
    assert got["entity"]["name"] == "Sagaing"
    first = _bin(start, step)
    reporting, dom = _oracle(blackout, members, first, step)
    points = got["points"]
    assert len(points) == -(-(blackout.now - first).total_seconds() // step)
    assert sum(len(v) for v in reporting.values()) > 0
    for p in points:
        t = datetime.fromisoformat(p["t"].replace("Z", "+00:00"))
        assert p["reporting"] == len(reporting.get(t, ())), p["t"]
        oks = dom.get(t)
        assert p["domestic_ok_share"] == (round(sum(oks) / len(oks), 4) if oks else None)
    if step != 60:
        return
    # the drop: all 10 report before the blackout, none once it is 5 minutes old
    cut = blackout.blackout_start
    assert max(p["reporting"] for p in points if p["t"] < _iso(cut - timedelta(minutes=10))) \
        == len(members) == 10
    assert {p["reporting"] for p in points if p["t"] >= _iso(cut + timedelta(minutes=5))} == {0}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.slow
def test_entities_status_and_the_publication_minimum(collector: LiveService,
                                                     blackout: Loaded,
                                                     database_url: str) -> None:
    with collector.client() as client:
        listed = client.get("/v1/entities").json()
        small = [(t, c) for t in series.ENTITY_TYPES
                 for c in {k.code for p in blackout.probes.values()
                           for k, _ in ProbeInfo(**p).entities() if k.type == t}
                 if len(_members(blackout, t, c)) < 3]
        assert small  # the fleet has networks-in-province with one or two probes
        etype, code = small[0]
        hidden = client.get("/v1/series", params={"entity": f"{etype}:{code}"})
        bad = client.get("/v1/series", params={"entity": "planet:Mars"})
        backwards = client.get("/v1/series", params={
            "entity": "country:MM", "start": "2026-01-02T00:00:00Z",
            "end": "2026-01-01T00:00:00Z"})
        narrow = client.get("/v1/series", params={
            "entity": "country:MM", "start": "2026-01-01T00:00:00Z",
            "end": "2026-03-01T00:00:00Z", "bucket": 60})
    assert listed["min_publishable_probes"] == 3
    first = listed["entities"][0]
    assert (first["type"], first["code"], first["status"]) == ("subdivision", PROVINCE,
                                                              "blackout")
    assert first["ongoing_events"] == [blackout.transitions[-1]["event"]["id"]]
    assert first["probes"] == 10
    assert first["reporting"] == 0
    shown = {(e["type"], e["code"]) for e in listed["entities"]}
    assert not shown & set(small)
    assert all(e["probes"] >= 3 for e in listed["entities"])
    assert {e["status"] for e in listed["entities"][1:]} == {"normal"}
    assert hidden.status_code == 404
    assert "fewer than 3 probes" in hidden.json()["detail"]
    for answer, word in ((bad, "TYPE:CODE"), (backwards, "before end"), (narrow, "bucket")):
        assert answer.status_code == 422
        assert word in answer.json()["detail"]
    # a stricter minimum hides more (the same function the route uses)
    cities = [e for e in _list(database_url, 6) if e.type == "city"]
    assert cities == []


def _list(database_url: str, minimum: int) -> list[series.EntityStatus]:
    async def go() -> list[series.EntityStatus]:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            return await series.list_entities(conn, minimum, 600)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


@pytest.mark.slow
def test_exports_hold_what_the_api_shows_and_links_reach_the_event_page(
        collector: LiveService, blackout: Loaded) -> None:
    event = blackout.transitions[-1]["event"]
    with collector.client() as client:
        api_events = client.get("/v1/events").json()["events"]
        as_csv = client.get("/v1/exports/events.csv")
        as_json = client.get("/v1/exports/events.json", params={"event": event["id"]})
        ioda = client.get("/v1/exports/events.ioda.json").json()["data"]
        params = {"entity": f"subdivision:{PROVINCE}",
                  "start": _iso(blackout.now - timedelta(hours=1)), "end": _iso(blackout.now)}
        s_json = client.get("/v1/exports/series.json", params=params)
        s_csv = client.get("/v1/exports/series.csv", params=params)
        link = payloads.links(collector.settings.public_base_url, event["id"])["dashboard"]
        page = client.get(link.removeprefix(collector.settings.public_base_url))
        feed = client.get("/v1/feeds/events.json").json()
        home = client.get("/events", follow_redirects=True)
    assert as_csv.headers["content-disposition"].startswith("attachment; filename=")
    rows = list(csv.DictReader(as_csv.text.splitlines()))
    assert [r["id"] for r in rows] == [e["id"] for e in api_events] == [event["id"]]
    assert rows[0]["start"] == event["start"]
    assert rows[0]["status"] == "suspected"
    assert int(rows[0]["probes_affected"]) == event["probes_affected"]
    assert json.loads(as_json.text)["events"] == [
        {"event": event, "transitions": blackout.transitions}]
    start = datetime.fromisoformat(event["start"].replace("Z", "+00:00"))
    assert ioda[0]["location"] == f"region/{PROVINCE}"
    assert ioda[0]["status"] == 1
    assert ioda[0]["start"] == int(start.timestamp())
    assert ioda[0]["duration"] >= (blackout.now - start).total_seconds()
    points: list[dict[str, Any]] = s_json.json()["points"]
    table = list(csv.DictReader(s_csv.text.splitlines()))
    assert len(table) == len(points) > 50
    assert [int(r["reporting"]) for r in table] == [p["reporting"] for p in points]
    assert link == f"https://cutwatch.example/events/{event['id']}"
    assert page.status_code == 200
    assert "Blackout in Sagaing" in page.text
    assert feed["home_page_url"] == "https://cutwatch.example/"
    assert home.status_code == 200
    assert "1 ongoing event" in home.text
