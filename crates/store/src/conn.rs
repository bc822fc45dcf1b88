//! What a backend connection provides: the transfer's [`Tx`], the other writes, the reads, and
//! transaction control for group commit. One type per backend implements all of it, so every
//! backend is plugged into the same [`crate::group::GroupStore`].

use aqsha_core::sandbox::PreparedSeed;
use aqsha_core::store::{
    CallbackAttempt, CallbackView, DueCallback, LedgerReport, MerchantRecord, NextStep,
    OperationRecord, SandboxCardView, StoreResult, TerminalRecord, Tx, VaultCard,
};
use chrono::{DateTime, Utc};

/// A failed transaction-control statement. `retryable` marks deadlocks and serialization
/// failures, after which the whole batch may simply run again.
#[derive(Debug, Clone)]
pub struct BatchError {
    pub message: String,
    pub retryable: bool,
}

pub trait Conn: Tx + Send + 'static {
    // Transaction control.
    fn begin(&mut self) -> Result<(), BatchError>;
    fn commit(&mut self) -> Result<(), BatchError>;
    fn rollback(&mut self);
    fn savepoint(&mut self) -> Result<(), BatchError>;
    fn release_savepoint(&mut self) -> Result<(), BatchError>;
    fn rollback_to_savepoint(&mut self) -> Result<(), BatchError>;
    /// Whether the last error left the connection unusable (it must be reopened).
    fn is_broken(&self) -> bool {
        false
    }

    // Writes besides the transfer's.
    fn install(&mut self, seed: &PreparedSeed) -> StoreResult<bool>;
    fn deactivate_card(&mut self, merchant_id: &str, card_id: &str) -> StoreResult<bool>;
    fn claim_callbacks(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
        lease_ms: i64,
    ) -> StoreResult<Vec<DueCallback>>;
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

    // Reads.
    fn ping(&mut self) -> StoreResult<()>;
    fn merchant_by_client_id(&mut self, client_id: &str) -> StoreResult<Option<MerchantRecord>>;
    fn read_terminal(&mut self, id: &str) -> StoreResult<Option<TerminalRecord>> {
        self.terminal(id)
    }
    fn invoice_status(
        &mut self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<OperationRecord>>;
    fn saved_cards(&mut self, merchant_id: &str, account_id: &str) -> StoreResult<Vec<VaultCard>>;
    fn sandbox_cards(&mut self) -> StoreResult<Vec<SandboxCardView>>;
    fn callbacks(
        &mut self,
        merchant_id: &str,
        invoice_id: Option<&str>,
    ) -> StoreResult<Vec<CallbackView>>;
    fn callback_secret(&mut self, merchant_id: &str) -> StoreResult<Option<String>>;
    fn ledger_report(&mut self) -> StoreResult<LedgerReport>;
}

/// Opens more connections of one backend: readers, and a writer again after a broken one.
pub trait Connector: Send + Sync + 'static {
    type C: Conn;
    /// How many writer connections group-commit side by side. More than one only pays when
    /// their batches rarely lock the same card accounts: each batch holds its cards' row locks
    /// until it commits, and batches that lock cards in opposite orders deadlock and re-run
    /// (measured: 4 PostgreSQL writers on 64 cards were 4x slower than one).
    fn writers(&self) -> usize {
        1
    }
    fn writer(&self) -> StoreResult<Self::C>;
    fn reader(&self) -> StoreResult<Self::C>;
}
