-- Webhooks: subscribers (API keys issued by the operator), their subscriptions, and the
-- outbox of deliveries written in the same transaction as the event transition they carry.
-- Plain PostgreSQL 15+; no TimescaleDB DDL here.

CREATE TABLE IF NOT EXISTS subscribers (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    key_hash    text NOT NULL UNIQUE,          -- sha256 hex of the API key; the key is shown once
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE IF NOT EXISTS subscriptions (
    id                   text PRIMARY KEY,
    subscriber_id        text NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    url                  text NOT NULL,
    description          text NOT NULL DEFAULT '',
    filters              jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The signing secret must be usable to sign, so it is kept (not hashed); during a
    -- rotation window the previous one signs too.
    secret               text NOT NULL,
    previous_secret      text,
    previous_secret_until timestamptz,
    status               text NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'paused', 'disabled')),
    disabled_reason      text,
    disabled_at          timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS subscriptions_subscriber_idx ON subscriptions (subscriber_id);
CREATE INDEX IF NOT EXISTS subscriptions_active_idx ON subscriptions (status) WHERE status = 'active';

-- One row per (subscription, message). id is the Standard Webhooks webhook-id, the same on
-- every attempt. payload is the transition; the dispatcher renders the same body from it on
-- every attempt (envelope timestamp = created_at, links from the service's base URL). A pending row is due
-- when next_attempt_at <= now(); claiming pushes next_attempt_at forward by a lease, so a
-- dispatcher that dies mid-flight leaves a row that becomes due again (no loss).
CREATE TABLE IF NOT EXISTS deliveries (
    id                text PRIMARY KEY,
    subscription_id   text NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    event_type        text NOT NULL,
    event_id          text,
    payload           jsonb NOT NULL,
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_attempt_at   timestamptz,
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz
);
CREATE INDEX IF NOT EXISTS deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_subscription_idx ON deliveries (subscription_id, created_at DESC);
CREATE INDEX IF NOT EXISTS deliveries_event_idx ON deliveries (subscription_id, event_id);

-- Every transition handed to the outbox, for the Atom and JSON feeds (independent of the
-- detector's own tables, whose columns are theirs to change).
CREATE TABLE IF NOT EXISTS feed_entries (
    id          bigserial PRIMARY KEY,
    event_id    text NOT NULL,
    action      text NOT NULL,
    at          timestamptz NOT NULL,
    transition  jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS feed_entries_at_idx ON feed_entries (at DESC, id DESC);
