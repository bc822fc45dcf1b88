//! What the domain needs from a database: records, the unit of work ([`Tx`]) that a transfer
//! runs inside, and the [`Store`] that the server talks to.
//!
//! The transfer algorithm ([`crate::transfer::execute`]) is written once, against [`Tx`]. The
//! store runs it inside its own transaction, many commands to one commit (group commit); a
//! command's reads see the commands before it in the batch, and one command's failure never
//! touches the others.

use crate::card::{Brand, Expiry};
use crate::fee::FeeSchedule;
use crate::money::{Currency, Money};
use crate::transfer::{TransferCommand, TransferOutcome};
use crate::vault::SealedPan;
use chrono::{DateTime, Utc};

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

#[derive(Debug, Clone)]
pub struct MerchantRecord {
    pub id: String,
    pub client_id: String,
    /// SHA-256 (hex) of the client secret; secrets are long random strings, so a plain hash is
    /// enough and keeps the token endpoint fast.
    pub secret_hash: String,
    pub name: String,
    /// Set by `aqsha merchant disable`: the merchant's logins and tokens are refused.
    pub disabled: bool,
}

/// A merchant as `aqsha merchant list` shows it: never a secret or a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantSummary {
    pub client_id: String,
    pub name: String,
    pub disabled: bool,
    /// (terminal id, currency), in id order.
    pub terminals: Vec<(String, Currency)>,
}

/// An administrative change to one merchant, by `client_id`.
#[derive(Debug, Clone)]
pub enum MerchantChange {
    Disabled(bool),
    /// The SHA-256 (hex) of a new client secret; the old secret stops working.
    SecretHash(String),
    /// A new callback signing key, used from the next attempt on.
    CallbackSecret(String),
}

#[derive(Debug, Clone)]
pub struct TerminalRecord {
    pub id: String,
    pub merchant_id: String,
    pub currency: Currency,
    pub fee: FeeSchedule,
    /// The ledger account that receives this terminal's fees (the merchant's fee account).
    pub fee_account: String,
}

#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// Unique per token and time-ordered (UUID v7), so the spent-token index grows at its end.
    pub id: String,
    pub merchant_id: String,
    pub scope: String,
    pub invoice_id: Option<String>,
    pub amount: Option<Money>,
    pub currency: Option<Currency>,
    pub terminal_id: Option<String>,
    pub post_link: Option<String>,
    pub failure_post_link: Option<String>,
    pub secret_hash: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The customer (`accountID`) the token was issued for, if any.
    pub account_id: Option<String>,
}

/// A card issued by Aqsha's built-in card network, as its issuer sees it.
#[derive(Debug, Clone)]
pub struct NetworkCard {
    pub id: String,
    pub fingerprint: String,
    pub mask: String,
    pub brand: Brand,
    pub expiry: Expiry,
    /// Keyed check value of (card, CVC); the CVC itself is never stored.
    pub cvc_check: String,
    pub locked: bool,
    /// `false` only for the documented test cards, whose printed dates have passed but which
    /// must keep working as the seed shows. Set by the seed data, not by card number in code.
    pub enforce_expiry: bool,
    pub account_id: String,
    pub currency: Currency,
    /// The merchant that issued the card through the sandbox API; `None` for the network's
    /// public test cards, which every merchant shares.
    pub owner: Option<String>,
}

/// A card saved in the vault for one merchant's customer (`accountID`).
#[derive(Debug, Clone)]
pub struct VaultCard {
    pub id: String,
    pub merchant_id: String,
    pub account_id: String,
    pub fingerprint: String,
    pub sealed: SealedPan,
    pub mask: String,
    pub brand: Brand,
    pub payer_name: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub transaction_id: String,
    pub reference: String,
    pub int_reference: String,
    pub terminal_id: String,
}

/// Wrong CVC or expiry answers given for one card by one merchant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CardGuesses {
    /// Wrong answers since the last right one (or since the last block).
    pub wrong: u32,
    /// The card is refused to this merchant until then.
    pub blocked_until: Option<DateTime<Utc>>,
}

/// One side of a posting: `amount` is added to the account's balance (negative = debit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account_id: String,
    pub amount: Money,
}

/// A finished operation, success or decline, with the exact response it was answered with.
#[derive(Debug, Clone)]
pub struct OperationRecord {
    pub id: String,
    pub merchant_id: String,
    pub terminal_id: String,
    pub invoice_id: String,
    pub account_id: String,
    pub amount: Money,
    pub fee: Money,
    pub currency: String,
    pub description: String,
    pub email: String,
    /// `CHARGE` or `FAILED`.
    pub status: String,
    pub reason_code: u32,
    pub reason: String,
    pub reference: String,
    pub int_reference: String,
    pub sender: SideRecord,
    pub receiver: SideRecord,
    /// The id of the token that carried the request.
    pub token_id: String,
    pub request_digest: String,
    pub http_status: u16,
    pub response_body: String,
    pub created_at: DateTime<Utc>,
    pub post_link: Option<String>,
    pub failure_post_link: Option<String>,
    pub secret_hash: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SideRecord {
    pub card_id: String,
    pub mask: String,
    pub brand: String,
    pub transfer_type: String,
}

/// A stored answer, replayed byte for byte when the same request comes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub http_status: u16,
    pub body: String,
}

