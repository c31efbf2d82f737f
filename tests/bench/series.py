"""Signals benchmark: how long the dashboard's charts take to compute.

    python -m tests.bench.series [--probes 1000] [--days 30] [--raw-hours 6] [--runs 9]
                                 [--database-url URL]

Without a URL it starts a throw-away embedded PostgreSQL. A country of ``--probes`` probes in
14 provinces, ``--days`` of hourly and 6-hourly roll-up rows (what the probe_rollups triggers
keep for 60 uploads and 488 results an hour per probe, the probe's default schedule, with
churn and a 6-hour province blackout), plus the last ``--raw-hours`` as raw rows (one upload
and 8 results a minute per probe; the triggers add them to the roll-ups).

Figures: the 30-day chart of the whole country (``GET /v1/series``'s default for that range:
120 points of 6 hours, from the 6-hour roll-up; and 720 hourly points on request), the 6-hour
chart (5-minute buckets, from the 5-minute roll-up) and the 1-hour chart (1-minute buckets,
from the raw rows), each as the SQL alone (``cutwatch.api.series.read_series``) and through the real
HTTP route, median and worst of ``--runs`` after one warm-up; then what the roll-up triggers
cost ingest (``store_batch`` with and without them, ``--ingest-total`` results each).
"Churn": about 3 % of probe-hours silent.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from cutwatch.api import app as service_app
from cutwatch.api import series
from cutwatch.api.migrate import migrate_url
from cutwatch.api.settings import Settings
from tests.bench.ingest import bench_store
from tests.bench.scratch import scratch_database
from tests.live_service import LiveService

PROBES_SQL = """
INSERT INTO probes (id, token_hash, country, subdivision, city, access, asn, enrolled_by,
                    registered_at, last_seen_at)
SELECT format('b-%%s', lpad(i::text, 5, '0')), 'x', 'MM',
       format('MM-%%s', lpad((i %% 14 + 1)::text, 2, '0')), format('City%%s', i %% 5),
       CASE WHEN i %% 3 = 0 THEN 'mobile' ELSE 'fixed' END,
       64500 + i %% 8, 'bench', %(now)s - make_interval(days => %(days)s + 1), %(now)s
FROM generate_series(1, %(probes)s) AS i
"""
# One row per probe and hour. Churn: ~3 % of probe-hours silent; MM-03 blacked out 6 hours
# on day 20 (no uploads then; the backlog's measurements show domestic checks failing).
HOURS_SQL = """
INSERT INTO probe_rollups (span_s, bucket, probe_id, uploads, results, dom_total, dom_ok,
                         intl_total, intl_ok, latency_n, latency_sum, throughput_n,
                         throughput_sum)
SELECT 3600, h, p.id,
       CASE WHEN dark OR quiet THEN 0 ELSE 60 END,
       CASE WHEN quiet THEN 0 ELSE 488 END,
       CASE WHEN quiet THEN 0 ELSE 200 END,
       CASE WHEN quiet OR dark THEN 0 ELSE 196 END,
       CASE WHEN quiet THEN 0 ELSE 200 END,
       CASE WHEN quiet OR dark THEN 0 ELSE 190 END,
       CASE WHEN quiet OR dark THEN 0 ELSE 386 END,
       CASE WHEN quiet OR dark THEN 0 ELSE 386 * (120 + random() * 80) END,
       CASE WHEN quiet OR dark THEN 0 ELSE 4 END,
       CASE WHEN quiet OR dark THEN 0 ELSE 4 * (2e7 + random() * 1e7) END
FROM probes p,
     generate_series(date_bin('1 hour', %(now)s - make_interval(days => %(days)s),
                              TIMESTAMPTZ '2000-01-01Z'),
                     %(now)s - make_interval(hours => %(raw_hours)s + 1),
                     interval '1 hour') AS h,
     LATERAL (SELECT p.subdivision = 'MM-03'
                     AND h >= %(now)s - interval '10 days'
                     AND h < %(now)s - interval '10 days' + interval '6 hours' AS dark,
                     random() < 0.03 AS quiet) AS f
"""
# The 6-hour roll-up the triggers would have kept beside the hourly one.
SPAN6_SQL = """
INSERT INTO probe_rollups (span_s, bucket, probe_id, uploads, results, dom_total, dom_ok,
                         intl_total, intl_ok, latency_n, latency_sum, throughput_n,
                         throughput_sum)
SELECT 21600, date_bin('6 hours', bucket, TIMESTAMPTZ '2000-01-01Z'), probe_id, sum(uploads),
       sum(results), sum(dom_total), sum(dom_ok), sum(intl_total), sum(intl_ok),
       sum(latency_n), sum(latency_sum), sum(throughput_n), sum(throughput_sum)
FROM probe_rollups WHERE span_s = 3600 GROUP BY 2, 3
"""
RAW_BATCHES_SQL = """
INSERT INTO batches (batch_id, probe_id, seq, sent_at, received_at, result_count,
                     accepted_count, spool_depth, dropped_total)
SELECT gen_random_uuid(), p.id, m, t, t + interval '1 second', 8, 8, 0, 0
FROM probes p, generate_series(1, 60 * %(raw_hours)s) AS m,
     LATERAL (SELECT %(now)s - make_interval(mins => m) + make_interval(
                  secs => (hashtext(p.id) & 59)) AS t) AS x
"""
RAW_RESULTS_SQL = """
INSERT INTO results (id, probe_id, batch_id, kind, target, scope, family, measured_at,
                     received_at, duration_ms, ok, failure, details)
