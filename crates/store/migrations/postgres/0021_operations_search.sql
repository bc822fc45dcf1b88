-- The operations search (`POST /p2p/operations`, issue 14 item 5): a merchant's operations in
-- time order, so that a search (created_at is required) reads its first page off the index
-- however many operations the merchant has; the id completes the order the search pages by.
-- One index only: every index on operations costs each transfer a write (BENCHMARKS.md,
-- "Issue 14: limits and the operations search"); a search narrowed to a terminal, a status or an
-- amount walks this one and filters.
CREATE INDEX operations_merchant_created_idx ON operations (merchant_id, created_at, id);
