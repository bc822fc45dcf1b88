-- Wrong CVC and expiry answers, counted per card and per merchant that gave them (issue 12):
-- after a number of wrong answers the card is blocked for that merchant for a while. The
-- count lives in the database, written in the same commit as the decline it counts, so it
-- survives restarts and is shared by every instance. `card_key` is the card's fingerprint in
-- the merchant's world (the public fingerprint for the shared test cards, so one merchant's
-- guessing blocks a public card for that merchant only).
CREATE TABLE card_guesses (
    card_key      TEXT NOT NULL,
    merchant_id   TEXT NOT NULL,
    wrong         BIGINT NOT NULL,
    -- Unix milliseconds; 0 when not blocked.
    blocked_until BIGINT NOT NULL,
    CONSTRAINT card_guesses_pkey PRIMARY KEY (card_key, merchant_id)
);
