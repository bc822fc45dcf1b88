-- Transfer limits (issue 14, item 3; docs/api.md, "Limits"). Each terminal's own settings, in
-- minor units (a count for the sender card's transfers); NULL takes the default written in
-- `aqsha_core::limits`, so a changed default reaches every terminal that never set its own.
ALTER TABLE terminals ADD COLUMN limit_per_transfer BIGINT;
ALTER TABLE terminals ADD COLUMN limit_sender_daily BIGINT;
ALTER TABLE terminals ADD COLUMN limit_receiver_daily BIGINT;
ALTER TABLE terminals ADD COLUMN limit_terminal_daily BIGINT;
ALTER TABLE terminals ADD COLUMN limit_terminal_total BIGINT;

-- What the limits are checked against: charged transfers and their total per counter key
-- (`aqsha_core::limits::*_key`: a sender or receiver card per merchant and day, a terminal per
-- day, a terminal overall). Written in the commit of the transfer it counts.
CREATE TABLE limit_counters (
    counter_key TEXT NOT NULL CONSTRAINT limit_counters_pkey PRIMARY KEY,
    transfers   BIGINT NOT NULL,
    total       BIGINT NOT NULL
);

-- The terminals' counters start from what they charged before (card counters start empty:
-- operations keep no card fingerprint).
INSERT INTO limit_counters (counter_key, transfers, total)
SELECT 'terminal/' || terminal_id, COUNT(*), SUM(amount) FROM operations
WHERE status = 'CHARGE' GROUP BY terminal_id;
INSERT INTO limit_counters (counter_key, transfers, total)
SELECT 'terminal/' || terminal_id || '/' || day, COUNT(*), SUM(amount) FROM operations
WHERE status = 'CHARGE' GROUP BY terminal_id, day;
