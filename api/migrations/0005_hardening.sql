-- 0005_hardening: operator approval and grouping of probes (Sybil resistance), and what a
-- batch carried, so a reused batch_id with other results is refused instead of merged.

-- NULL: the operator has not approved the probe; its batches are stored but do not count.
-- Registration sets it explicitly; a probe inserted by other means is approved.
ALTER TABLE probes ADD COLUMN approved_at timestamptz DEFAULT now();
-- Who vouches for the probe: 'admin' (the operator) or the operator named on the enrollment
-- token it registered with.
ALTER TABLE probes ADD COLUMN operator text NOT NULL DEFAULT 'admin';
-- Probes registered before approval existed keep counting, grouped by their enrollment.
UPDATE probes SET approved_at = registered_at, operator = enrolled_by;
CREATE INDEX probes_operator_idx ON probes (operator);

-- The operator (volunteer group, partner organisation) a token is handed to.
ALTER TABLE enrollment_tokens ADD COLUMN operator text;

-- SHA-256 over the admitted results' ids in order; NULL for batches stored before this.
ALTER TABLE batches ADD COLUMN results_digest bytea;
-- Results of the batch the collector refused (listed in its answer, not stored).
ALTER TABLE batches ADD COLUMN refused_count integer NOT NULL DEFAULT 0;
-- Whether the probe was approved when the batch arrived: the detector reads only these.
ALTER TABLE batches ADD COLUMN approved boolean NOT NULL DEFAULT true;
