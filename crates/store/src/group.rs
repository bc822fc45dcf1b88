//! Group commit, for every backend: a writer thread takes every write waiting in the queue
//! (up to [`MAX_BATCH`]), runs them in one transaction, commits once, and only then answers
//! each caller.
//!
//! A durable commit costs an fsync (SQLite) or a WAL flush (PostgreSQL); sharing it among many
//! transfers is what makes thousands of durable transfers a second possible. A batch's reads
//! and writes are set-based too: it reads what its commands need in one query per table and
//! writes each table in one statement (`src/batch.rs`). Isolation is kept: a command that
//! fails leaves the others untouched, and a failed commit fails them all; the writer itself
//! (batching, savepoints, retries) is `src/writer.rs`. This module is the [`Store`] built on
//! it: writes go through the writer's queue, reads through a pool of reader connections.
//!
//! The queue is bounded ([`GroupStore::start`]'s `queue`): when it is full a write fails at
//! once with [`StoreError::Busy`] instead of waiting, so a burst the writer cannot keep up with
//! is refused (and the server answers "busy") rather than growing memory and latency without
//! end. [`Store::close`] closes the queue and lets the writer commit what is in it.
//!
//! Reads use a small pool of separate connections.
//!
//! The file is longer than the house's ~500 lines because it holds the one `impl Store`, and
//! Rust keeps one trait's impl in one block: each method is a few lines that hand a closure to
//! the writer or a reader. Splitting it means splitting core's `Store` trait first.

use crate::cache::TtlCache;
use crate::conn::{CabinetConn, CabinetPagesConn, Conn, Connector};
pub use crate::writer::MAX_BATCH;
use crate::writer::{writer_loop, Command, WriterStats};
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
    MerchantSummary, NextStep, PhoneView, Reclaimed, SandboxCardView, Store, StoreError,
    StoreResult, Tx,
};
use aqsha_core::transfer::scenario::Resolution;
use aqsha_core::transfer::secure3d;
use aqsha_core::transfer::{self, LockKeys, RandomIds, TransferCommand, TransferOutcome};
use aqsha_core::vault::SealedPan;
use chrono::{DateTime, Utc};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Writes that may wait for the writer by default. Far more than the server lets be in flight
/// at once by default, so only a flood from several sources (or a stuck database) fills it.
pub const DEFAULT_WRITER_QUEUE: usize = 4096;

pub struct GroupStore<K: Connector> {
    /// Whether a merchant is active, by merchant id: asked on every bearer call, so a
    /// disabled merchant is refused within the cache's TTL without a round trip per call.
    active: TtlCache<bool>,
    /// Merchants by client id, for the token endpoint and the sandbox API: a rotated secret
    /// or a disabled merchant is refused within the TTL (`cache::MERCHANT_TTL`).
    merchants: TtlCache<Option<MerchantRecord>>,
    terminals: TtlCache<Option<TerminalRecord>>,
    writer: mpsc::Sender<Command<K::C>>,
    stats: Arc<WriterStats>,
    readers: Arc<Mutex<Vec<K::C>>>,
    reader_slots: Arc<Semaphore>,
    /// How many readers the pool holds (each one a permit of `reader_slots`).
    reader_count: usize,
    connector: Arc<K>,
}

impl<K: Connector> GroupStore<K> {
    /// Connects and starts the writer thread; `queue` is how many writes may wait for it.
    pub fn start(connector: K, readers: usize, queue: usize) -> StoreResult<GroupStore<K>> {
        let connector = Arc::new(connector);
        let writer = connector.writer()?;
        let pool = (0..readers)
            .map(|_| connector.reader())
            .collect::<StoreResult<Vec<_>>>()?;
        let (tx, rx) = mpsc::channel(queue.max(1));
        let stats = Arc::new(WriterStats::default());
        // One writer per store. A batch costs about the same few statements whatever its size
        // (`crate::batch`), so one writer with big batches beat several with small ones on
        // PostgreSQL too: measured on the 2-core machine, 8 free-running writers 1,408
        // transfers/s, 1 writer 1,983–2,813; even taking turns (one running a batch while
        // another committed), 2 writers averaged 2,384/s against 2,548/s for one. Measured
        // again once postings lost their foreign key (session 4), 2 free-running writers
        // averaged 3,074/s against 3,068/s for one, with half-size batches and 45 % more
        // PostgreSQL CPU per transfer (BENCHMARKS.md). Instances still run side by side and
        // meet in the database's locks.
        let (s, k) = (stats.clone(), connector.clone());
        std::thread::Builder::new()
            .name("aqsha-writer".into())
            .spawn(move || writer_loop(writer, rx, &s, &*k))
            .map_err(|e| StoreError::Db(e.to_string()))?;
        Ok(GroupStore {
            active: TtlCache::with_ttl(crate::cache::MERCHANT_TTL),
            merchants: TtlCache::with_ttl(crate::cache::MERCHANT_TTL),
            terminals: TtlCache::new(),
            writer: tx,
            stats,
            readers: Arc::new(Mutex::new(pool)),
            reader_slots: Arc::new(Semaphore::new(readers)),
            reader_count: readers,
            connector,
        })
    }

