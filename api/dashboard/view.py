"""What the dashboard's templates show, as pure functions: times, labels, chart specs and the
sentences that say what each chart shows (its text alternative)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from cutwatch.api.series import Point, Series

KIND_LABEL = {
    "blackout": "Blackout", "international_cut": "International cut",
    "service_block": "Service blocked", "throttling": "Throttling",
    "power_outage": "Power outage", "unknown": "Unknown", "normal": "Normal",
}
TYPE_LABEL = {"country": "Country", "subdivision": "Province", "city": "City", "asn": "Network",
              "asn_subdivision": "Network in province"}
# Colour-blind-safe (Okabe-Ito) and each at least 4.5:1 against white.
COLOURS = ("#0060a8", "#b45309", "#6b21a8", "#1f6e43")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def when(value: str | datetime | None) -> str:
    if value is None:
        return "—"
    moment = parse(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def ago(value: str, now: datetime | None = None) -> str:
    """"for 25 min" style: the time elapsed since ``value``."""
    return duration(((now or datetime.now(UTC)) - parse(value)).total_seconds())


def lasted(event: Mapping[str, Any]) -> str:
    end = parse(event["end"]) if event.get("end") else datetime.now(UTC)
    return duration((end - parse(event["start"])).total_seconds())


def label(value: str) -> str:
    return KIND_LABEL.get(value) or TYPE_LABEL.get(value) or value.replace("_", " ").capitalize()


def entity_url(entity: Mapping[str, Any]) -> str:
    return f"/entities/{entity['type']}/{quote(str(entity['code']), safe='/')}"


def series_exports(query: str) -> list[tuple[str, str]]:
    return [("Signals, CSV", f"/v1/exports/series.csv?{query}"),
            ("Signals, JSON", f"/v1/exports/series.json?{query}")]


def event_exports(query: str, event_id: str) -> list[tuple[str, str]]:
    return [("Event, CSV", f"/v1/exports/events.csv?{query}"),
            ("Event with transitions, JSON", f"/v1/exports/events.json?{query}"),
            ("Event, IODA outage-event JSON", f"/v1/exports/events.ioda.json?{query}"),
            ("Event, read API", f"/v1/events/{quote(event_id, safe='')}")]


Getter = Callable[[Point], float | int | None]
CHARTS: tuple[tuple[str, str, str, tuple[tuple[str, Getter], ...]], ...] = (
    ("reporting", "Probes reporting", "probes", (
        # reporting last: drawn on top, it is the line that falls when an area is cut off
        ("Expected (registered)", lambda p: p.expected),
        ("Measuring (incl. late backlogs)", lambda p: p.measuring),
        ("Reporting (uploads received)", lambda p: p.reporting),
    )),
    ("reach", "Checks succeeding", "%", (
        ("Domestic targets", lambda p: _pct(p.domestic_ok_share)),
        ("International targets", lambda p: _pct(p.international_ok_share)),
    )),
    ("latency", "Latency of successful checks", "ms", (
        ("Median", lambda p: p.latency_p50_ms),
        ("90th percentile", lambda p: p.latency_p90_ms),
    )),
    ("throughput", "Download throughput", "bit/s", (
        ("Median", lambda p: p.throughput_p50_bps),
        ("90th percentile", lambda p: p.throughput_p90_bps),
    )),
)


def _pct(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def charts(found: Series, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Chart specs (data as columns of Unix seconds and values) with their summaries; a
    chart without a single value (no throughput measured) is left out."""
    xs = [int(p.t.timestamp()) for p in found.points]
    end = found.end.timestamp()
    bands = [{"start": parse(e["start"]).timestamp(),
              "end": parse(e["end"]).timestamp() if e.get("end") else end,
              "label": label(e["kind"])} for e in events]
    out = []
    for key, title, unit, lines in CHARTS:
        columns = [[get(p) for p in found.points] for _, get in lines]
        if not any(v is not None for col in columns for v in col):
            continue
        out.append({
            "id": f"chart-{key}", "title": title, "unit": unit,
            "series": [{"label": name, "colour": COLOURS[n], "dash": n == 0 and key == "reporting"}
                       for n, (name, _) in enumerate(lines)],
            "data": [xs, *columns], "bands": bands,
            "summary": summary(title, unit, [n for n, _ in lines], found.points, columns),
            "rows": [(when(p.t), *(("—" if v is None else v) for v in row))
                     for p, row in zip(found.points, zip(*columns, strict=True), strict=True)],
        })
    return out


def summary(title: str, unit: str, names: Sequence[str], points: Sequence[Point],
            columns: Sequence[Sequence[float | int | None]]) -> str:
    """The chart in words (its text alternative): per line, the latest value, the highest
    and the lowest, with their times."""
    parts = []
    for name, column in zip(names, columns, strict=True):
        known = [(v, p.t) for v, p in zip(column, points, strict=True) if v is not None]
        if not known:
            continue
        top = max(known, key=lambda vt: vt[0])
        low = min(known, key=lambda vt: vt[0])
        parts.append(f"{name} {_fmt(known[-1][0])} at {_short(known[-1][1])} "
                     f"(highest {_fmt(top[0])} at {_short(top[1])}, "
                     f"lowest {_fmt(low[0])} at {_short(low[1])})")
    return f"{title}, in {unit}: " + "; ".join(parts) + "."


def _short(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%m-%d %H:%M")


def _fmt(value: float) -> str:
    return f"{value:g}"
