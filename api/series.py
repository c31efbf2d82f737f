"""Read side of the signals: entities with their status, and bucketed series per entity.

Everything is computed in SQL with ``date_bin`` (plain PostgreSQL 15+, and TimescaleDB, where
``date_bin`` is as fast as ``time_bucket`` on a hypertable). Uploads (``batches.received_at``)
say who is *reporting* now; measurements (``results.measured_at``, backlogs included) say what
the probes saw. Entities with fewer probes than ``min_publishable_probes`` are never shown:
their probes are counted in the parent entity only, so a lone volunteer is not singled out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, get_args

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import AwareDatetime, BaseModel

from cutwatch.api.db import Conn
from cutwatch.api.state import get_state
from cutwatch.detectors import codes
from cutwatch.detectors.model import EntityType, place_name

router = APIRouter(tags=["signals"])
ENTITY_TYPES: Final[tuple[str, ...]] = get_args(EntityType)

# How each entity code is spelt from a probe row (the detector's codes, detectors/model.py).
CODE_SQL: Final[dict[str, str]] = {
    "country": "p.country",
    "subdivision": "p.subdivision",
    "city": "COALESCE(p.subdivision, p.country) || '/' || p.city",
    "asn": "'AS' || p.asn",
    "asn_subdivision": "'AS' || p.asn || '/' || p.subdivision",
}
# The wider entity a too-small one is folded into.
PARENT: Final[dict[str, str]] = {"subdivision": "country", "city": "subdivision",
                                 "asn_subdivision": "asn"}
# Bucket widths a chart may get; the narrowest giving at most MAX_POINTS points is chosen
# (a 30-day chart: 6-hour buckets, read from the 6-hour roll-up). Asked for explicitly, a
# bucket may give up to MAX_ASKED_POINTS.
BUCKETS_S: Final = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86_400)
MAX_POINTS: Final = 200
MAX_ASKED_POINTS: Final = 8000
MAX_RANGE: Final = timedelta(days=400)
ONGOING: Final = ("suspected", "confirmed")
# Every bucket is aligned on this origin, as in the probe_rollups table (migration 0006).
ROLLUP_SPANS_S: Final = (21600, 3600, 300)
ORIGIN: Final = datetime(2000, 1, 1, tzinfo=UTC)

# Built from the CODE_SQL constants only.
ENTITIES_SQL: Final = " UNION ALL ".join(
    f"SELECT '{t}' AS type, {c} AS code, count(*) AS probes,"  # noqa: S608
    " count(*) FILTER (WHERE p.last_seen_at > now() - make_interval(secs => %(silent)s))"
    " AS reporting FROM probes p"
    f" WHERE p.disabled_at IS NULL AND {c} IS NOT NULL GROUP BY 2"
    " HAVING count(*) >= %(min)s"
    for t, c in CODE_SQL.items())
ONGOING_SQL: Final = (
    "SELECT entity_type, entity_code, id::text, kind, status, event->'entity'->>'name'"
    " FROM events WHERE status IN ('suspected', 'confirmed') ORDER BY start_at")


def roll_up_span(step_s: int) -> int | None:
    """The widest roll-up span (seconds) a bucket of ``step_s`` is made of, or None: the
    bucket is read from the raw rows (1-minute buckets)."""
    return next((span for span in ROLLUP_SPANS_S if step_s % span == 0), None)


def series_sql(entity_type: str, step_s: int) -> str:
    """One row per bucket from the bucket holding ``start`` to ``end``: expected, reporting,
    measuring, shares and percentiles. Buckets made of whole roll-up spans (5 min, 1 h, 6 h)
    read probe_rollups (one row per probe and span), where the percentiles are those of each
    probe's mean over the bucket; 1-minute buckets read the uploads and measurements."""
    code = CODE_SQL[entity_type]
    span = roll_up_span(step_s)
    if span is None:
        measures = RAW_SQL
    elif step_s == span:
        measures = HOURS_SQL.format(per=ONE_HOUR_SQL)
    else:
        measures = HOURS_SQL.format(per=HOURS_PER_PROBE_SQL)
    return f"""
WITH members AS (
    SELECT p.id, p.registered_at FROM probes p
    WHERE p.disabled_at IS NULL AND {code} = %(code)s
      AND (%(access)s::text IS NULL OR p.access = %(access)s::text)
), grid AS (
    SELECT g AS bucket FROM generate_series(%(first)s, %(end)s - interval '1 microsecond',
                                            %(step)s) AS g
), joined AS (
    -- registered before the first bucket: counted from the first
    SELECT greatest(date_bin(%(step)s, registered_at, %(origin)s), %(first)s) AS bucket,
           count(*) AS n
    FROM members GROUP BY 1
), {measures}
SELECT grid.bucket, sum(COALESCE(joined.n, 0)) OVER (ORDER BY grid.bucket)::int,
       COALESCE(m.reporting, 0), COALESCE(m.measuring, 0),
       m.dom_total, m.dom_ok, m.intl_total, m.intl_ok, m.latency_ms, m.throughput_bps
FROM grid LEFT JOIN joined USING (bucket) LEFT JOIN m USING (bucket)
ORDER BY grid.bucket
"""  # noqa: S608 (built from CODE_SQL constants only)


