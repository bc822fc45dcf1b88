//! Group commit, for every backend: a writer thread takes every write waiting in the queue
//! (up to [`MAX_BATCH`]), runs them in one transaction, commits once, and only then answers
//! each caller.
//!
//! A durable commit costs an fsync (SQLite) or a WAL flush (PostgreSQL); sharing it among many
//! transfers is what makes thousands of durable transfers a second possible. A batch's reads
//! and writes are set-based too: it reads what its commands need in one query per table and
//! writes each table in one statement ([`crate::batch`]). Isolation is kept: a command that
//! fails leaves the others untouched (the batch runs again with a savepoint per command, see
//! [`run_batch`]), and a failed commit fails them all — nobody hears "done" for work that is
//! not durable. When the database reports a deadlock or serialization failure (several
//! instances on PostgreSQL), the whole batch runs again from the start; commands are written
//! to be re-runnable. A batch first locks the card accounts its transfers name
//! ([`Conn::prepare`]) and puts off, to its next batch, any transfer whose card another instance
//! holds.
//!
//! The queue is bounded ([`GroupStore::start`]'s `queue`): when it is full a write fails at
//! once with [`StoreError::Busy`] instead of waiting, so a burst the writer cannot keep up with
//! is refused (and the server answers "busy") rather than growing memory and latency without
//! end. [`Store::close`] closes the queue and lets the writer commit what is in it.
//!
//! Reads use a small pool of separate connections.

use crate::cache::TtlCache;
use crate::conn::{BatchError, Conn, Connector};
use aqsha_core::money::Money;
use aqsha_core::provision::NewRecords;
use aqsha_core::records::{
    CallbackAttempt, MerchantRecord, OperationRecord, SealedRecord, SealedTable, TerminalRecord,
    VaultCard,
};
use aqsha_core::store::{
    CallbackView, DueCallback, KeyUsage, LedgerReport, MerchantChange, MerchantSummary, NextStep,
    SandboxCardView, Store, StoreError, StoreResult, Tx,
};
use aqsha_core::transfer::{self, LockKeys, TransferCommand, TransferOutcome};
use aqsha_core::vault::SealedPan;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// The most commands one commit carries. Past this, a batch's latency grows with no gain.
pub const MAX_BATCH: usize = 256;
/// How often a batch that hit a deadlock is run again before its commands fail.
const BATCH_RETRIES: usize = 8;
/// Writes that may wait for the writer by default. Far more than the server lets be in flight
/// at once by default, so only a flood from several sources (or a stuck database) fills it.
pub const DEFAULT_WRITER_QUEUE: usize = 4096;

/// What the writer thread is sent: work, or the order to finish and stop.
enum Command<C> {
    Write(Box<dyn WriteJob<C>>),
    /// Close the queue, run what is in it, then answer.
    Close(oneshot::Sender<()>),
}

trait WriteJob<C>: Send {
    /// Runs the work; `Err` carries the error's text and whether a re-run could succeed.
    fn run(&mut self, conn: &mut C) -> Result<(), BatchError>;
    fn complete(self: Box<Self>, committed: Result<(), String>);
    /// Marks work that ran but whose pending writes failed.
    fn fail(&mut self, message: String);
    /// What the work will lock and read.
    fn keys(&self) -> &LockKeys;
}

struct Job<T, F> {
    work: F,
    keys: LockKeys,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<C, T, F> WriteJob<C> for Job<T, F>
where
    T: Send,
    F: Fn(&mut C) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &mut C) -> Result<(), BatchError> {
        let result = (self.work)(conn);
        let failed = result.as_ref().err().map(|e| BatchError {
            message: e.to_string(),
            retryable: matches!(e, StoreError::Conflict(_)),
        });
        self.result = Some(result);
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn keys(&self) -> &LockKeys {
        &self.keys
    }

    fn fail(&mut self, message: String) {
        if !matches!(self.result, Some(Err(_))) {
            self.result = Some(Err(StoreError::Db(message)));
        }
    }

    fn complete(self: Box<Self>, committed: Result<(), String>) {
        let answer = match (committed, self.result) {
            (_, Some(Err(e))) => Err(e),
            (Err(e), _) => Err(StoreError::Db(format!("commit failed: {e}"))),
            (Ok(()), Some(ok)) => ok,
            (Ok(()), None) => Err(StoreError::Closed),
        };
        // The caller may have gone away (client disconnected); the work is committed anyway.
        let _ = self.reply.send(answer);
    }
}

