//! The SQLite store: one writer thread that group-commits, and a small pool of readers.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync (about 1,300 a second
//! on the dev machine). So every write goes to a single thread through a queue; the thread takes
//! everything waiting (up to [`MAX_BATCH`]), runs each command inside its own savepoint of one
//! `BEGIN IMMEDIATE` transaction, commits once, and only then answers each caller. A command that
//! fails rolls back to its savepoint and leaves the others untouched; a failed commit fails them
//! all, and nobody hears "done" for work that is not on disk. The database runs in WAL mode with
//! `synchronous=FULL`, so a commit that returned survives power loss.
//!
//! Reads (status, saved-card lists, token look-ups) use their own connections, which WAL lets
//! run beside the writer.

use crate::sqlite_callbacks;
use crate::sqlite_tx::{
    merchant_from_row, operation_from_row, terminal_from_row, token_from_row, vault_card_from_row,
    SqliteTx, MERCHANT_COLUMNS, OPERATION_COLUMNS, TERMINAL_COLUMNS, TOKEN_COLUMNS,
    VAULT_CARD_COLUMNS,
};
use aqsha_core::card::{Brand, Expiry};
use aqsha_core::money::{Currency, Money};
use aqsha_core::sandbox::PreparedSeed;
use aqsha_core::store::{
    CallbackAttempt, CallbackView, DueCallback, LedgerReport, MerchantRecord, NewToken, NextStep,
    OperationRecord, SandboxCardView, Store, StoreError, StoreResult, TerminalRecord, TokenRecord,
    Tx, VaultCard,
};
use aqsha_core::transfer::{self, TransferCommand, TransferOutcome};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// The most commands one commit carries. Past this, a batch's latency grows with no gain.
pub const MAX_BATCH: usize = 256;
const READERS: usize = 4;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_callbacks.sql")),
];

pub(crate) fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

/// A command for the writer thread: it runs inside a savepoint, and hears after the commit.
trait WriteJob: Send {
    fn run(&mut self, conn: &Connection) -> StoreResult<()>;
    fn complete(self: Box<Self>, committed: Result<(), String>);
}

