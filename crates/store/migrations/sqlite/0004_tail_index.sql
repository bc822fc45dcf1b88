-- The invoice-tail index no longer has a `status = 'CHARGE'` predicate. As a partial index on
-- that predicate it was a candidate for every query on charged operations, and PostgreSQL,
-- planning while the table was nearly empty, used it to look up an invoice's charge by
-- scanning the whole index. The tail check still filters on status.
DROP INDEX operations_tail_idx;
CREATE INDEX operations_tail_idx ON operations (terminal_id, day, invoice_tail);