    /// (commands written, commits made) since start.
    pub fn writer_stats(&self) -> (u64, u64) {
        (
            self.stats.jobs.load(Ordering::Relaxed),
            self.stats.commits.load(Ordering::Relaxed),
        )
    }

    async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&mut K::C) -> StoreResult<T> + Send + 'static,
    {
        self.write_keyed(LockKeys::default(), work).await
    }

    async fn write_keyed<T, F>(&self, keys: LockKeys, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&mut K::C) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        // Never waits for room: a full queue is an answer ("busy, nothing done"), not a wait.
        self.writer
            .try_send(Command::write(work, keys, reply))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Busy,
                mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
            })?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut K::C) -> StoreResult<T> + Send + 'static,
    {
        let _slot = self
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let (readers, connector) = (self.readers.clone(), self.connector.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = readers
                .lock()
                .map_err(|_| StoreError::Closed)?
                .pop()
                .ok_or(StoreError::Closed)?;
            let result = work(&mut conn);
            give_back(&readers, &*connector, conn);
            result
        })
        .await
        .map_err(|e| StoreError::Db(format!("reader task failed: {e}")))?
    }
}

/// Returns a reader to the pool; one whose connection broke is replaced.
fn give_back<K: Connector>(readers: &Mutex<Vec<K::C>>, connector: &K, mut conn: K::C) {
    if conn.is_broken() {
        if let Ok(fresh) = connector.reader() {
            conn = fresh;
        }
    }
    if let Ok(mut pool) = readers.lock() {
        pool.push(conn);
    }
}

