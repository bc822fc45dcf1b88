-- The cabinet's operation page (issue 16, item 4) shows each callback attempt with what the
-- receiver answered and when the next attempt was due after it. Until now an attempt kept
-- only its status or error; these columns keep a short excerpt of the receiver's answer
-- (at most 256 characters, never read back into anything that decides) and the retry time
-- the dispatcher set after it (NULL when it was the last: delivered or given up). Attempts
-- recorded before this migration have neither.
ALTER TABLE callback_attempts ADD COLUMN response_excerpt TEXT;
ALTER TABLE callback_attempts ADD COLUMN next_attempt_at INTEGER;
