-- Aqsha schema, version 1. Money columns are INTEGER minor units; timestamps are RFC 3339 text
-- (UTC) except token expiry, which is unix seconds for cheap comparison.

CREATE TABLE merchants (
    id                    TEXT NOT NULL CONSTRAINT merchants_pkey PRIMARY KEY,
    client_id             TEXT NOT NULL CONSTRAINT merchants_client_id_key UNIQUE,
    secret_hash           TEXT NOT NULL,
    name                  TEXT NOT NULL,
    cabinet_email         TEXT,
    cabinet_password_hash TEXT,
    callback_secret       TEXT NOT NULL,
    created_at            TEXT NOT NULL
);

CREATE TABLE accounts (
    id       TEXT NOT NULL CONSTRAINT accounts_pkey PRIMARY KEY,
    kind     TEXT NOT NULL CONSTRAINT accounts_kind_check CHECK (kind IN ('card', 'fee', 'external', 'funding')),
    currency TEXT NOT NULL,
    balance  INTEGER NOT NULL DEFAULT 0,
    -- The last line of defence: a card can never be overdrawn, whatever the code above does.
    CONSTRAINT accounts_card_not_negative CHECK (kind <> 'card' OR balance >= 0)
);

CREATE TABLE terminals (
    id          TEXT NOT NULL CONSTRAINT terminals_pkey PRIMARY KEY,
    merchant_id TEXT NOT NULL CONSTRAINT terminals_merchant_fkey REFERENCES merchants (id),
    currency    TEXT NOT NULL,
    fee_bps     INTEGER NOT NULL,
    fee_min     INTEGER NOT NULL,
    fee_account TEXT NOT NULL CONSTRAINT terminals_fee_account_fkey REFERENCES accounts (id)
);

CREATE TABLE network_cards (
    id             TEXT NOT NULL CONSTRAINT network_cards_pkey PRIMARY KEY,
    fingerprint    TEXT NOT NULL CONSTRAINT network_cards_fingerprint_key UNIQUE,
    key_id         TEXT NOT NULL,
    pan_sealed     BLOB NOT NULL,
    mask           TEXT NOT NULL,
    brand          TEXT NOT NULL,
    exp_month      INTEGER NOT NULL,
    exp_year       INTEGER NOT NULL,
    cvc_check      TEXT NOT NULL,
    locked         INTEGER NOT NULL,
    enforce_expiry INTEGER NOT NULL,
    account_id     TEXT NOT NULL CONSTRAINT network_cards_account_fkey REFERENCES accounts (id),
    currency       TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE vault_cards (
    id             TEXT NOT NULL CONSTRAINT vault_cards_pkey PRIMARY KEY,
    merchant_id    TEXT NOT NULL CONSTRAINT vault_cards_merchant_fkey REFERENCES merchants (id),
    account_id     TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    pan_sealed     BLOB NOT NULL,
    mask           TEXT NOT NULL,
    brand          TEXT NOT NULL,
    payer_name     TEXT NOT NULL,
    active         INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    reference      TEXT NOT NULL,
    int_reference  TEXT NOT NULL,
    terminal_id    TEXT NOT NULL,
    CONSTRAINT vault_cards_owner_card_key UNIQUE (merchant_id, account_id, fingerprint)
);

CREATE TABLE tokens (
    hash              TEXT NOT NULL CONSTRAINT tokens_pkey PRIMARY KEY,
    merchant_id       TEXT NOT NULL,
    scope             TEXT NOT NULL,
    invoice_id        TEXT,
    amount            INTEGER,
    currency          TEXT,
    terminal_id       TEXT,
    post_link         TEXT,
    failure_post_link TEXT,
    secret_hash       TEXT,
    expires_at        INTEGER NOT NULL,
    spent_by          TEXT
-- Keyed by the hash alone: one B-tree, so an insert writes one page, not two.
) WITHOUT ROWID;

CREATE TABLE operations (
    id                 TEXT NOT NULL CONSTRAINT operations_pkey PRIMARY KEY,
    merchant_id        TEXT NOT NULL,
    terminal_id        TEXT NOT NULL,
    invoice_id         TEXT NOT NULL,
    account_id         TEXT NOT NULL,
    amount             INTEGER NOT NULL,
    fee                INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    description        TEXT NOT NULL,
    email              TEXT NOT NULL,
    status             TEXT NOT NULL CONSTRAINT operations_status_check CHECK (status IN ('CHARGE', 'FAILED')),
    reason_code        INTEGER NOT NULL,
    reason             TEXT NOT NULL,
    reference          TEXT NOT NULL,
    int_reference      TEXT NOT NULL,
    sender_card_id     TEXT NOT NULL,
    sender_mask        TEXT NOT NULL,
    sender_brand       TEXT NOT NULL,
    sender_type        TEXT NOT NULL,
    receiver_card_id   TEXT NOT NULL,
    receiver_mask      TEXT NOT NULL,
    receiver_brand     TEXT NOT NULL,
    receiver_type      TEXT NOT NULL,
    token_hash         TEXT NOT NULL,
    request_digest     TEXT NOT NULL,
    http_status        INTEGER NOT NULL,
    response_body      TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    day                TEXT NOT NULL,
    invoice_tail       TEXT NOT NULL,
    post_link          TEXT,
    failure_post_link  TEXT,
    secret_hash        TEXT
);

-- One charge per invoice, enforced by the database as well as by the code.
CREATE UNIQUE INDEX operations_one_charge_per_invoice ON operations (merchant_id, invoice_id) WHERE status = 'CHARGE';
CREATE INDEX operations_invoice_idx ON operations (merchant_id, invoice_id, created_at);
CREATE INDEX operations_tail_idx ON operations (terminal_id, day, invoice_tail) WHERE status = 'CHARGE';
CREATE UNIQUE INDEX operations_reference_key ON operations (reference) WHERE reference <> '';

CREATE TABLE postings (
    id           INTEGER NOT NULL CONSTRAINT postings_pkey PRIMARY KEY,
    operation_id TEXT NOT NULL,
    account_id   TEXT NOT NULL CONSTRAINT postings_account_fkey REFERENCES accounts (id),
    amount       INTEGER NOT NULL
);
CREATE INDEX postings_operation_idx ON postings (operation_id);

CREATE TABLE counters (
    name  TEXT NOT NULL CONSTRAINT counters_pkey PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('reference', 100000000000);

CREATE TABLE seed_markers (
    marker     TEXT NOT NULL CONSTRAINT seed_markers_pkey PRIMARY KEY,
    applied_at TEXT NOT NULL
);