/// A callback to deliver, written in the same commit as the operation it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackEvent {
    pub id: String,
    pub merchant_id: String,
    pub operation_id: String,
    pub invoice_id: String,
    pub url: String,
    /// `success` (postLink) or `failure` (failurePostLink).
    pub kind: String,
    /// The exact JSON sent on every attempt.
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// An event claimed for one delivery attempt.
#[derive(Debug, Clone)]
pub struct DueCallback {
    pub event: CallbackEvent,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// The merchant's signing key.
    pub secret: String,
}

/// One delivery attempt, as recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallbackAttempt {
    pub attempt: u32,
    pub at: DateTime<Utc>,
    #[serde(rename = "httpStatus")]
    pub http_status: Option<u16>,
    pub error: Option<String>,
    #[serde(rename = "durationMs")]
    pub duration_ms: u64,
}

/// What happens to an event after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(DateTime<Utc>),
    /// Out of retries (or never deliverable): stop.
    Failed,
}

/// An event with its delivery history, for the sandbox API.
#[derive(Debug, Clone)]
pub struct CallbackView {
    pub event: CallbackEvent,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempts: Vec<CallbackAttempt>,
}

/// A sandbox card as the sandbox API lists it.
#[derive(Debug, Clone)]
pub struct SandboxCardView {
    pub id: String,
    pub mask: String,
    pub brand: Brand,
    pub locked: bool,
    pub balance: Money,
    pub currency: Currency,
    pub expiry: Expiry,
}

/// A new card for the sandbox network.
#[derive(Debug, Clone)]
pub struct NewNetworkCard {
    pub card: NetworkCard,
    pub sealed: SealedPan,
    pub opening_balance: Money,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LedgerReport {
    /// All of the checks below hold.
    pub balanced: bool,
    /// Sum of all account balances (zero in a balanced ledger), in minor units.
    pub total_minor: i64,
    /// Operations whose postings do not sum to zero.
    pub unbalanced_operations: u64,
    /// Accounts whose balance differs from the sum of their postings.
    pub drifted_accounts: u64,
    /// Card accounts below zero.
    pub negative_cards: u64,
    /// Postings that name an account which does not exist.
    pub orphan_postings: u64,
    pub accounts: u64,
    pub postings: u64,
}

/// A table that keeps sealed card numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedTable {
    /// Saved cards (`vault_cards`).
    VaultCards,
    /// The sandbox network's cards (`network_cards`).
    NetworkCards,
}

impl SealedTable {
    pub const ALL: [SealedTable; 2] = [SealedTable::VaultCards, SealedTable::NetworkCards];

    pub fn name(self) -> &'static str {
        match self {
            SealedTable::VaultCards => "vault_cards",
            SealedTable::NetworkCards => "network_cards",
        }
    }
}

/// One row's sealed card number, for re-encryption.
#[derive(Debug, Clone)]
pub struct SealedRecord {
    pub id: String,
    pub sealed: SealedPan,
}

/// How many records of a table are sealed under one key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub table: SealedTable,
    pub key_id: String,
    pub records: u64,
}

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
    /// The charged operation of an invoice, if any: (operation id, request digest, response).
    fn charged_operation(
        &mut self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<(String, String, StoredResponse)>>;
    /// Whether another invoice with the same last six digits was charged on this terminal on
    /// this day (reference §2: the last six digits must be unique as well).
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
    fn balance(&mut self, account_id: &str) -> StoreResult<Money>;
    /// Applies balanced postings; fails if a card account would go below zero.
    fn post(&mut self, operation_id: &str, postings: &[Posting]) -> StoreResult<()>;
    fn insert_operation(&mut self, op: &OperationRecord) -> StoreResult<()>;
    /// A 12-digit retrieval reference number, unique in this database.
    fn next_reference(&mut self) -> StoreResult<String>;
    /// Queues a callback; it becomes due at once.
    fn insert_callback(&mut self, event: &CallbackEvent) -> StoreResult<()>;
}

/// Status of one invoice, as the status endpoint shows it.
#[derive(Debug, Clone)]
pub struct OperationView {
    pub op: OperationRecord,
}

