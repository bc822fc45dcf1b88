-- The sandbox's phone directory (issue 14, item 2): a phone number bound to a network card
-- and its holder's IIN, for transfers to a phone (`TYPEPHONE`). Both are personal data and
-- only ever compared, so neither is stored: the phone as a keyed digest (`phone_key`), the
-- IIN as a keyed check value. `phone_mask` is what the sandbox API lists. `owner_merchant_id`
-- is '' for the public entries every merchant sees (the seed's), else the merchant whose
-- entry it is; a merchant's own entry for a phone wins over a public one.
CREATE TABLE phone_directory (
    phone_key         TEXT NOT NULL,
    owner_merchant_id TEXT NOT NULL,
    phone_mask        TEXT NOT NULL,
    iin_check         TEXT NOT NULL,
    card_id           TEXT NOT NULL CONSTRAINT phone_directory_card_fkey REFERENCES network_cards (id),
    created_at        TEXT NOT NULL,
    CONSTRAINT phone_directory_pkey PRIMARY KEY (phone_key, owner_merchant_id)
);
