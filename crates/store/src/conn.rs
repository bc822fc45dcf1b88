//! What a backend connection provides: the transfer's [`Tx`], the other writes, the reads, and
//! transaction control for group commit. One type per backend implements all of it, so every
//! backend is plugged into the same [`crate::group::GroupStore`].

use aqsha_core::cabinet::{CabinetSession, LoginPolicy, StatRow};
use aqsha_core::limits::LimitSettings;
use aqsha_core::money::{Currency, Money};
use aqsha_core::outcomes::DueResolution;
use aqsha_core::provision::NewRecords;
use aqsha_core::records::{
    CallbackAttempt, Challenge, MerchantRecord, OperationRecord, SealedRecord, SealedTable,
    TerminalRecord, VaultCard,
};
use aqsha_core::search::Search;
use aqsha_core::store::{
    CallbackView, ChallengeView, DueCallback, KeyUsage, LeaseOwner, LedgerReport, MerchantChange,
    MerchantSummary, NextStep, PhoneView, Reclaimed, SandboxCardView, StoreResult, Tx,
};
use aqsha_core::transfer::LockKeys;
use aqsha_core::vault::SealedPan;
use chrono::{DateTime, Utc};

/// A failed transaction-control statement. `retryable` marks deadlocks and serialization
/// failures, after which the whole batch may simply run again.
#[derive(Debug, Clone)]
pub struct BatchError {
    pub message: String,
    pub retryable: bool,
}