/// How much grouping the writer achieved: commands carried, and commits that carried them.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub jobs: AtomicU64,
    pub commits: AtomicU64,
}

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
        let job = Job {
            work,
            keys,
            result: None,
            reply,
        };
        // Never waits for room: a full queue is an answer ("busy, nothing done"), not a wait.
        self.writer
            .try_send(Command::Write(Box::new(job)))
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

type Queue<C> = mpsc::Receiver<Command<C>>;

/// Takes everything waiting (up to [`MAX_BATCH`]); `None` when the store is gone or closed and
/// drained. `carried` (commands put off by the last batch) first; when there are none, waits
/// for one. A close order closes the queue (nothing new gets in, what is in it still comes
/// out) and is kept in `closers`, to be answered when the writer stops.
fn next_batch<C>(
    rx: &mut Queue<C>,
    carried: Vec<Box<dyn WriteJob<C>>>,
    closers: &mut Vec<oneshot::Sender<()>>,
) -> Option<Vec<Box<dyn WriteJob<C>>>> {
    let mut batch = carried;
    while batch.is_empty() {
        match rx.blocking_recv()? {
            Command::Write(job) => batch.push(job),
            Command::Close(reply) => {
                rx.close();
                closers.push(reply);
            }
        }
    }
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(Command::Write(job)) => batch.push(job),
            Ok(Command::Close(reply)) => {
                rx.close();
                closers.push(reply);
            }
            Err(_) => break,
        }
    }
    Some(batch)
}

fn writer_loop<K: Connector>(
    mut conn: K::C,
    mut queue: Queue<K::C>,
    stats: &WriterStats,
    connector: &K,
) {
    // Grouping figures, logged at debug level every few seconds for tuning.
    let (mut window, mut w_jobs, mut w_commits, mut w_busy) = (
        std::time::Instant::now(),
        0u64,
        0u64,
        std::time::Duration::ZERO,
    );
    let mut carried = Vec::new();
    let mut closers = Vec::new();
    while let Some(mut batch) = next_batch(&mut queue, std::mem::take(&mut carried), &mut closers) {
        let began = std::time::Instant::now();
        let mut committed = run_batch(&mut conn, &mut batch, &mut carried, &queue);
        let mut tries = 1;
        while let Err(e) = &committed {
            if conn.is_broken() {
                match connector.writer() {
                    Ok(fresh) => conn = fresh,
                    Err(re) => tracing::error!(error = %re, "reconnecting the writer failed"),
                }
            }
            if !e.retryable || tries >= BATCH_RETRIES {
                break;
            }
            tries += 1;
            committed = run_batch(&mut conn, &mut batch, &mut carried, &queue);
        }
        let committed = committed.map_err(|e| e.message);
        if let Err(e) = &committed {
            tracing::error!(error = %e, jobs = batch.len(), "batch commit failed");
        }
        stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        stats.commits.fetch_add(1, Ordering::Relaxed);
        w_jobs += batch.len() as u64;
        w_commits += 1;
        w_busy += began.elapsed();
        if window.elapsed() >= std::time::Duration::from_secs(5) {
            tracing::debug!(
                commits = w_commits,
                jobs_per_commit = w_jobs as f64 / w_commits as f64,
                busy_ms_per_commit = w_busy.as_secs_f64() * 1000.0 / w_commits as f64,
                busy_share = w_busy.as_secs_f64() / window.elapsed().as_secs_f64(),
                "writer"
            );
            (window, w_jobs, w_commits, w_busy) =
                (std::time::Instant::now(), 0, 0, std::time::Duration::ZERO);
        }
        for job in batch {
            job.complete(committed.clone());
        }
    }
    if !closers.is_empty() {
        tracing::info!("writer stopped: every queued write was run");
    }
    for reply in closers {
        let _ = reply.send(());
    }
}

