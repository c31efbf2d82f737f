-- 0008_snapshots: the leader's engine state, so a new leader resumes in seconds instead of
-- replaying hours of history, and the probes' time-of-day habits survive restarts.
-- detector_snapshots holds the latest snapshot (one row). detector_fed logs every batch the
-- leader took off detector_queue since that snapshot, in the transaction that took it; writing
-- a snapshot empties the log in the same transaction. So snapshot + log + queue always hold
-- every stored batch once: a new leader loads the snapshot, feeds the log, then the queue.

CREATE TABLE detector_snapshots (
    id text PRIMARY KEY,
    format integer NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    fed bigint NOT NULL,
    state bytea NOT NULL
);

CREATE TABLE detector_fed (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id uuid NOT NULL,
    received_at timestamptz NOT NULL
);
