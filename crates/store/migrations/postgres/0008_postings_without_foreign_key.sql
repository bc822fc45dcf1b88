-- The foreign key from postings to accounts ran a trigger per posting: a query, and a
-- KEY SHARE lock on the account's row, which rewrote the row of every shared account (a
-- merchant's fee account, the settlement account) in every batch. Measured, it was a quarter
-- of the batch write. The guarantee it gave is kept without it: every account a batch posts
-- to has its balance changed in the same statement, by an UPDATE of the card account or a
-- shard upsert joined to `accounts`, and the store fails the batch unless every one of those
-- rows was written (`SqlConn::write_pending`). A posting to an account that does not exist
-- therefore never commits.
ALTER TABLE postings DROP CONSTRAINT postings_account_fkey;
