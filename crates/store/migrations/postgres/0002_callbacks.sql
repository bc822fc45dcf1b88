-- The callback outbox: one row per event, written in the operation's own commit, and one row
-- per delivery attempt. Times are unix milliseconds.

CREATE TABLE callback_events (
    id              TEXT NOT NULL CONSTRAINT callback_events_pkey PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    operation_id    TEXT NOT NULL,
    invoice_id      TEXT NOT NULL,
    url             TEXT NOT NULL,
    kind            TEXT NOT NULL CONSTRAINT callback_events_kind_check CHECK (kind IN ('success', 'failure')),
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CONSTRAINT callback_events_status_check CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    -- A claimed event is leased to one deliverer until this time.
    lease_until     BIGINT NOT NULL DEFAULT 0,
    delivered_at    BIGINT
);
CREATE INDEX callback_events_due_idx ON callback_events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX callback_events_invoice_idx ON callback_events (merchant_id, invoice_id);

CREATE TABLE callback_attempts (
    event_id    TEXT NOT NULL CONSTRAINT callback_attempts_event_fkey REFERENCES callback_events (id),
    attempt     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    http_status BIGINT,
    error       TEXT,
    duration_ms BIGINT NOT NULL,
    CONSTRAINT callback_attempts_pkey PRIMARY KEY (event_id, attempt)
);
