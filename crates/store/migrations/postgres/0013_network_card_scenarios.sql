-- Scenario cards (docs/sandbox.md, "Outcome table"): a sandbox card issued with an outcome
-- answers every transfer with that reason code, optionally late, and a non-final outcome
-- resolves later to CHARGE (0) or to a final code. NULL outcome: the issuer's natural answer.
-- Existing cards keep answering naturally.
ALTER TABLE network_cards ADD COLUMN scenario_outcome BIGINT;
ALTER TABLE network_cards ADD COLUMN scenario_delay_ms BIGINT NOT NULL DEFAULT 0
    CONSTRAINT network_cards_scenario_delay_check CHECK (scenario_delay_ms BETWEEN 0 AND 25000);
ALTER TABLE network_cards ADD COLUMN scenario_resolve_to BIGINT NOT NULL DEFAULT 0;
ALTER TABLE network_cards ADD COLUMN scenario_resolve_after_ms BIGINT NOT NULL DEFAULT 5000;
