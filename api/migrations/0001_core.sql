-- 0001_core: the collector's tables. probes (who measures), enrollment_tokens (who may
-- register), batches (one row per accepted upload), results (one row per measurement).
-- Runs on plain PostgreSQL 15+; the TimescaleDB part at the end is guarded.

CREATE TABLE probes (
    id text PRIMARY KEY,
    token_hash text NOT NULL,                  -- sha256 hex of the secret; the secret is never stored
    name text,
    country text NOT NULL,                     -- declared, ISO 3166-1 alpha-2
    subdivision text,                          -- declared, ISO 3166-2, within country
    city text,                                 -- declared city name: coarse location only
    access text NOT NULL CHECK (access IN ('fixed', 'mobile', 'satellite')),
    asn integer,                               -- derived from the source address, kept current
    derived_country text,                      -- derived from the source address
    network_mismatch boolean NOT NULL DEFAULT false,  -- derived_country <> country
    network_checked_at timestamptz,
    asn_changed_at timestamptz,
    registered_at timestamptz NOT NULL DEFAULT now(),
    enrolled_by text NOT NULL,                 -- 'admin' or the enrollment token id
    disabled_at timestamptz,                   -- set by an operator: the probe may no longer upload
    last_seen_at timestamptz,                  -- collector clock of the last accepted batch
    last_seq bigint,
    spool_depth integer,
    dropped_total bigint,
    clock_synced boolean,
    clock_offset_ms double precision,
    started_at timestamptz,
    software text
);
CREATE INDEX probes_last_seen_at_idx ON probes (last_seen_at);

CREATE TABLE enrollment_tokens (
    id text PRIMARY KEY,
    token_hash text NOT NULL,
    label text,
    max_uses integer CHECK (max_uses IS NULL OR max_uses > 0),  -- NULL: unlimited until expiry
    uses integer NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE TABLE batches (
    batch_id uuid PRIMARY KEY,
    probe_id text NOT NULL REFERENCES probes (id),
    seq bigint NOT NULL,
    sent_at timestamptz NOT NULL,               -- probe clock
    received_at timestamptz NOT NULL,           -- collector clock
    result_count integer NOT NULL,
    accepted_count integer NOT NULL,
    spool_depth integer NOT NULL,
    dropped_total bigint NOT NULL,
    clock_synced boolean,
    clock_offset_ms double precision,
    started_at timestamptz,
    software text
);
CREATE INDEX batches_received_at_idx ON batches (received_at);
CREATE INDEX batches_probe_received_at_idx ON batches (probe_id, received_at);

CREATE TABLE results (
    id uuid NOT NULL,
    probe_id text NOT NULL REFERENCES probes (id),
    batch_id uuid NOT NULL,
    kind text NOT NULL,
    target text NOT NULL,
    scope text,
    family text,
    measured_at timestamptz NOT NULL,           -- probe clock (event time)
    received_at timestamptz NOT NULL,           -- collector clock (arrival time)
    duration_ms double precision NOT NULL,
    ok boolean NOT NULL,
    failure text,
    details jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Includes the time column so that results can be a TimescaleDB hypertable.
    CONSTRAINT results_pkey PRIMARY KEY (measured_at, id)
);
CREATE INDEX results_probe_measured_at_idx ON results (probe_id, measured_at DESC);
CREATE INDEX results_received_at_idx ON results (received_at);

-- Hourly roll-up per probe and target. A plain view here (date_bin); replaced below by a
-- continuous aggregate of the same name and columns when TimescaleDB is present.
CREATE VIEW results_hourly AS
SELECT date_bin('1 hour', measured_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
       probe_id, kind, target,
       count(*) AS total,
       count(*) FILTER (WHERE ok) AS ok_count,
       avg(duration_ms) AS avg_duration_ms
FROM results
GROUP BY 1, 2, 3, 4;

DO $timescale$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        RAISE NOTICE 'timescaledb not available: results stays a plain table';
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
    EXCEPTION WHEN OTHERS THEN
        -- e.g. installed but not in shared_preload_libraries
        RAISE WARNING 'timescaledb available but not loadable (%): results stays a plain table',
            SQLERRM;
        RETURN;
    END;
    PERFORM create_hypertable('results', 'measured_at',
                              chunk_time_interval => INTERVAL '1 day', migrate_data => true);
    ALTER TABLE results SET (timescaledb.compress,
                             timescaledb.compress_segmentby = 'probe_id',
                             timescaledb.compress_orderby = 'measured_at DESC, id');
    PERFORM add_compression_policy('results', INTERVAL '7 days');
    PERFORM add_retention_policy('results', INTERVAL '400 days');

    DROP VIEW results_hourly;
    EXECUTE $cagg$
        CREATE MATERIALIZED VIEW results_hourly WITH (timescaledb.continuous) AS
        SELECT time_bucket(INTERVAL '1 hour', measured_at) AS bucket,
               probe_id, kind, target,
               count(*) AS total,
               count(*) FILTER (WHERE ok) AS ok_count,
               avg(duration_ms) AS avg_duration_ms
        FROM results
        GROUP BY 1, 2, 3, 4
        WITH NO DATA
    $cagg$;
    PERFORM add_continuous_aggregate_policy('results_hourly',
        start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
        schedule_interval => INTERVAL '30 minutes');
END
$timescale$;