SELECT gen_random_uuid(), b.probe_id, b.batch_id, 'tcp', format('t%%s', k),
       CASE WHEN k < 4 THEN 'domestic' ELSE 'international' END, 'ipv4',
       b.sent_at - make_interval(secs => k), b.received_at, 100 + random() * 200,
       random() > 0.02, NULL, '{}'::jsonb
FROM batches b, generate_series(0, 7) AS k
"""


CALIBRATION_SQL = "SELECT count(*) FROM generate_series(1, 3000000)"


def timed(runs: int, call: object) -> tuple[float, float]:
    assert callable(call)
    call()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def load(url: str, probes: int, days: int, raw_hours: int, now: datetime) -> None:
    asyncio.run(migrate_url(url))
    params = {"now": now, "days": days, "probes": probes, "raw_hours": raw_hours}
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute(PROBES_SQL, params)
        conn.execute(HOURS_SQL, params)
        conn.execute(SPAN6_SQL)
        # the last hours as raw rows; the triggers add them to probe_rollups too
        conn.execute(RAW_BATCHES_SQL, params)
        conn.execute(RAW_RESULTS_SQL, params)
        conn.execute("VACUUM ANALYZE")
        counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()  # noqa: S608
                  for t in ("probes", "probe_rollups", "batches", "results")]
        print(f"loaded in {time.perf_counter() - started:.0f} s: "
              + ", ".join(f"{t} {c[0] if c else 0:,}" for t, c in zip(
                  ("probes", "probe_rollups", "batches", "results"), counts, strict=True)))


class SqlChart:
    """``read_series`` on one open connection, as the service's pool would hold it."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(psycopg.AsyncConnection.connect(
            url, autocommit=True, options="-c timezone=UTC"))

    def chart(self, span: timedelta, bucket: int | None, now: datetime) -> int:
        win = series.window(now - span, now, bucket, now)
        return len(self.loop.run_until_complete(
            series.read_series(self.conn, "country", "MM", None, win)))

    def scalar(self, sql: str) -> object:
        async def one() -> object:
            cur = await self.conn.execute(sql)
            row = await cur.fetchone()
            return row[0] if row else None
        return self.loop.run_until_complete(one())

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


def ingest_cost(url: str, total: int) -> None:
    """store_batch (1000-result batches) with the roll-up triggers, then without, then with
    again: what keeping the roll-ups costs ingest, as a ratio within one run."""
    rates = []
    for n, enabled in enumerate((True, False, True)):
        verb = "ENABLE" if enabled else "DISABLE"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE results {verb} TRIGGER results_probe_rollups")
            conn.execute(f"ALTER TABLE batches {verb} TRIGGER batches_probe_rollups")
        rates.append(asyncio.run(bench_store(url, 1000, total, f"p-ingest-{n}")))
    with_triggers = statistics.mean([rates[0], rates[2]])
    print(f"ingest (store_batch, 1000-result batches): {with_triggers:,.0f} results/s with the "
          f"roll-up triggers, {rates[1]:,.0f} without ({with_triggers / rates[1]:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--raw-hours", type=int, default=6)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--ingest-total", type=int, default=20_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    with scratch_database(args.database_url) as url:
        load(url, args.probes, args.days, args.raw_hours, now)
        settings = Settings(database_url=url, pool_max_size=2)
        # Only the HTTP route is measured: the detector leader (which would rebuild six hours
        # of these uploads) and the webhook dispatcher are not started beside it.
        service_app.WORKERS.clear()
        charts = SqlChart(url)
        calibration = timed(args.runs, lambda: charts.scalar(CALIBRATION_SQL))
        print(f"CPU calibration in this run ({CALIBRATION_SQL}): median "
              f"{calibration[0]:.0f} ms, max {calibration[1]:.0f} ms")
        with LiveService(settings) as live, httpx.Client(base_url=live.url, timeout=60) as client:
            print(f"{'chart (country, ' + str(args.probes) + ' probes)':<34} {'points':>6} "
                  f"{'bucket':>7} {'SQL median/max ms':>18} {'HTTP median/max ms':>19}")
            days = timedelta(days=args.days)
            for label, span, bucket in (
                    (f"{args.days} days (default buckets)", days, None),
                    (f"{args.days} days, hourly", days, 3600),
                    ("6 hours", timedelta(hours=6), None),
                    ("1 hour", timedelta(hours=1), None)):
                params: dict[str, str | int] = {
                          "entity": "country:MM", "start": (now - span).isoformat(),
                          "end": now.isoformat(), **({"bucket": bucket} if bucket else {})}
                body = client.get("/v1/series", params=params).json()
                sql = timed(args.runs, lambda s=span, b=bucket: charts.chart(s, b, now))
                http = timed(args.runs, lambda p=params: client.get(
                    "/v1/series", params=p).raise_for_status())
                print(f"{label:<34} {len(body['points']):>6} {body['bucket_seconds']:>6}s "
                      f"{sql[0]:>9.0f} /{sql[1]:>6.0f} {http[0]:>10.0f} /{http[1]:>6.0f}")
            dark = [p for p in client.get("/v1/series", params={
                "entity": "subdivision:MM-03", "start": (now - timedelta(days=11)).isoformat(),
                "end": (now - timedelta(days=9)).isoformat(), "bucket": 3600}).json()["points"]
                if p["reporting"] == 0 and p["expected"] > 0]
            print(f"check: MM-03 reports no probe for {len(dark)} of the 48 hours around "
                  f"its blackout (6 expected)")
        charts.close()
        ingest_cost(url, args.ingest_total)


if __name__ == "__main__":
    main()
