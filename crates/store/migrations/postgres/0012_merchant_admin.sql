-- `aqsha merchant disable` / `enable`: a disabled merchant's logins and tokens are refused.
-- Existing merchants stay enabled.
ALTER TABLE merchants ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;

-- The callback claim looks for each merchant's earliest due events (and skips merchants at
-- their cap, however many of their events are due), so the due index is by merchant first.
-- It replaces the index by due time alone, which only the claim used.
CREATE INDEX callback_events_merchant_due_idx ON callback_events (merchant_id, next_attempt_at)
    WHERE status = 'pending';
DROP INDEX callback_events_due_idx;
