//! The unit of work a transfer runs in ([`Tx`]), and the errors a store reports.
//!
//! The transfer algorithm (`transfer::execute`, a module above this one) is written once,
//! against [`Tx`]. The store runs it inside its own transaction, many commands to one commit
//! (group commit); a command's reads see the commands before it in the batch, and one
//! command's failure never touches the others.

use crate::limits::{Counter, TerminalLimits};
use crate::money::Money;
use crate::outcomes::{DueResolution, PendingResolution};
use crate::records::{
    CallbackEvent, CardGuesses, Challenge, NetworkCard, OperationRecord, PhoneEntry, Posting,
    StoredResponse, TerminalRecord, VaultCard,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(String),
    #[error("the store is shutting down")]
    Closed,
    /// The writer's queue is full: the work was not queued, so nothing of it happened, and the
    /// same request can be sent again later.
    #[error("the store is busy: its write queue is full")]
    Busy,
    #[error("ledger invariant violated: {0}")]
    Invariant(String),
    /// A deadlock or serialization failure between concurrent transactions: running the same
    /// work again will succeed.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    /// The request breaks a rule the store enforces atomically (a funding cap, say); the text
    /// is meant for the caller.
    #[error("{0}")]
    Refused(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The unit of work a transfer runs in. Every method reads or writes inside one database
/// transaction; nothing is visible to others until the store commits.
pub trait Tx {
    /// The operation that spent the token with this id, if one has.
    fn token_spent_by(&mut self, token_id: &str) -> StoreResult<Option<String>>;
    /// Records that the token was spent; a second spend of one token fails.
    fn spend_token(&mut self, token_id: &str, operation_id: &str) -> StoreResult<()>;
    fn terminal(&mut self, id: &str) -> StoreResult<Option<TerminalRecord>>;
    fn network_card(&mut self, fingerprint: &str) -> StoreResult<Option<NetworkCard>>;
    fn vault_card(&mut self, id: &str) -> StoreResult<Option<VaultCard>>;
    fn vault_card_for(
        &mut self,
        merchant_id: &str,
        account_id: &str,
        fingerprint: &str,
    ) -> StoreResult<Option<VaultCard>>;
    /// Inserts the card, or (same id) reactivates and refreshes an existing one.
    fn put_vault_card(&mut self, card: &VaultCard) -> StoreResult<()>;
    fn operation_response(
        &mut self,
        operation_id: &str,
    ) -> StoreResult<Option<(String, StoredResponse)>>;
    /// The operation that holds an invoice, if any: its charge, or a pending operation that may
    /// yet become one ([`OperationRecord::holds_invoice`]): (operation id, request digest,
    /// response). Takes the invoice's lock where the store has one.
    fn charged_operation(
        &mut self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<(String, String, StoredResponse)>>;
    /// Whether another invoice with the same last six digits was charged on this terminal on
    /// this day, or is pending there (docs/protocol.md#tokens: the last six digits must be unique as well).
    fn invoice_tail_taken(
        &mut self,
        terminal_id: &str,
        day: &str,
        tail: &str,
        invoice_id: &str,
    ) -> StoreResult<bool>;
    /// The wrong-answer count of a card (by its fingerprint in the merchant's world).
    fn card_guesses(&mut self, merchant_id: &str, card_key: &str) -> StoreResult<CardGuesses>;
    fn put_card_guesses(
        &mut self,
        merchant_id: &str,
        card_key: &str,
        guesses: CardGuesses,
    ) -> StoreResult<()>;
    /// The phone directory's entry for a phone key: the merchant's own, else a public one.
    fn phone_entry(
        &mut self,
        merchant_id: &str,
        phone_key: &str,
    ) -> StoreResult<Option<PhoneEntry>>;
    fn balance(&mut self, account_id: &str) -> StoreResult<Money>;
    /// Applies balanced postings; fails if a card account would go below zero.
    fn post(&mut self, operation_id: &str, postings: &[Posting]) -> StoreResult<()>;
    fn insert_operation(&mut self, op: &OperationRecord) -> StoreResult<()>;
    /// A 12-digit retrieval reference number, unique in this database.
    fn next_reference(&mut self) -> StoreResult<String>;
    /// Queues a callback; it becomes due at once.
    fn insert_callback(&mut self, event: &CallbackEvent) -> StoreResult<()>;

    // Pending operations (`transfer::scenario`).
    /// An operation by id.
    fn operation(&mut self, id: &str) -> StoreResult<Option<OperationRecord>>;
    /// Rewrites a pending operation as it resolved; fails when it is no longer pending.
    fn update_operation(&mut self, op: &OperationRecord) -> StoreResult<()>;
    /// Records when and how a pending operation resolves.
    fn insert_pending_resolution(&mut self, p: &PendingResolution) -> StoreResult<()>;
    /// Deletes a claimed resolution. `false` when the claim is no longer the holder's (its
    /// lease ran out and another resolver took it, or it is done): the caller does nothing.
    fn release_resolution(&mut self, due: &DueResolution) -> StoreResult<bool>;
    /// Deletes an operation's resolution whoever holds its claim, and returns it: the one way
    /// besides the resolver to act on a pending operation (a 3-D Secure answer). Of this and a
    /// resolver's [`Tx::release_resolution`], only the first to commit gets the row.
    fn take_resolution(&mut self, operation_id: &str) -> StoreResult<Option<PendingResolution>>;

    // 3-D Secure challenges (`transfer::secure3d`).
    fn insert_challenge(&mut self, c: &Challenge) -> StoreResult<()>;
    /// An operation's challenge, locked until the transaction ends where the store locks rows,
    /// so that two answers to one challenge are counted one after the other.
    fn challenge(&mut self, operation_id: &str) -> StoreResult<Option<Challenge>>;
    /// Writes a challenge's wrong-code count and result.
    fn update_challenge(&mut self, c: &Challenge) -> StoreResult<()>;
    /// The limits of a terminal as they apply now (`crate::limits`).
    fn terminal_limits(&mut self, terminal_id: &str) -> StoreResult<TerminalLimits>;
    /// A limit counter's value, zero when nothing was counted under its key. Locked until the
    /// transaction ends, so that transfers on other connections counting on it wait.
    fn limit_counter(&mut self, key: &str) -> StoreResult<Counter>;
    /// Adds to a limit counter, in this transaction.
    fn add_to_counter(&mut self, key: &str, add: Counter) -> StoreResult<()>;
}
