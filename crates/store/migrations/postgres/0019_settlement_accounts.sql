-- AFT and OCT (issue 14, item 1) move money into and out of a merchant's settlement account,
-- one per currency it has a terminal in (`aqsha_core::transfer::settlement_account`). New
-- terminals get theirs when they are installed; this creates them for terminals that exist.
-- They are of kind 'external': like the external network's settlement account, they hold
-- money that has left the sandbox's cards.
INSERT INTO accounts (id, kind, currency, balance)
    SELECT DISTINCT 'settlement:' || merchant_id || ':' || currency, 'external', currency, 0
    FROM terminals
    -- SQLite needs a WHERE here to read ON CONFLICT as the upsert clause, not a join's ON.
    WHERE true
    ON CONFLICT (id) DO NOTHING;
