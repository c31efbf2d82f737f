"""Pure parts of the signals, exports and dashboard, as tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cutwatch.api import exports, series
from cutwatch.api.dashboard import view

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EVENT: dict[str, Any] = {
    "id": "e-1", "status": "confirmed", "kind": "blackout",
    "entity": {"type": "subdivision", "code": "MM-07", "name": "Bago"},
    "start": "2026-03-01T10:30:00Z", "end": None, "detected_at": "2026-03-01T10:33:00Z",
    "confidence": 0.9, "probes_affected": 12, "probes_total": 16, "asns_affected": [9988, 133385],
}


@pytest.mark.parametrize(("span_s", "points", "bucket"), [
    (3600, 200, 60), (6 * 3600, 200, 300), (86_400, 200, 900), (7 * 86_400, 200, 3600),
    (30 * 86_400, 200, 21_600), (30 * 86_400, 800, 3600), (400 * 86_400, 200, 86_400),
    (6 * 3600, 120, 300), (86_400, 120, 900), (7 * 86_400, 120, 10_800),
])
def test_bucket_choice(span_s: int, points: int, bucket: int) -> None:
    assert series.pick_bucket(span_s, points) == bucket


@pytest.mark.parametrize(("step", "span"), [
    (60, None), (300, 300), (900, 300), (1800, 300), (3600, 3600), (10_800, 3600),
    (21_600, 21_600), (86_400, 21_600),
])
def test_roll_up_span(step: int, span: int | None) -> None:
    assert series.roll_up_span(step) == span


def test_ioda_shape_and_csv_row_of_an_ongoing_event() -> None:
    assert exports.ioda_event(EVENT, NOW) == {
        "location": "region/MM-07", "location_name": "Bago", "start": 1772361000,
        "duration": 5400, "uncertainty": None, "status": 1, "fraction": 0.75, "score": 10.8,
        "overlaps_window": False, "datasource": "cutwatch", "method": "blackout",
        "cutwatch": {"id": "e-1", "status": "confirmed", "kind": "blackout"}}
    ended = {**EVENT, "end": "2026-03-01T11:00:00Z", "status": "resolved"}
    row = exports.event_row(ended, NOW)
    assert (row["duration_seconds"], row["end"], row["asns_affected"]) == (
        1800, "2026-03-01T11:00:00Z", "9988 133385")
    assert exports.ioda_event(ended, NOW)["status"] == 0


@pytest.mark.parametrize(("entity", "part"), [
    ({"type": "city", "code": "MM-07/Bago"}, "city-MM-07_Bago"),
    ({"type": "city", "code": 'MM/x"\r\nSet-Cookie: a'}, "city-MM_x_Set-Cookie_a"),
])
def test_download_names_hold_only_safe_characters(entity: dict[str, str], part: str) -> None:
    assert exports._file_part(entity) == part


@pytest.mark.parametrize(("seconds", "text"), [
    (59, "0 min"), (1500, "25 min"), (3600, "1 h 00 min"), (5400, "1 h 30 min"),
    (90_000, "1 d 1 h"),
])
def test_durations(seconds: int, text: str) -> None:
    assert view.duration(seconds) == text