#[async_trait::async_trait]
impl<K: Connector> Store for GroupStore<K> {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.ping()).await
    }

    async fn merchant_by_client_id(&self, client_id: &str) -> StoreResult<Option<MerchantRecord>> {
        if let Some(m) = self.merchants.get(client_id) {
            return Ok(m);
        }
        let id = client_id.to_string();
        let m = self.read(move |c| c.merchant_by_client_id(&id)).await?;
        self.merchants.put(client_id, m.clone());
        Ok(m)
    }

    async fn merchant_active(&self, merchant_id: &str) -> StoreResult<bool> {
        if let Some(a) = self.active.get(merchant_id) {
            return Ok(a);
        }
        let id = merchant_id.to_string();
        let active = self.read(move |c| c.merchant_active(&id)).await?;
        self.active.put(merchant_id, active);
        Ok(active)
    }

    async fn merchants(&self) -> StoreResult<Vec<MerchantSummary>> {
        self.read(|c| c.merchants()).await
    }

    async fn update_merchant(&self, client_id: &str, change: MerchantChange) -> StoreResult<bool> {
        let id = client_id.to_string();
        self.write(move |c| c.update_merchant(&id, &change)).await
    }

    async fn terminal(&self, id: &str) -> StoreResult<Option<TerminalRecord>> {
        if let Some(t) = self.terminals.get(id) {
            return Ok(t);
        }
        let key = id.to_string();
        let t = self.read(move |c| c.read_terminal(&key)).await?;
        self.terminals.put(id, t.clone());
        Ok(t)
    }

    async fn transfer(&self, cmd: TransferCommand) -> StoreResult<TransferOutcome> {
        // The transfer rules say what a command will lock and read; the batch only uses it.
        let keys = cmd.lock_keys();
        self.write_keyed(keys, move |c| transfer::execute(c as &mut dyn Tx, &cmd))
            .await
    }

    async fn merchant_name(&self, merchant_id: &str) -> StoreResult<Option<String>> {
        let id = merchant_id.to_string();
        self.read(move |c| c.merchant_name(&id)).await
    }

    async fn token_spent_by(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_string();
        self.read(move |c| c.read_token_spent_by(&key)).await
    }

    async fn invoice_status(
        &self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<OperationRecord>> {
        let (m, i) = (merchant_id.to_string(), invoice_id.to_string());
        self.read(move |c| c.invoice_status(&m, &i)).await
    }

    async fn search_operations(
        &self,
        merchant_id: &str,
        search: Search,
    ) -> StoreResult<Vec<OperationRecord>> {
        let m = merchant_id.to_string();
        self.read(move |c| c.search_operations(&m, &search)).await
    }

    async fn count_operations(
        &self,
        merchant_id: &str,
        search: Search,
        cap: u64,
    ) -> StoreResult<u64> {
        let m = merchant_id.to_string();
        self.read(move |c| c.count_operations(&m, &search, cap))
            .await
    }

    async fn merchant_by_login(
        &self,
        login: &str,
    ) -> StoreResult<Option<(MerchantRecord, String)>> {
        let l = login.to_string();
        self.read(move |c| c.merchant_by_login(&l)).await
    }

    async fn login_locked_until(
        &self,
        login: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let l = login.to_string();
        self.read(move |c| c.login_locked_until(&l, now)).await
    }

    async fn login_failed(
        &self,
        login: &str,
        now: DateTime<Utc>,
        policy: LoginPolicy,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let l = login.to_string();
        self.write(move |c| c.login_failed(&l, now, policy)).await
    }

    async fn login_succeeded(&self, login: &str) -> StoreResult<()> {
        let l = login.to_string();
        self.write(move |c| c.login_succeeded(&l)).await
    }

    async fn open_session(&self, id_hash: &str, session: CabinetSession) -> StoreResult<()> {
        let h = id_hash.to_string();
        self.write(move |c| c.open_session(&h, &session)).await
    }

    async fn session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
        idle: std::time::Duration,
    ) -> StoreResult<Option<CabinetSession>> {
        let h = id_hash.to_string();
        self.write(move |c| c.session(&h, now, idle)).await
    }

    async fn end_session(&self, id_hash: &str) -> StoreResult<()> {
        let h = id_hash.to_string();
        self.write(move |c| c.end_session(&h)).await
    }

    async fn set_cabinet_password(
        &self,
        merchant_id: &str,
        hash: &str,
        keep: &str,
    ) -> StoreResult<bool> {
        let (m, h, k) = (merchant_id.to_string(), hash.to_string(), keep.to_string());
        self.write(move |c| c.set_cabinet_password(&m, &h, &k))
            .await
    }

    async fn set_time_zone(&self, merchant_id: &str, zone: &str) -> StoreResult<bool> {
        let (m, z) = (merchant_id.to_string(), zone.to_string());
        self.write(move |c| c.set_time_zone(&m, &z)).await
    }

    async fn operation_stats(
        &self,
        merchant_id: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<StatRow>> {
        let m = merchant_id.to_string();
        self.read(move |c| c.operation_stats(&m, since)).await
    }

    async fn saved_cards(
        &self,
        merchant_id: &str,
        account_id: &str,
    ) -> StoreResult<Vec<VaultCard>> {
        let (m, a) = (merchant_id.to_string(), account_id.to_string());
        self.read(move |c| c.saved_cards(&m, &a)).await
    }

    async fn deactivate_card(
        &self,
        merchant_id: &str,
        card_id: &str,
        account_id: Option<&str>,
    ) -> StoreResult<bool> {
        let (m, id) = (merchant_id.to_string(), card_id.to_string());
        let account = account_id.map(str::to_string);
        self.write(move |c| c.deactivate_card(&m, &id, account.as_deref()))
            .await
    }

    async fn sandbox_cards(&self, merchant_id: &str) -> StoreResult<Vec<SandboxCardView>> {
        let m = merchant_id.to_string();
        self.read(move |c| c.sandbox_cards(&m)).await
    }

    async fn public_card_keys(&self) -> StoreResult<Vec<String>> {
        self.read(|c| c.public_card_keys()).await
    }

    async fn top_up(
        &self,
        merchant_id: &str,
        card_id: &str,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreResult<Option<Money>> {
        let (m, id) = (merchant_id.to_string(), card_id.to_string());
        self.write(move |c| c.top_up(&m, &id, amount, cap)).await
    }

    async fn fund_settlement(
        &self,
        merchant_id: &str,
        currency: Currency,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreResult<Money> {
        let m = merchant_id.to_string();
        self.write(move |c| c.fund_settlement(&m, currency, amount, cap))
            .await
    }

    async fn settlement_balances(&self, merchant_id: &str) -> StoreResult<Vec<(Currency, Money)>> {
        let m = merchant_id.to_string();
        self.read(move |c| c.settlement_balances(&m)).await
    }

    async fn phones(&self, merchant_id: &str) -> StoreResult<Vec<PhoneView>> {
        let m = merchant_id.to_string();
        self.read(move |c| c.phones(&m)).await
    }

    async fn install(&self, seed: NewRecords) -> StoreResult<bool> {
        self.write(move |c| c.install(&seed)).await
    }

    async fn limit_settings(
        &self,
        merchant_id: &str,
        terminal_id: &str,
    ) -> StoreResult<Option<LimitSettings>> {
        let (m, t) = (merchant_id.to_string(), terminal_id.to_string());
        self.read(move |c| c.limit_settings(&m, &t)).await
    }

    async fn set_limit_settings(
        &self,
        merchant_id: &str,
        terminal_id: &str,
        settings: LimitSettings,
    ) -> StoreResult<bool> {
        let (m, t) = (merchant_id.to_string(), terminal_id.to_string());
        self.write(move |c| c.set_limit_settings(&m, &t, &settings))
            .await
    }

    async fn ledger_report(&self) -> StoreResult<LedgerReport> {
        self.read(|c| c.ledger_report()).await
    }

    async fn claim_callbacks(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
        lease: std::time::Duration,
        owner: &LeaseOwner,
        per_merchant: usize,
        skip: Vec<String>,
    ) -> StoreResult<Vec<DueCallback>> {
        let lease_ms = lease.as_millis() as i64;
        let owner = owner.clone();
        self.write(move |c| c.claim_callbacks(now, limit, lease_ms, &owner, per_merchant, &skip))
            .await
    }

    async fn claim_resolutions(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
        lease: std::time::Duration,
        owner: &LeaseOwner,
    ) -> StoreResult<Vec<DueResolution>> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let owner = owner.clone();
        self.write(move |c| c.claim_resolutions(now, limit, lease_ms, &owner))
            .await
    }

    async fn reclaim_leases(&self, owner: &LeaseOwner) -> StoreResult<Reclaimed> {
        let owner = owner.clone();
        self.write(move |c| c.reclaim_leases(&owner)).await
    }

    async fn foreign_boots(
        &self,
        owner: &LeaseOwner,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Vec<String>> {
        let owner = owner.clone();
        self.read(move |c| c.foreign_boots(&owner, now)).await
    }

    async fn resolve_pending(&self, due: DueResolution) -> StoreResult<Resolution> {
        self.write(move |c| transfer::scenario::resolve(c as &mut dyn Tx, &due, &mut RandomIds))
            .await
    }

    async fn challenge(&self, operation_id: &str) -> StoreResult<Option<Challenge>> {
        let id = operation_id.to_string();
        self.read(move |c| c.challenge_only(&id)).await
    }

    async fn challenge_view(&self, operation_id: &str) -> StoreResult<Option<ChallengeView>> {
        let id = operation_id.to_string();
        self.read(move |c| c.challenge_view(&id)).await
    }

    async fn answer_challenge(
        &self,
        operation_id: &str,
        pa_req: &str,
        input: secure3d::Input,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<secure3d::Answered> {
        let (id, pa_req) = (operation_id.to_string(), pa_req.to_string());
        self.write(move |c| secure3d::answer(c as &mut dyn Tx, &id, &pa_req, &input, now))
            .await
    }

    async fn confirm_challenge(
        &self,
        operation_id: &str,
        result: u32,
    ) -> StoreResult<Option<secure3d::Confirmed>> {
        let id = operation_id.to_string();
        self.write(move |c| secure3d::confirm(c as &mut dyn Tx, &id, result, &mut RandomIds))
            .await
    }

    async fn finish_callback_attempt(
        &self,
        event_id: &str,
        attempt: CallbackAttempt,
        next: NextStep,
    ) -> StoreResult<()> {
        let id = event_id.to_string();
        self.write(move |c| c.finish_callback(&id, &attempt, next))
            .await
    }

    async fn callbacks(
        &self,
        merchant_id: &str,
        invoice_id: Option<&str>,
    ) -> StoreResult<Vec<CallbackView>> {
        let (m, i) = (merchant_id.to_string(), invoice_id.map(str::to_string));
        self.read(move |c| c.callbacks(&m, i.as_deref())).await
    }

    async fn resend_callback(&self, merchant_id: &str, event_id: &str) -> StoreResult<bool> {
        let (m, id) = (merchant_id.to_string(), event_id.to_string());
        self.write(move |c| c.resend_callback(&m, &id, chrono::Utc::now()))
            .await
    }

    async fn merchant_by_id(&self, merchant_id: &str) -> StoreResult<Option<MerchantRecord>> {
        let m = merchant_id.to_string();
        self.read(move |c| c.merchant_by_id(&m)).await
    }

    async fn operation_postings(
        &self,
        merchant_id: &str,
        operation_id: &str,
    ) -> StoreResult<Vec<aqsha_core::store::PostingView>> {
        let (m, o) = (merchant_id.to_string(), operation_id.to_string());
        self.read(move |c| c.operation_postings(&m, &o)).await
    }

    async fn pending_due(
        &self,
        merchant_id: &str,
        operation_id: &str,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let (m, o) = (merchant_id.to_string(), operation_id.to_string());
        self.read(move |c| c.pending_due(&m, &o)).await
    }

    async fn merchant_terminals(
        &self,
        merchant_id: &str,
    ) -> StoreResult<Vec<aqsha_core::store::TerminalView>> {
        let m = merchant_id.to_string();
        self.read(move |c| c.merchant_terminals(&m)).await
    }

    async fn merchant_saved_cards(
        &self,
        merchant_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<VaultCard>> {
        let m = merchant_id.to_string();
        self.read(move |c| c.merchant_saved_cards(&m, limit)).await
    }

    async fn set_sandbox_card_locked(
        &self,
        merchant_id: &str,
        card_id: &str,
        locked: bool,
    ) -> StoreResult<bool> {
        let (m, id) = (merchant_id.to_string(), card_id.to_string());
        self.write(move |c| c.set_sandbox_card_locked(&m, &id, locked))
            .await
    }

    async fn oldest_due_callback(&self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>> {
        self.read(move |c| c.oldest_due_callback(now)).await
    }

    async fn callback_secret(&self, merchant_id: &str) -> StoreResult<Option<String>> {
        let m = merchant_id.to_string();
        self.read(move |c| c.callback_secret(&m)).await
    }

    fn stats(&self) -> Option<aqsha_core::stats::StoreStats> {
        use aqsha_core::stats::{PoolState, StoreStats};
        let readers = self.reader_count as u64;
        let free = self.reader_slots.available_permits() as u64;
        Some(StoreStats {
            backend: K::BACKEND,
            batch_size: self.stats.batch_size.snapshot(1.0),
            commit_seconds: self.stats.commit_micros.snapshot(1e6),
            queue_depth: (self.writer.max_capacity() - self.writer.capacity()) as u64,
            queue_capacity: self.writer.max_capacity() as u64,
            readers: PoolState {
                size: readers,
                in_use: readers.saturating_sub(free),
            },
            writer: PoolState {
                size: 1,
                in_use: u64::from(self.stats.busy.load(Ordering::Relaxed)),
            },
        })
    }

    async fn close(&self) {
        let (reply, stopped) = oneshot::channel();
        // Waits for room in a full queue: the writer is draining it. A send that fails means
        // the writer is already closed or gone, and there is nothing to wait for.
        if self.writer.send(Command::Close(reply)).await.is_ok() {
            let _ = stopped.await;
        }
    }

    async fn key_usage(&self) -> StoreResult<Vec<KeyUsage>> {
        self.read(|c| c.key_usage()).await
    }

    async fn sealed_not_under(
        &self,
        table: SealedTable,
        key_id: &str,
        after_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<SealedRecord>> {
        let (k, a) = (key_id.to_string(), after_id.to_string());
        self.read(move |c| c.sealed_not_under(table, &k, &a, limit))
            .await
    }

    async fn reseal(
        &self,
        table: SealedTable,
        changes: Vec<(SealedRecord, SealedPan)>,
    ) -> StoreResult<u64> {
        // One write job is one transaction (rolled back as a whole if any statement fails),
        // so a re-encryption batch is either all written or not at all.
        self.write(move |c| c.reseal(table, &changes)).await
    }
}