RAW_SQL: Final = """up AS (
    SELECT date_bin(%(step)s, b.received_at, %(origin)s) AS bucket,
           count(DISTINCT b.probe_id) AS reporting
    FROM batches b WHERE b.probe_id IN (SELECT id FROM members)
      AND b.received_at >= %(first)s AND b.received_at < %(end)s
    GROUP BY 1
), measured AS (
    SELECT date_bin(%(step)s, r.measured_at, %(origin)s) AS bucket,
           count(DISTINCT r.probe_id) AS measuring,
           count(*) FILTER (WHERE r.scope = 'domestic') AS dom_total,
           count(*) FILTER (WHERE r.scope = 'domestic' AND r.ok) AS dom_ok,
           count(*) FILTER (WHERE r.scope = 'international') AS intl_total,
           count(*) FILTER (WHERE r.scope = 'international' AND r.ok) AS intl_ok,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY r.duration_ms)
               FILTER (WHERE r.ok AND r.scope IN ('domestic', 'international'))
               AS latency_ms,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (
               ORDER BY (r.details->>'throughput_bps')::double precision)
               FILTER (WHERE r.ok AND r.details ? 'throughput_bps') AS throughput_bps
    FROM results r WHERE r.probe_id IN (SELECT id FROM members)
      AND r.measured_at >= %(first)s AND r.measured_at < %(end)s
    GROUP BY 1
), m AS (
    SELECT bucket, up.reporting, measured.measuring, measured.dom_total, measured.dom_ok,
           measured.intl_total, measured.intl_ok, measured.latency_ms, measured.throughput_bps
    FROM up FULL JOIN measured USING (bucket)
)
"""
# One row per probe and bucket: the roll-up's own rows when the bucket is one span...
ONE_HOUR_SQL: Final = """
    SELECT h.bucket, h.probe_id, h.uploads > 0 AS up, h.results > 0 AS measured,
           h.dom_total, h.dom_ok, h.intl_total, h.intl_ok,
           h.latency_sum / NULLIF(h.latency_n, 0) AS latency,
           h.throughput_sum / NULLIF(h.throughput_n, 0) AS throughput
    FROM probe_rollups h
    WHERE h.probe_id IN (SELECT id FROM members) AND h.span_s = %(span)s
      AND h.bucket >= %(first)s AND h.bucket < %(end)s
"""
# ... and its spans added up when the bucket is several spans wide.
HOURS_PER_PROBE_SQL: Final = """
    SELECT date_bin(%(step)s, h.bucket, %(origin)s) AS bucket, h.probe_id,
           sum(h.uploads) > 0 AS up, sum(h.results) > 0 AS measured,
           sum(h.dom_total) AS dom_total, sum(h.dom_ok) AS dom_ok,
           sum(h.intl_total) AS intl_total, sum(h.intl_ok) AS intl_ok,
           sum(h.latency_sum) / NULLIF(sum(h.latency_n), 0) AS latency,
           sum(h.throughput_sum) / NULLIF(sum(h.throughput_n), 0) AS throughput
    FROM probe_rollups h
    WHERE h.probe_id IN (SELECT id FROM members) AND h.span_s = %(span)s
      AND h.bucket >= %(first)s AND h.bucket < %(end)s
    GROUP BY 1, 2
"""
HOURS_SQL: Final = """per AS ({per}), m AS (
    SELECT bucket, count(*) FILTER (WHERE up) AS reporting,
           count(*) FILTER (WHERE measured) AS measuring,
           sum(dom_total) AS dom_total, sum(dom_ok) AS dom_ok,
           sum(intl_total) AS intl_total, sum(intl_ok) AS intl_ok,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY latency)
               FILTER (WHERE latency IS NOT NULL) AS latency_ms,
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY throughput)
               FILTER (WHERE throughput IS NOT NULL) AS throughput_bps
    FROM per GROUP BY bucket
)
"""


