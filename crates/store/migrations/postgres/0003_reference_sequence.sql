-- Retrieval reference numbers from a sequence instead of the counters row, so that concurrent
-- writers never queue on one row lock. It continues where the counter stopped.
CREATE SEQUENCE operation_reference;
SELECT setval('operation_reference', (SELECT value FROM counters WHERE name = 'reference'));
