-- The operations search (`POST /p2p/operations`, issue 14 item 5): a merchant's operations in
-- time order, so that a search (created_at is required) reads its first page off the index
-- however many operations the merchant has; the id completes the order the search pages by.
-- A terminal's operations in time order serve a search narrowed to a terminal the same way.
CREATE INDEX operations_merchant_created_idx ON operations (merchant_id, created_at, id);
CREATE INDEX operations_terminal_created_idx ON operations (terminal_id, created_at, id);