class EntityStatus(BaseModel):
    type: str
    code: str
    name: str
    probes: int
    reporting: int
    status: str  # "normal", or the kind of the ongoing event ("blackout", ...)
    ongoing_events: list[str]


class EntityList(BaseModel):
    min_publishable_probes: int
    entities: list[EntityStatus]


class Point(BaseModel):
    t: datetime
    expected: int
    reporting: int
    measuring: int
    domestic_ok_share: float | None
    international_ok_share: float | None
    latency_p50_ms: float | None
    latency_p90_ms: float | None
    throughput_p50_bps: float | None
    throughput_p90_bps: float | None


class Series(BaseModel):
    entity: dict[str, str]
    start: datetime
    end: datetime
    bucket_seconds: int
    points: list[Point]


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    step: int


def entity_name(entity_type: str, code: str) -> str:
    if entity_type in ("country", "subdivision"):
        return place_name(code)
    if entity_type == "city":
        return codes.parse(entity_type, code).city or ""
    return code


def parse_entity(value: str) -> tuple[str, str]:
    """``TYPE:CODE`` (``subdivision:MM-07``, ``city:MM-07/Bago``) -> (type, code)."""
    entity_type, code = codes.parse_ref(value)
    if entity_type not in ENTITY_TYPES or not code:
        raise HTTPException(422, "entity: expected TYPE:CODE with TYPE one of "
                                 + ", ".join(ENTITY_TYPES))
    return entity_type, code


def window(start: datetime | None, end: datetime | None, bucket: int | None,
           now: datetime) -> Window:
    """The range asked for (default: the last 24 hours) and its bucket width."""
    end = end or now
    start = start or end - timedelta(hours=24)
    if start >= end:
        raise HTTPException(422, "start: must be before end")
    if end - start > MAX_RANGE:
        raise HTTPException(422, f"start: the range may span at most {MAX_RANGE.days} days")
    span = (end - start).total_seconds()
    if bucket is None:
        bucket = pick_bucket(span)
    elif span / bucket > MAX_ASKED_POINTS:
        raise HTTPException(422, f"bucket: too narrow for the range (more than "
                                 f"{MAX_ASKED_POINTS} points)")
    return Window(start, end, bucket)


def pick_bucket(span_s: float, max_points: int = MAX_POINTS) -> int:
    """The narrowest bucket of BUCKETS_S giving at most ``max_points`` points."""
    return next((b for b in BUCKETS_S if span_s / b <= max_points), BUCKETS_S[-1])


async def list_entities(conn: Conn, min_probes: int, silent_after_s: int) -> list[EntityStatus]:
    """Every publishable entity, the ones with an ongoing event first."""
    cur = await conn.execute(ENTITIES_SQL, {"silent": silent_after_s, "min": min_probes})
    counts = await cur.fetchall()
    cur = await conn.execute(ONGOING_SQL)
    ongoing: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for etype, code, eid, kind, _status, _name in await cur.fetchall():
        ongoing.setdefault((etype, code), []).append((eid, kind))
    out = []
    for etype, code, probes, reporting in counts:
        events = ongoing.get((etype, code), [])
        out.append(EntityStatus(
            type=etype, code=code, name=entity_name(etype, code), probes=probes,
            reporting=reporting, status=events[0][1] if events else "normal",
            ongoing_events=[e[0] for e in events]))
    rank = {t: n for n, t in enumerate(ENTITY_TYPES)}
    out.sort(key=lambda e: (e.status == "normal", rank[e.type], e.code))
    return out


