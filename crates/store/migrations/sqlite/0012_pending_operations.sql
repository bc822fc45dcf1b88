-- A transfer answered with a non-final ("poll") sandbox outcome is recorded as pending, with
-- ePay's status name for an unfinished operation, NEW, until it resolves to CHARGE or FAILED.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt the documented way
-- (https://www.sqlite.org/lang_altertable.html, "other kinds of table schema changes"): a new
-- table with the wider check, every row copied, the old table dropped, the new one renamed and
-- its indexes made again. Nothing references operations by foreign key. `SELECT *` copies
-- columns by position, so a column added to operations by a migration that runs earlier fails
-- this copy loudly instead of being dropped.
CREATE TABLE operations_new (
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
    status             TEXT NOT NULL CONSTRAINT operations_status_check
                       CHECK (status IN ('CHARGE', 'FAILED', 'NEW')),
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
    token_id           TEXT NOT NULL,
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
INSERT INTO operations_new SELECT * FROM operations;
DROP TABLE operations;
ALTER TABLE operations_new RENAME TO operations;
CREATE UNIQUE INDEX operations_reference_key ON operations (reference) WHERE reference <> '';
CREATE INDEX operations_tail_idx ON operations (invoice_tail, terminal_id, day);
CREATE UNIQUE INDEX operations_invoice_key ON operations
    (invoice_id, merchant_id, (CASE WHEN status = 'CHARGE' THEN '' ELSE id END));
