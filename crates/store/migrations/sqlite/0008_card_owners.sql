-- Merchants are tenants of the sandbox network (issue 12): a card issued through
-- `POST /sandbox/cards` belongs to the merchant that issued it and is known by a fingerprint
-- keyed to that merchant, so another merchant's transfer to the same number never reaches it.
-- NULL marks the network's public cards (the seed's documented test cards), which every
-- merchant shares. Cards issued before this migration have no recorded issuer and stay public.
ALTER TABLE network_cards ADD COLUMN owner_merchant_id TEXT;
