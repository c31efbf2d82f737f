-- 0002_events: the detector's tables. events (latest state of each event, the object of
-- docs/events.md), event_transitions (every transition, in order: the API's history and the
-- webhook payloads), detector_state (the leader's cursor). Plain PostgreSQL 15+.

CREATE TABLE events (
    id uuid PRIMARY KEY,                       -- deterministic: uuid5(entity, signal, start)
    entity_type text NOT NULL
        CHECK (entity_type IN ('country', 'subdivision', 'city', 'asn', 'asn_subdivision')),
    entity_code text NOT NULL,
    entity_access text CHECK (entity_access IN ('fixed', 'mobile', 'satellite')),
    kind text NOT NULL CHECK (kind IN ('blackout', 'international_cut', 'service_block',
                                       'throttling', 'power_outage', 'unknown')),
    status text NOT NULL CHECK (status IN ('suspected', 'confirmed', 'resolved', 'retracted')),
    start_at timestamptz NOT NULL,
    end_at timestamptz,
    detected_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,           -- "at" of the latest transition
    event jsonb NOT NULL                       -- the event object of the latest transition
);
CREATE INDEX events_start_at_idx ON events (start_at DESC);
CREATE INDEX events_entity_idx ON events (entity_type, entity_code);
CREATE INDEX events_status_idx ON events (status) WHERE status IN ('suspected', 'confirmed');

CREATE TABLE event_transitions (
    seq bigserial PRIMARY KEY,                 -- storage order = emission order
    event_id uuid NOT NULL REFERENCES events (id),
    action text NOT NULL CHECK (action IN ('opened', 'updated', 'resolved', 'retracted')),
    at timestamptz NOT NULL,
    transition jsonb NOT NULL,                 -- exactly the DESIGN.md transition object
    recorded_at timestamptz NOT NULL DEFAULT now(),
    -- a leader that takes over replays recent history: the same transition is stored once
    CONSTRAINT event_transitions_once UNIQUE (event_id, action, at)
);
CREATE INDEX event_transitions_event_idx ON event_transitions (event_id, seq);

CREATE TABLE detector_state (
    key text PRIMARY KEY,
    value jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