struct Job<T, F> {
    work: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send,
    F: FnOnce(&mut SqliteTx) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> StoreResult<()> {
        let Some(work) = self.work.take() else {
            return Ok(());
        };
        let result = work(&mut SqliteTx { conn });
        let failed = result.as_ref().err().map(|e| StoreError::Db(e.to_string()));
        self.result = Some(result);
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
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

pub struct SqliteStore {
    writer: mpsc::UnboundedSender<Box<dyn WriteJob>>,
    stats: Arc<WriterStats>,
    readers: Arc<Mutex<Vec<Connection>>>,
    reader_slots: Arc<Semaphore>,
    path: PathBuf,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER NOT NULL CONSTRAINT schema_migrations_pkey PRIMARY KEY,
            applied_at TEXT NOT NULL)",
    )
    .map_err(db_err)?;
    for (version, sql) in MIGRATIONS {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let done: Option<i64> = tx
            .query_row(
                "SELECT version FROM schema_migrations WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        if done.is_none() {
            tx.execute_batch(sql)
                .map_err(|e| StoreError::Db(format!("migration {version}: {e}")))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, chrono::Utc::now().to_rfc3339()],
            )
            .map_err(db_err)?;
            tracing::info!(version, "applied migration");
        }
        tx.commit().map_err(db_err)?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, applies migrations and starts the writer.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Db(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let mut writer = Connection::open(path)
            .map_err(|e| StoreError::Db(format!("cannot open {}: {e}", path.display())))?;
        configure(&writer).map_err(db_err)?;
        migrate(&mut writer)?;
        let mut readers = Vec::new();
        for _ in 0..READERS {
            let c = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(db_err)?;
            c.busy_timeout(std::time::Duration::from_secs(10))
                .map_err(db_err)?;
            readers.push(c);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(WriterStats::default());
        let writer_stats = stats.clone();
        std::thread::Builder::new()
            .name("aqsha-sqlite-writer".into())
            .spawn(move || writer_loop(writer, rx, &writer_stats))
            .map_err(db_err)?;
        Ok(SqliteStore {
            writer: tx,
            stats,
            readers: Arc::new(Mutex::new(readers)),
            reader_slots: Arc::new(Semaphore::new(READERS)),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
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
        F: FnOnce(&mut SqliteTx) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            work: Some(work),
            result: None,
            reply,
        };
        self.writer
            .send(Box::new(job))
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _slot = self
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers
                .lock()
                .map_err(|_| StoreError::Closed)?
                .pop()
                .ok_or(StoreError::Closed)?;
            let result = work(&conn);
            if let Ok(mut pool) = readers.lock() {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Db(format!("reader task failed: {e}")))?
    }
}

fn writer_loop(
    conn: Connection,
    mut rx: mpsc::UnboundedReceiver<Box<dyn WriteJob>>,
    stats: &WriterStats,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = run_batch(&conn, &mut batch);
        stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        stats.commits.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = &committed {
            tracing::error!(error = %e, jobs = batch.len(), "batch commit failed");
        }
        for job in batch {
            job.complete(committed.clone());
        }
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> Result<(), String> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| e.to_string())?;
    for job in batch.iter_mut() {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e.to_string());
        }
        let undo = job.run(conn).is_err();
        let end = if undo {
            "ROLLBACK TO job; RELEASE job"
        } else {
            "RELEASE job"
        };
        if let Err(e) = conn.execute_batch(end) {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e.to_string());
        }
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e.to_string());
    }
    Ok(())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(db_err))
            .await
    }

    async fn merchant_by_client_id(&self, client_id: &str) -> StoreResult<Option<MerchantRecord>> {
        let client_id = client_id.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {MERCHANT_COLUMNS} FROM merchants WHERE client_id = ?1"
            ))
            .map_err(db_err)?
            .query_row([client_id], merchant_from_row)
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn terminal(&self, id: &str) -> StoreResult<Option<TerminalRecord>> {
        let id = id.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {TERMINAL_COLUMNS} FROM terminals WHERE id = ?1"
            ))
            .map_err(db_err)?
            .query_row([id], terminal_from_row)
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn token(&self, hash: &str) -> StoreResult<Option<TokenRecord>> {
        let hash = hash.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1"
            ))
            .map_err(db_err)?
            .query_row([hash], token_from_row)
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn issue_token(&self, token: NewToken) -> StoreResult<()> {
        self.write(move |tx| tx.insert_token(&token)).await
    }

    async fn transfer(&self, cmd: TransferCommand) -> StoreResult<TransferOutcome> {
        self.write(move |tx| transfer::execute(tx as &mut dyn Tx, &cmd))
            .await
    }

    async fn invoice_status(
        &self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<OperationRecord>> {
        let (m, i) = (merchant_id.to_string(), invoice_id.to_string());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {OPERATION_COLUMNS} FROM operations WHERE merchant_id = ?1 AND invoice_id = ?2
                 ORDER BY (status = 'CHARGE') DESC, created_at DESC LIMIT 1"
            ))
            .map_err(db_err)?
            .query_row([m, i], operation_from_row)
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn saved_cards(
        &self,
        merchant_id: &str,
        account_id: &str,
    ) -> StoreResult<Vec<VaultCard>> {
        let (m, a) = (merchant_id.to_string(), account_id.to_string());
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {VAULT_CARD_COLUMNS} FROM vault_cards
                     WHERE merchant_id = ?1 AND account_id = ?2 AND active = 1 ORDER BY created_at"
                ))
                .map_err(db_err)?;
            let rows = st.query_map([m, a], vault_card_from_row).map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }

    async fn deactivate_card(&self, merchant_id: &str, card_id: &str) -> StoreResult<bool> {
        let (m, id) = (merchant_id.to_string(), card_id.to_string());
        self.write(move |tx| {
            let n = tx
                .conn
                .execute(
                    "UPDATE vault_cards SET active = 0 WHERE id = ?1 AND merchant_id = ?2 AND active = 1",
                    [id, m],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn sandbox_cards(&self) -> StoreResult<Vec<SandboxCardView>> {
        self.read(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT n.id, n.mask, n.brand, n.locked, a.balance, n.currency, n.exp_month, n.exp_year
                     FROM network_cards n JOIN accounts a ON a.id = n.account_id ORDER BY n.created_at, n.id",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map([], |r| {
                    let currency: String = r.get(5)?;
                    let brand: String = r.get(2)?;
                    Ok(SandboxCardView {
                        id: r.get(0)?,
                        mask: r.get(1)?,
                        brand: Brand::from_name(&brand),
                        locked: r.get(3)?,
                        balance: Money::from_minor(r.get(4)?),
                        currency: Currency::parse(&currency).unwrap_or(Currency::Kzt),
                        expiry: Expiry {
                            month: r.get(6)?,
                            year: r.get(7)?,
                        },
                    })
                })
                .map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }

    async fn install(&self, seed: PreparedSeed) -> StoreResult<bool> {
        self.write(move |tx| tx.install(&seed)).await
    }

    async fn claim_callbacks(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
        lease: std::time::Duration,
    ) -> StoreResult<Vec<DueCallback>> {
        let lease_ms = lease.as_millis() as i64;
        self.write(move |tx| sqlite_callbacks::claim(tx.conn, now, limit, lease_ms))
            .await
    }

    async fn finish_callback_attempt(
        &self,
        event_id: &str,
        attempt: CallbackAttempt,
        next: NextStep,
    ) -> StoreResult<()> {
        let id = event_id.to_string();
        self.write(move |tx| sqlite_callbacks::finish(tx.conn, &id, &attempt, next))
            .await
    }

    async fn callbacks(
        &self,
        merchant_id: &str,
        invoice_id: Option<&str>,
    ) -> StoreResult<Vec<CallbackView>> {
        let (m, i) = (merchant_id.to_string(), invoice_id.map(str::to_string));
        self.read(move |c| sqlite_callbacks::list(c, &m, i.as_deref()))
            .await
    }

    async fn resend_callback(&self, merchant_id: &str, event_id: &str) -> StoreResult<bool> {
        let (m, id) = (merchant_id.to_string(), event_id.to_string());
        self.write(move |tx| sqlite_callbacks::resend(tx.conn, &m, &id, chrono::Utc::now()))
            .await
    }

    async fn callback_secret(&self, merchant_id: &str) -> StoreResult<Option<String>> {
        let m = merchant_id.to_string();
        self.read(move |c| {
            c.prepare_cached("SELECT callback_secret FROM merchants WHERE id = ?1")
                .map_err(db_err)?
                .query_row([m], |r| r.get(0))
                .optional()
                .map_err(db_err)
        })
        .await
    }

    async fn ledger_report(&self) -> StoreResult<LedgerReport> {
        self.read(|c| {
            let q = |sql: &str| -> StoreResult<i64> {
                c.query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
                    .map(|v| v.unwrap_or(0))
                    .map_err(db_err)
            };
            let total_minor = q("SELECT SUM(balance) FROM accounts")?;
            let unbalanced = q("SELECT COUNT(*) FROM (SELECT operation_id FROM postings GROUP BY operation_id HAVING SUM(amount) <> 0)")?;
            let drifted = q("SELECT COUNT(*) FROM accounts a WHERE a.balance <> (SELECT COALESCE(SUM(p.amount), 0) FROM postings p WHERE p.account_id = a.id)")?;
            let negative = q("SELECT COUNT(*) FROM accounts WHERE kind = 'card' AND balance < 0")?;
            let accounts = q("SELECT COUNT(*) FROM accounts")?;
            let postings = q("SELECT COUNT(*) FROM postings")?;
            Ok(LedgerReport {
                balanced: total_minor == 0 && unbalanced == 0 && drifted == 0 && negative == 0,
                total_minor,
                unbalanced_operations: unbalanced as u64,
                drifted_accounts: drifted as u64,
                negative_cards: negative as u64,
                accounts: accounts as u64,
                postings: postings as u64,
            })
        })
        .await
    }
}
