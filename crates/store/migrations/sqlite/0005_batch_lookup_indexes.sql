-- A batch of transfers looks up all of its invoices, and all of their tails, in one query each
-- (`column = ANY(list)`). An index answers such a list only on its first column; after it,
-- the lists become filters. With the merchant first, one merchant's batch scanned every charge
-- of that merchant; with the terminal first, every operation of the terminal that day. The
-- selective column now comes first.
DROP INDEX operations_one_charge_per_invoice;
CREATE UNIQUE INDEX operations_one_charge_per_invoice ON operations (invoice_id, merchant_id) WHERE status = 'CHARGE';
DROP INDEX operations_tail_idx;
CREATE INDEX operations_tail_idx ON operations (invoice_tail, terminal_id, day);
