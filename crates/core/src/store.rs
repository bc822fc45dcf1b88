//! The store the server talks to ([`Store`]), and the views it answers with.
//!
//! The records themselves are in [`crate::records`]; the transfer's unit of work and the
//! store's errors in [`crate::tx`] (re-exported here, where the server looks for them).

use crate::cabinet::{CabinetSession, LoginPolicy, StatRow};
use crate::card::{Brand, Expiry};
use crate::limits::LimitSettings;
use crate::money::{Currency, Money};
use crate::outcomes::DueResolution;
use crate::provision::NewRecords;
use crate::records::{
    CallbackAttempt, CallbackEvent, CallbackStatus, MerchantRecord, OperationRecord, SealedRecord,
    SealedTable, TerminalRecord, VaultCard,
};
use crate::search::Search;
use crate::transfer::scenario::Resolution;
use crate::transfer::{TransferCommand, TransferOutcome};
use crate::vault::SealedPan;
use chrono::{DateTime, Utc};

pub use crate::tx::{StoreError, StoreResult, Tx};

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

/// An event claimed for one delivery attempt.
#[derive(Debug, Clone)]
pub struct DueCallback {
    pub event: CallbackEvent,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// The merchant's signing key.
    pub secret: String,
}

/// What happens to an event after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(DateTime<Utc>),
    /// Out of retries (or never deliverable): stop.
    Failed,
}

/// Who holds a lease on a callback event or a pending resolution: the instance, stable across
/// its restarts, and this start of it. A restarted instance releases the leases of its earlier
/// boots ([`Store::reclaim_leases`]); another instance's leases are never its to release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOwner {
    pub instance: String,
    /// Random per process start.
    pub boot: String,
}

/// What [`Store::reclaim_leases`] released.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reclaimed {
    pub callbacks: u64,
    pub resolutions: u64,
}

/// An event with its delivery history, for the sandbox API.
#[derive(Debug, Clone)]
pub struct CallbackView {
    pub event: CallbackEvent,
    pub status: CallbackStatus,
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
    /// How its issuer answers (`docs/sandbox.md`, "Outcome table").
    pub scenario: crate::outcomes::Scenario,
    /// Enrolled in 3-D Secure.
    pub secure3d: bool,
    /// One of the network's public test cards, which every merchant shares and none may top
    /// up or lock; otherwise the merchant's own.
    pub public: bool,
}

/// A 3-D Secure challenge as the ACS page shows it: with its operation (amount, masked card,
/// language) and its merchant's name.
#[derive(Debug, Clone)]
pub struct ChallengeView {
    pub challenge: crate::records::Challenge,
    pub operation: crate::records::OperationRecord,
    pub merchant_name: String,
}

/// One ledger posting of an operation, for the cabinet's operation page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingView {
    pub account_id: String,
    /// The account's kind: `card`, `fee`, `external`, `funding`, `settlement`.
    pub kind: String,
    pub currency: String,
    /// Signed, in minor units: a debit is negative.
    pub amount_minor: i64,
}

/// One of a merchant's terminals with how many active saved cards were saved through it.
#[derive(Debug, Clone)]
pub struct TerminalView {
    pub terminal: TerminalRecord,
    pub saved_cards: u64,
}

/// A phone directory entry as the sandbox API lists it: never the number or the IIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneView {
    pub phone_mask: String,
    /// A public entry (the seed's), which every merchant's transfers find.
    pub public: bool,
    pub card_id: String,
    pub card_mask: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The balances summed per kind of account (`card`, `fee`, `funding`, `external`) and
    /// currency, in minor units: what a test of money conservation compares before and after
    /// (transfers move money between cards and fee accounts only, so `card` + `fee` stays put).
    pub totals: Vec<KindTotal>,
}

/// The sum of the balances of one kind of account in one currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KindTotal {
    pub kind: String,
    pub currency: String,
    pub balance_minor: i64,
}

