-- `aqsha merchant disable` / `enable`: a disabled merchant's logins and tokens are refused.
-- Existing merchants stay enabled.
ALTER TABLE merchants ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