/// Runs a batch in one transaction and commits it. First optimistically, with no savepoints:
/// a command that fails is rare (a decline is an answer, not a failure), and savepoints cost
/// — SQLite copies every page a command first touches into a sub-journal, PostgreSQL spends
/// two round trips. Commands leave most of their writes pending, and the batch writes them
/// together at the end ([`Conn::flush`]). If a command or that flush fails, the transaction is
/// rolled back and the batch runs again with a savepoint per command, each flushed on its
/// own, so the failure stays in its own savepoint and the others commit.
///
/// Commands whose card accounts another instance holds are moved from `batch` to `put_off`, to
/// run in this writer's next batch.
fn run_batch<C: Conn>(
    conn: &mut C,
    batch: &mut Vec<Box<dyn WriteJob<C>>>,
    put_off: &mut Vec<Box<dyn WriteJob<C>>>,
    queue: &Queue<C>,
) -> Result<(), BatchError> {
    begin(conn, batch, put_off)?;
    let ran = batch
        .iter_mut()
        .try_for_each(|job| job.run(conn))
        .and_then(|()| conn.flush());
    match ran {
        Ok(()) => finish(conn, put_off, queue),
        Err(e) if e.retryable => {
            conn.rollback();
            Err(e)
        }
        Err(_) => {
            conn.rollback();
            run_batch_isolated(conn, batch, put_off, queue)
        }
    }
}

/// The careful way: each command in its own savepoint, its pending writes flushed inside it.
fn run_batch_isolated<C: Conn>(
    conn: &mut C,
    batch: &mut Vec<Box<dyn WriteJob<C>>>,
    put_off: &mut Vec<Box<dyn WriteJob<C>>>,
    queue: &Queue<C>,
) -> Result<(), BatchError> {
    begin(conn, batch, put_off)?;
    for job in batch.iter_mut() {
        let step = conn.savepoint().and_then(|()| {
            match job.run(conn).and_then(|()| conn.flush()) {
                Ok(()) => {}
                // A deadlock victim: the whole batch runs again.
                Err(e) if e.retryable => return Err(e),
                Err(e) => {
                    job.fail(e.message);
                    conn.rollback_to_savepoint()?;
                }
            }
            conn.release_savepoint()
        });
        if let Err(e) = step {
            conn.rollback();
            return Err(e);
        }
    }
    finish(conn, put_off, queue)
}

/// Begins the batch's transaction and prepares its commands ([`Conn::prepare`]); commands
/// whose cards another instance holds move to `put_off`.
fn begin<C: Conn>(
    conn: &mut C,
    batch: &mut Vec<Box<dyn WriteJob<C>>>,
    put_off: &mut Vec<Box<dyn WriteJob<C>>>,
) -> Result<(), BatchError> {
    conn.begin()?;
    let keys: Vec<&LockKeys> = batch.iter().map(|j| j.keys()).collect();
    let ready = match conn.prepare(&keys) {
        Ok(r) => r,
        Err(e) => {
            conn.rollback();
            return Err(e);
        }
    };
    for (n, job) in std::mem::take(batch).into_iter().enumerate() {
        if ready.get(n).copied().unwrap_or(true) {
            batch.push(job);
        } else {
            put_off.push(job);
        }
    }
    Ok(())
}

/// Commits, saying whether more work is waiting (put off, or queued), so that the next
/// batch follows at once.
fn finish<C: Conn>(
    conn: &mut C,
    put_off: &[Box<dyn WriteJob<C>>],
    queue: &Queue<C>,
) -> Result<(), BatchError> {
    if let Err(e) = conn.commit(!put_off.is_empty() || !queue.is_empty()) {
        conn.rollback();
        return Err(e);
    }
    Ok(())
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

    async fn invoice_status(
        &self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<OperationRecord>> {
        let (m, i) = (merchant_id.to_string(), invoice_id.to_string());
        self.read(move |c| c.invoice_status(&m, &i)).await
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

    async fn install(&self, seed: NewRecords) -> StoreResult<bool> {
        self.write(move |c| c.install(&seed)).await
    }

    async fn ledger_report(&self) -> StoreResult<LedgerReport> {
        self.read(|c| c.ledger_report()).await
    }

    async fn claim_callbacks(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
        lease: std::time::Duration,
        per_merchant: usize,
        skip: Vec<String>,
    ) -> StoreResult<Vec<DueCallback>> {
        let lease_ms = lease.as_millis() as i64;
        self.write(move |c| c.claim_callbacks(now, limit, lease_ms, per_merchant, &skip))
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

    async fn callback_secret(&self, merchant_id: &str) -> StoreResult<Option<String>> {
        let m = merchant_id.to_string();
        self.read(move |c| c.callback_secret(&m)).await
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