/// How many records of a table are sealed under one key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub table: SealedTable,
    pub key_id: String,
    pub records: u64,
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
    /// The merchant's display name (the hosted form shows it), by its id.
    async fn merchant_name(&self, merchant_id: &str) -> StoreResult<Option<String>>;
    /// Every merchant with its terminals, by `client_id`.
    async fn merchants(&self) -> StoreResult<Vec<MerchantSummary>>;
    /// Applies the change; `false` when no merchant has that `client_id`.
    async fn update_merchant(&self, client_id: &str, change: MerchantChange) -> StoreResult<bool>;
    async fn terminal(&self, id: &str) -> StoreResult<Option<TerminalRecord>>;
    async fn transfer(&self, cmd: TransferCommand) -> StoreResult<TransferOutcome>;
    /// The operation that spent this key ([`crate::transfer::TransferCommand::spend_key`]),
    /// if one did: the hosted form reads which of its attempts are used.
    async fn token_spent_by(&self, key: &str) -> StoreResult<Option<String>>;
    /// The invoice's charged operation, or else its latest attempt.
    async fn invoice_status(
        &self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<OperationRecord>>;
    /// One page of the merchant's operations matching the search, in its order, and one more
    /// when another page follows (so up to `size + 1`).
    async fn search_operations(
        &self,
        merchant_id: &str,
        search: Search,
    ) -> StoreResult<Vec<OperationRecord>>;
    /// How many of the merchant's operations match the search's conditions (its cursor, order
    /// and size aside), counting no further than `cap`: the filtered set the CSV export
    /// sends, sized before it starts.
    async fn count_operations(
        &self,
        merchant_id: &str,
        search: Search,
        cap: u64,
    ) -> StoreResult<u64>;
    /// The merchant whose cabinet login this is, with its password hash (argon2id, PHC
    /// string); `None` when no merchant has that login or it has no password.
    async fn merchant_by_login(&self, login: &str)
        -> StoreResult<Option<(MerchantRecord, String)>>;
    /// When the cabinet login's lock ends, if it is locked at `now` (`login` in lower case).
    async fn login_locked_until(
        &self,
        login: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    /// Counts a failed login; the lock's end when the login is locked after it.
    async fn login_failed(
        &self,
        login: &str,
        now: DateTime<Utc>,
        policy: LoginPolicy,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    /// Forgets a login's failures after a successful login.
    async fn login_succeeded(&self, login: &str) -> StoreResult<()>;
    /// Stores a new session under the SHA-256 (hex) of its id.
    async fn open_session(&self, id_hash: &str, session: CabinetSession) -> StoreResult<()>;
    /// The session with this id hash, its idle time restarted at `now`; `None` (and the
    /// session deleted) when it has been idle for `idle` or longer, or does not exist.
    async fn session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
        idle: std::time::Duration,
    ) -> StoreResult<Option<CabinetSession>>;
    /// Ends one session (logout).
    async fn end_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Replaces the merchant's cabinet password hash and ends its sessions other than
    /// `keep` (the one that changed it). `Ok(false)` when there is no such merchant.
    async fn set_cabinet_password(
        &self,
        merchant_id: &str,
        hash: &str,
        keep: &str,
    ) -> StoreResult<bool>;
    /// Sets the merchant's time zone (an IANA name the caller has checked). `Ok(false)` when
    /// there is no such merchant.
    async fn set_time_zone(&self, merchant_id: &str, zone: &str) -> StoreResult<bool>;
    /// The merchant's operations created at or after `since`, grouped for the dashboard.
    async fn operation_stats(
        &self,
        merchant_id: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<StatRow>>;
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
    /// Moves `amount` to the merchant's settlement account in `currency` from its funding
    /// account, within `cap` like [`Store::top_up`]. Returns the settlement account's balance.
    async fn fund_settlement(
        &self,
        merchant_id: &str,
        currency: Currency,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreResult<Money>;
    /// The merchant's settlement balances, one per currency it has an account in.
    async fn settlement_balances(&self, merchant_id: &str) -> StoreResult<Vec<(Currency, Money)>>;
    /// The public phone directory entries and the merchant's own.
    async fn phones(&self, merchant_id: &str) -> StoreResult<Vec<PhoneView>>;
    /// Installs merchants, terminals, network cards (with opening balances posted against the
    /// funding account) and saved cards in one transaction. With a marker, only once: returns
    /// `false` when that marker was installed before.
    async fn install(&self, seed: NewRecords) -> StoreResult<bool>;
    async fn ledger_report(&self) -> StoreResult<LedgerReport>;
    /// The own limit settings of one of the merchant's terminals (`crate::limits`); `None`
    /// when the merchant has no terminal with that id.
    async fn limit_settings(
        &self,
        merchant_id: &str,
        terminal_id: &str,
    ) -> StoreResult<Option<LimitSettings>>;
    /// Replaces them; `false` when the merchant has no terminal with that id. Transfers see
    /// the new limits from their next batch on, on every instance.
    async fn set_limit_settings(
        &self,
        merchant_id: &str,
        terminal_id: &str,
        settings: LimitSettings,
    ) -> StoreResult<bool>;

    /// The merchant's record by its id (the cabinet knows a merchant by id, not client id).
    async fn merchant_by_id(&self, merchant_id: &str) -> StoreResult<Option<MerchantRecord>>;
    /// The ledger postings of one of the merchant's operations, in the order written; empty
    /// for another merchant's operation.
    async fn operation_postings(
        &self,
        merchant_id: &str,
        operation_id: &str,
    ) -> StoreResult<Vec<PostingView>>;
    /// When one of the merchant's pending operations is due to resolve (`transfer::scenario`);
    /// `None` when it has no resolution waiting.
    async fn pending_due(
        &self,
        merchant_id: &str,
        operation_id: &str,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    /// The merchant's terminals, in id order.
    async fn merchant_terminals(&self, merchant_id: &str) -> StoreResult<Vec<TerminalView>>;
    /// The merchant's active saved cards of every customer, by customer then age, at most
    /// `limit`.
    async fn merchant_saved_cards(
        &self,
        merchant_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<VaultCard>>;
    /// Locks or unlocks one of the merchant's own sandbox cards; `false` when it has no such
    /// card (the public test cards included). Transfers on this instance see it at once,
    /// other instances within their card cache's few seconds.
    async fn set_sandbox_card_locked(
        &self,
        merchant_id: &str,
        card_id: &str,
        locked: bool,
    ) -> StoreResult<bool>;

    /// Claims up to `limit` due callbacks for one attempt each, at most `per_merchant` of any
    /// one merchant and none of the merchants in `skip` (those already at their cap). A claim
    /// is a lease, held by `owner`: an event whose deliverer died becomes due again when
    /// `lease` has passed, or at once when its instance starts again ([`Self::reclaim_leases`]).
    async fn claim_callbacks(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: std::time::Duration,
        owner: &LeaseOwner,
        per_merchant: usize,
        skip: Vec<String>,
    ) -> StoreResult<Vec<DueCallback>>;
    /// Claims up to `limit` due resolutions of pending operations (`transfer::scenario`), each
    /// for one attempt: a lease held by `owner`, so that of several instances one resolves
    /// each, and one whose resolver died is claimed again once `lease` has passed (or its
    /// instance starts again).
    async fn claim_resolutions(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: std::time::Duration,
        owner: &LeaseOwner,
    ) -> StoreResult<Vec<DueResolution>>;
    /// Releases every lease held by `owner`'s instance under another boot: the callbacks and
    /// resolutions an earlier life of this instance had in flight are due at once. Called at
    /// start, before this boot claims anything. A resolution still needs its new claim id to
    /// be carried out, so a released one is carried out once whoever holds it.
    async fn reclaim_leases(&self, owner: &LeaseOwner) -> StoreResult<Reclaimed>;
    /// The boots (at most a few) other than `owner`'s that hold a lease under `owner`'s
    /// instance id at `now`. After [`Self::reclaim_leases`] there are none unless another
    /// running process uses the same instance id.
    async fn foreign_boots(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>>;
    /// Resolves one claimed pending operation in one commit: its new status and answer, its
    /// postings, its callback ([`crate::transfer::scenario::resolve`]).
    async fn resolve_pending(&self, due: DueResolution) -> StoreResult<Resolution>;
    /// An operation's 3-D Secure challenge alone (one row), for the status API.
    async fn challenge(&self, operation_id: &str)
        -> StoreResult<Option<crate::records::Challenge>>;
    /// An operation's 3-D Secure challenge, for the ACS page.
    async fn challenge_view(&self, operation_id: &str) -> StoreResult<Option<ChallengeView>>;
    /// Checks an answer to a challenge and records it (`transfer::secure3d::answer`), in one
    /// write.
    async fn answer_challenge(
        &self,
        operation_id: &str,
        pa_req: &str,
        input: crate::transfer::secure3d::Input,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<crate::transfer::secure3d::Answered>;
    /// Finishes a challenged operation with its result (`transfer::secure3d::confirm`), in
    /// one commit.
    async fn confirm_challenge(
        &self,
        operation_id: &str,
        result: u32,
    ) -> StoreResult<Option<crate::transfer::secure3d::Confirmed>>;
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
    /// When the longest-waiting undelivered callback became due (its `next_attempt_at`),
    /// if one is due at `now`: events waiting for an attempt and events whose attempt is in
    /// flight alike, so a lease left by a crashed deliverer shows as age. For `/metrics`:
    /// one index seek per merchant, whatever the backlog.
    async fn oldest_due_callback(&self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>>;

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

    /// The writer's and the pools' figures now ([`crate::stats`]); `None` for a store that
    /// keeps none.
    fn stats(&self) -> Option<crate::stats::StoreStats> {
        None
    }
}
