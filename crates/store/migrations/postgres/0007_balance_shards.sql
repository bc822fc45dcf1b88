-- Shared accounts (a merchant's fee account, the settlement and funding accounts) take part in
-- nearly every transfer. Updated in place, such a row is a lock that every writer's commit
-- waits for in turn. Their changes now go to one of several shard rows instead, chosen by the
-- writer connection, so writers never wait for each other there. An account's balance is its
-- own column plus its shards. Card accounts, whose balances decide approvals, stay in place.
CREATE TABLE balance_shards (
    account_id TEXT NOT NULL,
    shard      BIGINT NOT NULL,
    balance    BIGINT NOT NULL,
    CONSTRAINT balance_shards_pkey PRIMARY KEY (account_id, shard)
);
