-- A transfer answered with a non-final ("poll") sandbox outcome is recorded as pending, with
-- ePay's status name for an unfinished operation, NEW, until it resolves to CHARGE or FAILED.
ALTER TABLE operations DROP CONSTRAINT operations_status_check;
ALTER TABLE operations ADD CONSTRAINT operations_status_check
    CHECK (status IN ('CHARGE', 'FAILED', 'NEW'));
