-- Tokens are now sealed claims that carry their own binding (see aqsha_core::token), so they are
-- no longer stored when issued. What the database must still know is which tokens were spent,
-- and on which operation; that row is written in the transfer's own commit. Token ids are
-- time-ordered, so this index grows at its end.
DROP TABLE tokens;

CREATE TABLE spent_tokens (
    token_id     TEXT NOT NULL CONSTRAINT spent_tokens_pkey PRIMARY KEY,
    operation_id TEXT NOT NULL
) WITHOUT ROWID;

ALTER TABLE operations RENAME COLUMN token_hash TO token_id;
