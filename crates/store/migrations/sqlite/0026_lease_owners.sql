-- Who holds a lease (issue 17, item 8): the instance (stable across its restarts, the
-- server's `--instance-id`) and the boot (random per process start). A restarted instance
-- releases at start every lease its instance id holds under another boot, so the callbacks
-- and resolutions its previous life had in flight are due at once instead of when their lease
-- runs out; another instance's leases are left alone. Rows claimed before this migration (and
-- never-claimed rows) have empty owners and wait for their lease as before.
ALTER TABLE callback_events ADD COLUMN lease_instance TEXT NOT NULL DEFAULT '';
ALTER TABLE callback_events ADD COLUMN lease_boot TEXT NOT NULL DEFAULT '';
ALTER TABLE pending_resolutions ADD COLUMN lease_instance TEXT NOT NULL DEFAULT '';
ALTER TABLE pending_resolutions ADD COLUMN lease_boot TEXT NOT NULL DEFAULT '';
-- The start-up release and the periodic look for another process using the same instance id
-- read the events leased now (in flight), a handful however large the outbox grows.
CREATE INDEX callback_events_leased_idx ON callback_events (lease_instance) WHERE lease_until > 0;