/// The store the server talks to. Each write is durable before its future resolves.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    async fn ping(&self) -> StoreResult<()>;
    /// Read from the database on every call (no cache), so a rotated secret or a disabled
    /// merchant takes effect at once at the token endpoint.
    async fn merchant_by_client_id(&self, client_id: &str) -> StoreResult<Option<MerchantRecord>>;
    /// Whether the merchant exists and is not disabled. Cached for a few seconds (the store's
    /// cache TTL): it is asked on every bearer call, and must not cost a round trip each time.
    async fn merchant_active(&self, merchant_id: &str) -> StoreResult<bool>;
    /// Every merchant with its terminals, by `client_id`.
    async fn merchants(&self) -> StoreResult<Vec<MerchantSummary>>;
    /// Applies the change; `false` when no merchant has that `client_id`.
    async fn update_merchant(&self, client_id: &str, change: MerchantChange) -> StoreResult<bool>;
    async fn terminal(&self, id: &str) -> StoreResult<Option<TerminalRecord>>;
    async fn transfer(&self, cmd: TransferCommand) -> StoreResult<TransferOutcome>;
    /// The invoice's charged operation, or else its latest attempt.
    async fn invoice_status(
        &self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<OperationRecord>>;
    async fn saved_cards(&self, merchant_id: &str, account_id: &str)
        -> StoreResult<Vec<VaultCard>>;
    /// `Ok(false)` when the merchant has no active card with that id (of that customer, when
    /// `account_id` is given).
    async fn deactivate_card(
        &self,
        merchant_id: &str,
        card_id: &str,
        account_id: Option<&str>,
    ) -> StoreResult<bool>;
    /// The public test cards and the merchant's own cards.
    async fn sandbox_cards(&self, merchant_id: &str) -> StoreResult<Vec<SandboxCardView>>;
    /// The fingerprints of the network's public test cards (see [`crate::network`]).
    async fn public_card_keys(&self) -> StoreResult<Vec<String>>;
    /// Adds money to one of the merchant's own sandbox cards from its funding account;
    /// `Ok(None)` when the merchant has no such card, [`StoreError::Refused`] past the cap.
    /// Returns the card's new balance.
    async fn top_up(
        &self,
        merchant_id: &str,
        card_id: &str,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreResult<Option<Money>>;
    /// Installs merchants, terminals, network cards (with opening balances posted against the
    /// funding account) and saved cards in one transaction. With a marker, only once: returns
    /// `false` when that marker was installed before.
    async fn install(&self, seed: crate::sandbox::PreparedSeed) -> StoreResult<bool>;
    async fn ledger_report(&self) -> StoreResult<LedgerReport>;

    /// Claims up to `limit` due callbacks for one attempt each, at most `per_merchant` of any
    /// one merchant and none of the merchants in `skip` (those already at their cap). A claim
    /// is a lease: an event whose deliverer died becomes due again when `lease` has passed.
    async fn claim_callbacks(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: std::time::Duration,
        per_merchant: usize,
        skip: Vec<String>,
    ) -> StoreResult<Vec<DueCallback>>;
    /// Records an attempt and what follows it.
    async fn finish_callback_attempt(
        &self,
        event_id: &str,
        attempt: CallbackAttempt,
        next: NextStep,
    ) -> StoreResult<()>;
    /// A merchant's events, newest first, optionally for one invoice.
    async fn callbacks(
        &self,
        merchant_id: &str,
        invoice_id: Option<&str>,
    ) -> StoreResult<Vec<CallbackView>>;
    /// Makes a merchant's event due again now; `false` if it has no such event.
    async fn resend_callback(&self, merchant_id: &str, event_id: &str) -> StoreResult<bool>;
    async fn callback_secret(&self, merchant_id: &str) -> StoreResult<Option<String>>;

    /// How many sealed card numbers each key id seals, per table (key rotation).
    async fn key_usage(&self) -> StoreResult<Vec<KeyUsage>>;
    /// Up to `limit` rows of `table` sealed under any key but `key_id`, with ids after
    /// `after_id`, in id order: a re-encryption pass walks a table once, batch by batch.
    async fn sealed_not_under(
        &self,
        table: SealedTable,
        key_id: &str,
        after_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<SealedRecord>>;
    /// Replaces sealed card numbers in one transaction: each `(old, new)` pair writes `new`
    /// where the row still holds `old` exactly, so a row changed since it was read (a card
    /// saved again meanwhile) is left as it is. Returns how many rows were replaced.
    async fn reseal(
        &self,
        table: SealedTable,
        changes: Vec<(SealedRecord, SealedPan)>,
    ) -> StoreResult<u64>;

    /// Stops taking writes (later ones fail with [`StoreError::Closed`]), commits every write
    /// already queued and answers its caller, and returns once the writer has stopped. Called
    /// at shutdown, so that a process that exits never leaves queued work behind unanswered.
    /// Stores without a writer of their own have nothing to do.
    async fn close(&self) {}
}
