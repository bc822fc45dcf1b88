-- What ePay's status body shows of an operation beyond its outcome (issue 14, items 1 and 6):
-- which operation it was (P2P, AFT or OCT: ePay's status has no such field, Aqsha adds
-- `operationKind`), the order's language, and the issuer's approval code of a charge.
-- Operations recorded before are P2P transfers in Russian whose approval code was sent only
-- in their callback.
ALTER TABLE operations ADD COLUMN kind TEXT NOT NULL DEFAULT 'P2P'
    CONSTRAINT operations_kind_check CHECK (kind IN ('P2P', 'AFT', 'OCT'));
ALTER TABLE operations ADD COLUMN language TEXT NOT NULL DEFAULT 'rus';
ALTER TABLE operations ADD COLUMN approval_code TEXT NOT NULL DEFAULT '';
