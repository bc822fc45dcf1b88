-- The merchant cabinet (issue 16): its login sessions and its login lock, in the database so
-- that every instance on it sees the same ones and a restart forgets neither.
--
-- A session is a random id in the browser's cookie; only its SHA-256 is kept, so a copy of the
-- database opens no session. It ends after an idle time (`last_seen_ms`), at logout, and for
-- the merchant's other sessions when its password changes.
CREATE TABLE cabinet_sessions (
    id_hash       TEXT NOT NULL CONSTRAINT cabinet_sessions_pkey PRIMARY KEY,
    merchant_id   TEXT NOT NULL,
    login         TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL
);
CREATE INDEX cabinet_sessions_merchant_idx ON cabinet_sessions (merchant_id);

-- Failed logins per login (lower case), counted from the first failure of a run; at the limit
-- the login is locked until `locked_until_ms`, for the right password as well. A success
-- deletes the row. Kept for unknown logins too, so a lock does not tell which logins exist.
CREATE TABLE cabinet_login_failures (
    login             TEXT NOT NULL CONSTRAINT cabinet_login_failures_pkey PRIMARY KEY,
    failures          BIGINT NOT NULL,
    first_failure_ms  BIGINT NOT NULL,
    locked_until_ms   BIGINT
);
