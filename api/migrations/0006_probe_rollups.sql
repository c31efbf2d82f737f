-- 0006_probe_rollups: roll-ups per probe over 5 minutes, 1 hour and 6 hours (span_s), so a
-- chart reads one row per probe and point (a 30-day chart of a country: 120 rows per probe)
-- instead of every upload and measurement. Kept by triggers in the same transaction as the
-- rows they count (a backlog that arrives late updates the spans it was
-- measured in). Uploads count in the span they were received, results in the span they
-- were measured. Plain PostgreSQL 15+; on a TimescaleDB hypertable, where statement
-- triggers cannot see transition tables, the results trigger runs per row instead.

CREATE TABLE probe_rollups (
    span_s integer NOT NULL CHECK (span_s IN (300, 3600, 21600)),
    bucket timestamptz NOT NULL,               -- date_bin(span_s seconds, ..., 2000-01-01 UTC)
    probe_id text NOT NULL REFERENCES probes (id),
    uploads integer NOT NULL DEFAULT 0,        -- batches received in the span
    results integer NOT NULL DEFAULT 0,        -- results measured in the span
    dom_total integer NOT NULL DEFAULT 0,
    dom_ok integer NOT NULL DEFAULT 0,
    intl_total integer NOT NULL DEFAULT 0,
    intl_ok integer NOT NULL DEFAULT 0,
    latency_n integer NOT NULL DEFAULT 0,      -- successful domestic/international checks
    latency_sum double precision NOT NULL DEFAULT 0,
    throughput_n integer NOT NULL DEFAULT 0,
    throughput_sum double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (probe_id, span_s, bucket)
);
CREATE INDEX probe_rollups_bucket_idx ON probe_rollups (span_s, bucket);

CREATE FUNCTION probe_rollups_upsert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'batches' THEN
        INSERT INTO probe_rollups AS h (span_s, bucket, probe_id, uploads)
        SELECT s.span_s, date_bin(make_interval(secs => s.span_s), received_at,
                                  TIMESTAMPTZ '2000-01-01 00:00:00+00'),
               probe_id, count(*)
        FROM new_rows, (VALUES (300), (3600), (21600)) AS s (span_s)
        GROUP BY 1, 2, 3 ORDER BY 3, 1, 2
        ON CONFLICT (probe_id, span_s, bucket)
        DO UPDATE SET uploads = h.uploads + EXCLUDED.uploads;
    ELSE
        INSERT INTO probe_rollups AS h (span_s, bucket, probe_id, results, dom_total, dom_ok,
                                      intl_total, intl_ok, latency_n, latency_sum,
                                      throughput_n, throughput_sum)
        SELECT s.span_s, date_bin(make_interval(secs => s.span_s), measured_at,
                        TIMESTAMPTZ '2000-01-01 00:00:00+00'), probe_id,
               count(*),
               count(*) FILTER (WHERE scope = 'domestic'),
               count(*) FILTER (WHERE scope = 'domestic' AND ok),
               count(*) FILTER (WHERE scope = 'international'),
               count(*) FILTER (WHERE scope = 'international' AND ok),
               count(*) FILTER (WHERE ok AND scope IN ('domestic', 'international')),
               COALESCE(sum(duration_ms) FILTER (
                   WHERE ok AND scope IN ('domestic', 'international')), 0),
               count(*) FILTER (WHERE ok AND details ? 'throughput_bps'),
               COALESCE(sum((details->>'throughput_bps')::double precision) FILTER (
                   WHERE ok AND details ? 'throughput_bps'), 0)
        FROM new_rows, (VALUES (300), (3600), (21600)) AS s (span_s)
        GROUP BY 1, 2, 3 ORDER BY 3, 1, 2  -- one lock order: no deadlock
        ON CONFLICT (probe_id, span_s, bucket) DO UPDATE SET
            results = h.results + EXCLUDED.results,
            dom_total = h.dom_total + EXCLUDED.dom_total,
            dom_ok = h.dom_ok + EXCLUDED.dom_ok,
            intl_total = h.intl_total + EXCLUDED.intl_total,
            intl_ok = h.intl_ok + EXCLUDED.intl_ok,
            latency_n = h.latency_n + EXCLUDED.latency_n,
            latency_sum = h.latency_sum + EXCLUDED.latency_sum,
            throughput_n = h.throughput_n + EXCLUDED.throughput_n,
            throughput_sum = h.throughput_sum + EXCLUDED.throughput_sum;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER batches_probe_rollups AFTER INSERT ON batches
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION probe_rollups_upsert();

DO $hours$
DECLARE
    hyper boolean := false;
