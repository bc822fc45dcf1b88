-- ePay's status body carries `terminal`, a short numeric terminal id beside the UUID
-- `terminalID` (issue 14, item 6). Every terminal gets one: the seed's four documented
-- terminals the numbers the seed file gives them (so a database seeded before this migration
-- and one seeded after agree), any other terminal the next free number, in id order. New
-- terminals take theirs from the `terminal_number` counter, which starts after the numbers
-- reserved for the seed.
ALTER TABLE terminals ADD COLUMN number TEXT NOT NULL DEFAULT '';
UPDATE terminals SET number = CASE id
    WHEN '67e34d63-102f-4bd1-898e-370781d0074d' THEN '10000001'
    WHEN '40a348cb-68a3-45d5-9002-a4836d79c3b5' THEN '10000002'
    WHEN 'c36b282f-6819-4d4f-85df-a4bdc8a8f703' THEN '10000003'
    WHEN 'd9d7978c-d6ee-4ec0-8cda-165251a4bf16' THEN '10000004'
    ELSE '' END;
UPDATE terminals SET number = CAST(10000100 + r.n AS TEXT)
    FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n FROM terminals WHERE number = '') AS r
    WHERE terminals.id = r.id;
INSERT INTO counters (name, value)
    SELECT 'terminal_number', 10000100 + COUNT(*) FROM terminals
    WHERE CAST(number AS BIGINT) > 10000100;
CREATE UNIQUE INDEX terminals_number_key ON terminals (number);
