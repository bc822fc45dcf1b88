-- The cabinet's search box (issue 16) finds an operation by its intReference as well as by its
-- invoice id, reference or id, which have indexes already; without this one a search for a
-- number that is no intReference would read every operation of the merchant. Partial, as the
-- reference's is: declines have none, and they cost no index write.
CREATE INDEX operations_int_reference_idx ON operations (int_reference) WHERE int_reference <> '';
