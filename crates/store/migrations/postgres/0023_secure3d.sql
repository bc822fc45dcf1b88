-- 3-D Secure (docs/protocol.md, "3-D Secure"; docs/sandbox.md). A sandbox card may be enrolled:
-- a transfer paid with its number then waits, pending, for the cardholder's challenge on the
-- sandbox ACS page. Existing cards are not enrolled.
ALTER TABLE network_cards ADD COLUMN secure3d BOOLEAN NOT NULL DEFAULT FALSE;

-- One challenge per pending operation, written in the transfer's commit. Wrong codes are
-- counted here (so a restart or another instance sees them); result is NULL while it waits,
-- then 0 (passed) or the reason code it failed with. expires_at: milliseconds. The back links
-- are the order's, for the browser's way back once the operation is finished.
CREATE TABLE secure3d_challenges (
    operation_id      TEXT NOT NULL CONSTRAINT secure3d_challenges_pkey PRIMARY KEY,
    merchant_id       TEXT NOT NULL,
    pa_req            TEXT NOT NULL,
    wrong_codes       BIGINT NOT NULL DEFAULT 0,
    result            BIGINT,
    expires_at        BIGINT NOT NULL,
    back_link         TEXT NOT NULL DEFAULT '',
    failure_back_link TEXT NOT NULL DEFAULT ''
);