async def publishable(conn: Conn, entity_type: str, code: str, min_probes: int) -> int:
    """The entity's probe count; 404 when unknown or too small to publish (with its parent)."""
    cur = await conn.execute(
        f"SELECT count(*) FROM probes p WHERE p.disabled_at IS NULL"  # noqa: S608 (CODE_SQL)
        f" AND {CODE_SQL[entity_type]} = %s", (code,))
    row = await cur.fetchone()
    probes = int(row[0]) if row else 0
    if probes == 0:
        raise HTTPException(404, f"no probes in {entity_type}:{code}")
    if probes < min_probes:
        parent = PARENT.get(entity_type, "country")
        raise HTTPException(404, f"{entity_type}:{code} has fewer than {min_probes} probes and "
                                 f"is only published as part of its {parent}")
    return probes


async def read_series(conn: Conn, entity_type: str, code: str, access: str | None,
                      win: Window) -> list[Point]:
    step = timedelta(seconds=win.step)
    first = ORIGIN + (win.start - ORIGIN) // step * step  # date_bin(step, start, ORIGIN)
    params: dict[str, Any] = {
        "code": code, "access": access, "first": first, "end": win.end, "step": step,
        "origin": ORIGIN, "span": roll_up_span(win.step),
    }
    cur = await conn.execute(series_sql(entity_type, win.step), params)
    return [_point(row) for row in await cur.fetchall()]


def _point(row: tuple[Any, ...]) -> Point:
    bucket, expected, reporting, measuring, dom_t, dom_ok, intl_t, intl_ok, lat, thr = row
    lat, thr = lat or [None, None], thr or [None, None]
    return Point(
        t=bucket, expected=expected, reporting=reporting, measuring=measuring,
        domestic_ok_share=_share(dom_ok, dom_t), international_ok_share=_share(intl_ok, intl_t),
        latency_p50_ms=_round(lat[0]), latency_p90_ms=_round(lat[1]),
        throughput_p50_bps=_round(thr[0]), throughput_p90_bps=_round(thr[1]))


def _share(ok: int | None, total: int | None) -> float | None:
    return round(ok / total, 4) if ok is not None and total else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def series_for(request: Request, entity: str, start: datetime | None,
                     end: datetime | None, bucket: int | None,
                     access: str | None = None) -> Series:
    """The shared body of the JSON route, the exports and the dashboard."""
    entity_type, code = parse_entity(entity)
    state = get_state(request)
    win = window(start, end, bucket, datetime.now(UTC).replace(microsecond=0))
    async with state.pool.connection() as conn:
        await publishable(conn, entity_type, code, state.settings.min_publishable_probes)
        points = await read_series(conn, entity_type, code, access, win)
    return Series(entity={"type": entity_type, "code": code,
                          "name": entity_name(entity_type, code)},
                  start=win.start, end=win.end, bucket_seconds=win.step, points=points)


EntityQuery = Annotated[str, Query(max_length=120,
                                   description="TYPE:CODE, e.g. subdivision:MM-07")]
StartQuery = Annotated[AwareDatetime | None, Query(description="default: end - 24 h")]
EndQuery = Annotated[AwareDatetime | None, Query(description="default: now")]
BucketQuery = Annotated[int | None, Query(ge=60, le=86_400, description=(
    "bucket width in seconds; default: the narrowest of 1 min .. 1 day giving <= 200 points"))]
AccessQuery = Annotated[str | None, Query(pattern="^(fixed|mobile|satellite)$")]


@router.get("/v1/entities", response_model=EntityList)
async def get_entities(request: Request) -> EntityList:
    """Every entity with at least ``min_publishable_probes`` probes: probe counts and status
    (the kind of its ongoing event, or ``normal``), entities with an ongoing event first."""
    state = get_state(request)
    settings = state.settings
    async with state.pool.connection() as conn:
        entities = await list_entities(conn, settings.min_publishable_probes,
                                       settings.silent_after_seconds)
    return EntityList(min_publishable_probes=settings.min_publishable_probes, entities=entities)


@router.get("/v1/series", response_model=Series)
async def get_series(request: Request, entity: EntityQuery, start: StartQuery = None,
                     end: EndQuery = None, bucket: BucketQuery = None,
                     access: AccessQuery = None) -> Series:
    """Bucketed signals of one entity: probes expected (registered), reporting (uploads
    received), measuring (measurements taken, backlogs included), the share of domestic and
    international checks that succeeded, latency and throughput percentiles (p50, p90)."""
    return await series_for(request, entity, start, end, bucket, access)
