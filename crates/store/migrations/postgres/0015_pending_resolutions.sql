-- When and how each pending operation resolves (docs/sandbox.md, "Outcome table"). Written in
-- the commit that records the pending operation and deleted in the one that resolves it, so a
-- restart neither loses nor repeats a resolution. The server's resolver claims due rows with a
-- lease (claim, lease_until: milliseconds), so that of several instances one resolves each.
-- plan: JSON, the accounts a charge posts to and what the operation turns into.
CREATE TABLE pending_resolutions (
    operation_id TEXT NOT NULL CONSTRAINT pending_resolutions_pkey PRIMARY KEY,
    merchant_id  TEXT NOT NULL,
    due_at       BIGINT NOT NULL,
    plan         TEXT NOT NULL,
    claim        TEXT NOT NULL DEFAULT '',
    lease_until  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX pending_resolutions_due_idx ON pending_resolutions (due_at);
