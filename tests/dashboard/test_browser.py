"""The dashboard in a real browser (Debian's chromium driven by Playwright) against a real
collector fed with an ongoing province blackout, on a phone-sized and a desktop viewport.

Every request the pages make is recorded; anything not addressed to the collector is aborted
and fails the test. Screenshots of the three pages go to ``$CUTWATCH_SCREENSHOTS`` (the
README's images: ``CUTWATCH_SCREENSHOTS=docs/screenshots``), else to the test's tmp dir.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from dashboard_blackout import PROVINCE, Loaded
from live_service import LiveService

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORTS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 2},
    "desktop": {"viewport": {"width": 1280, "height": 900}},
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (as root: apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("CUTWATCH_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_a_new_user_sees_the_blackout_its_drop_and_downloads_the_evidence(
        browser: Any, collector: LiveService, blackout: Loaded, device: str,
        tmp_path: Path) -> None:
    host = urlsplit(collector.url).netloc
    context = browser.new_context(accept_downloads=True, **VIEWPORTS[device])
    seen: list[str] = []
    foreign: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        seen.append(url)
        if urlsplit(url).netloc != host:
            foreign.append(url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", guard)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shots = _shots(tmp_path)
    height = VIEWPORTS[device]["viewport"]["height"]  # type: ignore[index]

    # Overview: the ongoing event is the first thing on the screen.
    page.goto(collector.url + "/")
    card = page.locator("#ongoing li").first
    sync_api.expect(card).to_contain_text("Blackout in Sagaing")
    sync_api.expect(page.locator("#ongoing-title")).to_have_text(re.compile("1 ongoing event"))
    box = card.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= height
    first_row = page.locator("#entities tbody tr").first
    sync_api.expect(first_row).to_contain_text("Blackout")
    sync_api.expect(first_row).to_contain_text(PROVINCE)
    page.screenshot(path=str(shots / f"overview-{device}.png"), full_page=device == "desktop")
    # keyboard: the first Tab reaches the skip link, which moves focus to the content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    # Entity page: the reporting chart has points and shows the drop.
    card.get_by_role("link", name=PROVINCE).click()
    page.wait_for_url(f"**/entities/subdivision/{PROVINCE}")
    page.wait_for_function("window.cutwatchCharts && window.cutwatchCharts.length >= 3")
    chart = page.evaluate("window.cutwatchCharts.filter(c => c.id === 'chart-reporting')"
                          ".map(c => ({data: c.data, labels: c.labels}))[0]")
    column = {label: chart["data"][n + 1] for n, label in enumerate(chart["labels"])}
    times = chart["data"][0]
    expected, reporting = column["Expected (registered)"], column["Reporting (uploads received)"]
    before = [r for t, r in zip(times, reporting, strict=True)
              if t < blackout.blackout_start.timestamp() - 600 and r]
    during = [r for t, r in zip(times, reporting, strict=True)
              if t >= blackout.blackout_start.timestamp() + 300]
    assert len(before) >= 10
    assert max(expected) == 10
    # 10 probes reporting (a 1-min bucket may miss one whose upload fell in the next), then none
    assert sorted(before)[len(before) // 2] >= 9
    assert during
    assert max(during) == 0
    canvas = page.locator("#chart-reporting canvas").first
    drawn = canvas.bounding_box()
    assert drawn is not None
    assert drawn["width"] > 250
    spec = json.loads(page.locator("#chart-reporting script.chart-spec").text_content() or "")
    event_start = blackout.transitions[-1]["event"]["start"]
    assert [b["start"] for b in spec["bands"]] == [
        datetime.fromisoformat(event_start.replace("Z", "+00:00")).timestamp()]
    alternative = page.locator("#chart-reporting .plot").get_attribute("aria-label") or ""
    assert page.locator("#chart-reporting .plot").get_attribute("role") == "img"
    summary = page.locator("#chart-reporting-summary").inner_text()
    assert alternative == summary
    assert "Reporting (uploads received) 0 at" in summary
    assert "highest 10" in summary
    page.screenshot(path=str(shots / f"entity-{device}.png"), full_page=device == "desktop")

    # Event page: kind, networks and every transition.
    page.locator("#main .cards li").first.get_by_role("link", name="Blackout in Sagaing").click()
    event_id = blackout.transitions[-1]["event"]["id"]
    page.wait_for_url(f"**/events/{event_id}")
    sync_api.expect(page.locator("#fact-kind")).to_have_text("Blackout")
    steps = page.locator("#timeline li")
    sync_api.expect(steps).to_have_count(len(blackout.transitions))
    sync_api.expect(steps.first).to_contain_text("Opened")
    page.wait_for_function("window.cutwatchCharts && window.cutwatchCharts.length >= 1")
    page.screenshot(path=str(shots / f"event-{device}.png"), full_page=device == "desktop")

    # The CSV export downloads and holds what the page shows.
    with page.expect_download() as info:
        page.get_by_role("link", name="Event, CSV").click()
    rows = list(csv.DictReader(Path(info.value.path()).read_text().splitlines()))
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == event_id
    assert row["entity_code"] == PROVINCE
    assert row["kind"] == "blackout"
    assert row["end"] == ""
    assert page.locator("#fact-start time").get_attribute("datetime") == row["start"]
    assert page.locator("#fact-probes").inner_text() == (
        f"{row['probes_affected']} of {row['probes_total']}")
    networks = page.locator("#fact-networks").inner_text()
    assert networks == ", ".join(f"AS{a}" for a in row["asns_affected"].split())
    with page.expect_download() as info:
        page.get_by_role("link", name="Event, IODA outage-event JSON").click()
    ioda = json.loads(Path(info.value.path()).read_text())["data"]
    assert [(e["location"], e["status"]) for e in ioda] == [(f"region/{PROVINCE}", 1)]

    # The API page's assets come from the collector too.
    page.goto(collector.url + "/docs")
    sync_api.expect(page.locator(".swagger-ui .info .title")).to_contain_text("Cutwatch")

    assert errors == []
    assert foreign == []
    assert len(seen) >= 10
    assert {urlsplit(u).netloc for u in seen} == {host}
    context.close()