BEGIN
    -- dynamic: the catalogue exists only where TimescaleDB is installed
    IF to_regclass('_timescaledb_catalog.hypertable') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM _timescaledb_catalog.hypertable'
                ' WHERE table_name = ''results'')' INTO hyper;
    END IF;
    IF hyper THEN
        EXECUTE $fn$
            CREATE FUNCTION probe_rollups_upsert_result() RETURNS trigger LANGUAGE plpgsql AS $b$
            BEGIN
                INSERT INTO probe_rollups AS h (span_s, bucket, probe_id, results, dom_total,
                    dom_ok, intl_total, intl_ok, latency_n, latency_sum, throughput_n,
                    throughput_sum)
                SELECT s.span_s, date_bin(make_interval(secs => s.span_s), NEW.measured_at,
                                          TIMESTAMPTZ '2000-01-01 00:00:00+00'), NEW.probe_id, 1,
                        (NEW.scope = 'domestic')::int,
                        (NEW.scope = 'domestic' AND NEW.ok)::int,
                        (NEW.scope = 'international')::int,
                        (NEW.scope = 'international' AND NEW.ok)::int,
                        (NEW.ok AND NEW.scope IN ('domestic', 'international'))::int,
                        CASE WHEN NEW.ok AND NEW.scope IN ('domestic', 'international')
                             THEN NEW.duration_ms ELSE 0 END,
                        (NEW.ok AND NEW.details ? 'throughput_bps')::int,
                        CASE WHEN NEW.ok AND NEW.details ? 'throughput_bps'
                             THEN (NEW.details->>'throughput_bps')::double precision
                             ELSE 0 END
                FROM (VALUES (300), (3600), (21600)) AS s (span_s)
                ON CONFLICT (probe_id, span_s, bucket) DO UPDATE SET
                    results = h.results + 1,
                    dom_total = h.dom_total + EXCLUDED.dom_total,
                    dom_ok = h.dom_ok + EXCLUDED.dom_ok,
                    intl_total = h.intl_total + EXCLUDED.intl_total,
                    intl_ok = h.intl_ok + EXCLUDED.intl_ok,
                    latency_n = h.latency_n + EXCLUDED.latency_n,
                    latency_sum = h.latency_sum + EXCLUDED.latency_sum,
                    throughput_n = h.throughput_n + EXCLUDED.throughput_n,
                    throughput_sum = h.throughput_sum + EXCLUDED.throughput_sum;
                RETURN NULL;
            END
            $b$
        $fn$;
        CREATE TRIGGER results_probe_rollups AFTER INSERT ON results
            FOR EACH ROW EXECUTE FUNCTION probe_rollups_upsert_result();
    ELSE
        CREATE TRIGGER results_probe_rollups AFTER INSERT ON results
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION probe_rollups_upsert();
    END IF;
END
$hours$;

-- Rows stored before this migration.
INSERT INTO probe_rollups (span_s, bucket, probe_id, uploads)
SELECT s.span_s, date_bin(make_interval(secs => s.span_s), received_at,
                          TIMESTAMPTZ '2000-01-01 00:00:00+00'), probe_id, count(*)
FROM batches, (VALUES (300), (3600), (21600)) AS s (span_s) GROUP BY 1, 2, 3;
INSERT INTO probe_rollups AS h (span_s, bucket, probe_id, results, dom_total, dom_ok,
                                intl_total, intl_ok, latency_n, latency_sum, throughput_n,
                                throughput_sum)
SELECT s.span_s, date_bin(make_interval(secs => s.span_s), measured_at,
                          TIMESTAMPTZ '2000-01-01 00:00:00+00'), probe_id,
       count(*),
       count(*) FILTER (WHERE scope = 'domestic'),
       count(*) FILTER (WHERE scope = 'domestic' AND ok),
       count(*) FILTER (WHERE scope = 'international'),
       count(*) FILTER (WHERE scope = 'international' AND ok),
       count(*) FILTER (WHERE ok AND scope IN ('domestic', 'international')),
       COALESCE(sum(duration_ms) FILTER (WHERE ok AND scope IN ('domestic', 'international')), 0),
       count(*) FILTER (WHERE ok AND details ? 'throughput_bps'),
       COALESCE(sum((details->>'throughput_bps')::double precision) FILTER (
           WHERE ok AND details ? 'throughput_bps'), 0)
FROM results, (VALUES (300), (3600), (21600)) AS s (span_s) GROUP BY 1, 2, 3
ON CONFLICT (probe_id, span_s, bucket) DO UPDATE SET
    results = EXCLUDED.results, dom_total = EXCLUDED.dom_total, dom_ok = EXCLUDED.dom_ok,
    intl_total = EXCLUDED.intl_total, intl_ok = EXCLUDED.intl_ok,
    latency_n = EXCLUDED.latency_n, latency_sum = EXCLUDED.latency_sum,
    throughput_n = EXCLUDED.throughput_n, throughput_sum = EXCLUDED.throughput_sum;