/// The merchant cabinet's rows (`sql/cabinet.rs`); see the methods of the same names on
/// [`aqsha_core::store::Store`].
pub trait CabinetConn {
    fn login_locked_until(
        &mut self,
        login: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    fn login_failed(
        &mut self,
        login: &str,
        now: DateTime<Utc>,
        policy: LoginPolicy,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    fn login_succeeded(&mut self, login: &str) -> StoreResult<()>;
    fn open_session(&mut self, id_hash: &str, session: &CabinetSession) -> StoreResult<()>;
    fn session(
        &mut self,
        id_hash: &str,
        now: DateTime<Utc>,
        idle: std::time::Duration,
    ) -> StoreResult<Option<CabinetSession>>;
    fn end_session(&mut self, id_hash: &str) -> StoreResult<()>;
    fn set_cabinet_password(
        &mut self,
        merchant_id: &str,
        hash: &str,
        keep: &str,
    ) -> StoreResult<bool>;
    fn set_time_zone(&mut self, merchant_id: &str, zone: &str) -> StoreResult<bool>;
    fn operation_stats(
        &mut self,
        merchant_id: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<StatRow>>;
}

/// The cabinet's pages' rows (`sql/cabinet_pages.rs`); see the methods of the same names
/// on [`aqsha_core::store::Store`].
pub trait CabinetPagesConn {
    fn merchant_by_id(&mut self, merchant_id: &str) -> StoreResult<Option<MerchantRecord>>;
    fn operation_postings(
        &mut self,
        merchant_id: &str,
        operation_id: &str,
    ) -> StoreResult<Vec<aqsha_core::store::PostingView>>;
    fn pending_due(
        &mut self,
        merchant_id: &str,
        operation_id: &str,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    fn merchant_terminals(
        &mut self,
        merchant_id: &str,
    ) -> StoreResult<Vec<aqsha_core::store::TerminalView>>;
    fn merchant_saved_cards(
        &mut self,
        merchant_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<VaultCard>>;
    fn set_sandbox_card_locked(
        &mut self,
        merchant_id: &str,
        card_id: &str,
        locked: bool,
    ) -> StoreResult<bool>;
}

pub trait Conn: Tx + CabinetConn + CabinetPagesConn + Send + 'static {
    // Transaction control.
    fn begin(&mut self) -> Result<(), BatchError>;
    /// Prepares a batch's commands: locks the card accounts each will touch, until the
    /// transaction ends, and reads in bulk what they will read. Says which commands may run
    /// now (`true`) and which must wait for a later batch because another instance holds one
    /// of their cards.
    fn prepare(&mut self, keys: &[&LockKeys]) -> Result<Vec<bool>, BatchError>;
    /// Writes what the commands so far left pending (they write at the end, several rows per
    /// statement). A failure here is the failure of the commands since the last flush.
    fn flush(&mut self) -> Result<(), BatchError>;
    /// Commits. `next`: another batch follows at once, so the connection may start its
    /// transaction in the same round trip, and the next [`Conn::begin`] costs nothing.
    fn commit(&mut self, next: bool) -> Result<(), BatchError>;
    fn rollback(&mut self);
    fn savepoint(&mut self) -> Result<(), BatchError>;
    fn release_savepoint(&mut self) -> Result<(), BatchError>;
    fn rollback_to_savepoint(&mut self) -> Result<(), BatchError>;
    /// Whether the last error left the connection unusable (it must be reopened).
    fn is_broken(&self) -> bool {
        false
    }

    // Writes besides the transfer's.
    fn install(&mut self, seed: &NewRecords) -> StoreResult<bool>;
    fn deactivate_card(
        &mut self,
        merchant_id: &str,
        card_id: &str,
        account_id: Option<&str>,
    ) -> StoreResult<bool>;
    /// See [`aqsha_core::store::Store::top_up`].
    fn top_up(
        &mut self,
        merchant_id: &str,
        card_id: &str,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreResult<Option<Money>>;
    /// See [`aqsha_core::store::Store::fund_settlement`].
    fn fund_settlement(
        &mut self,
        merchant_id: &str,
        currency: Currency,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreResult<Money>;
    fn claim_callbacks(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
        lease_ms: i64,
        owner: &LeaseOwner,
        per_merchant: usize,
        skip: &[String],
    ) -> StoreResult<Vec<DueCallback>>;
    fn update_merchant(&mut self, client_id: &str, change: &MerchantChange) -> StoreResult<bool>;
    /// See [`aqsha_core::store::Store::claim_resolutions`].
    fn claim_resolutions(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
        lease_ms: i64,
        owner: &LeaseOwner,
    ) -> StoreResult<Vec<DueResolution>>;
    /// See [`aqsha_core::store::Store::reclaim_leases`].
    fn reclaim_leases(&mut self, owner: &LeaseOwner) -> StoreResult<Reclaimed>;
    /// See [`aqsha_core::store::Store::foreign_boots`].
    fn foreign_boots(&mut self, owner: &LeaseOwner, now: DateTime<Utc>)
        -> StoreResult<Vec<String>>;
    fn finish_callback(
        &mut self,
        event_id: &str,
        a: &CallbackAttempt,
        next: NextStep,
    ) -> StoreResult<()>;
    fn resend_callback(
        &mut self,
        merchant_id: &str,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    fn reseal(
        &mut self,
        table: SealedTable,
        changes: &[(SealedRecord, SealedPan)],
    ) -> StoreResult<u64>;
    /// See [`aqsha_core::store::Store::set_limit_settings`].
    fn set_limit_settings(
        &mut self,
        merchant_id: &str,
        terminal_id: &str,
        settings: &LimitSettings,
    ) -> StoreResult<bool>;

    // Reads.
    fn ping(&mut self) -> StoreResult<()>;
    /// See [`aqsha_core::store::Store::challenge`].
    fn challenge_only(&mut self, operation_id: &str) -> StoreResult<Option<Challenge>>;
    /// See [`aqsha_core::store::Store::challenge_view`].
    fn challenge_view(&mut self, operation_id: &str) -> StoreResult<Option<ChallengeView>>;
    fn merchant_by_client_id(&mut self, client_id: &str) -> StoreResult<Option<MerchantRecord>>;
    fn merchant_active(&mut self, merchant_id: &str) -> StoreResult<bool>;
    fn merchant_name(&mut self, merchant_id: &str) -> StoreResult<Option<String>>;
    fn merchants(&mut self) -> StoreResult<Vec<MerchantSummary>>;
    fn limit_settings(
        &mut self,
        merchant_id: &str,
        terminal_id: &str,
    ) -> StoreResult<Option<LimitSettings>>;
    fn read_terminal(&mut self, id: &str) -> StoreResult<Option<TerminalRecord>> {
        self.terminal(id)
    }
    fn read_token_spent_by(&mut self, key: &str) -> StoreResult<Option<String>> {
        self.token_spent_by(key)
    }
    fn invoice_status(
        &mut self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<OperationRecord>>;
    fn saved_cards(&mut self, merchant_id: &str, account_id: &str) -> StoreResult<Vec<VaultCard>>;
    fn search_operations(
        &mut self,
        merchant_id: &str,
        search: &Search,
    ) -> StoreResult<Vec<OperationRecord>>;
    fn count_operations(
        &mut self,
        merchant_id: &str,
        search: &Search,
        cap: u64,
    ) -> StoreResult<u64>;
    fn merchant_by_login(&mut self, login: &str) -> StoreResult<Option<(MerchantRecord, String)>>;
    fn sandbox_cards(&mut self, merchant_id: &str) -> StoreResult<Vec<SandboxCardView>>;
    fn public_card_keys(&mut self) -> StoreResult<Vec<String>>;
    fn settlement_balances(&mut self, merchant_id: &str) -> StoreResult<Vec<(Currency, Money)>>;
    fn phones(&mut self, merchant_id: &str) -> StoreResult<Vec<PhoneView>>;
    fn callbacks(
        &mut self,
        merchant_id: &str,
        invoice_id: Option<&str>,
    ) -> StoreResult<Vec<CallbackView>>;
    fn callback_secret(&mut self, merchant_id: &str) -> StoreResult<Option<String>>;
    /// See `Store::oldest_due_callback`.
    fn oldest_due_callback(&mut self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>>;
    fn ledger_report(&mut self) -> StoreResult<LedgerReport>;
    fn key_usage(&mut self) -> StoreResult<Vec<KeyUsage>>;
    fn sealed_not_under(
        &mut self,
        table: SealedTable,
        key_id: &str,
        after_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<SealedRecord>>;
}

/// Opens more connections of one backend: readers, and a writer again after a broken one.
pub trait Connector: Send + Sync + 'static {
    type C: Conn;
    /// The backend's name in `/metrics`: `"sqlite"` or `"postgres"`.
    const BACKEND: &'static str;
    fn writer(&self) -> StoreResult<Self::C>;
    fn reader(&self) -> StoreResult<Self::C>;
}
