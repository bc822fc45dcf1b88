//! The group-commit writer: one thread that takes every write waiting in the queue (up to
//! [`MAX_BATCH`]), runs them in one transaction, commits once, and only then answers each
//! caller. See [`crate::group`] for why, and for the store built on it.
//!
//! Isolation is kept: a command that fails leaves the others untouched (the batch runs again
//! with a savepoint per command, see [`run_batch`]), and a failed commit fails them all —
//! nobody hears "done" for work that is not durable. When the database reports a deadlock or
//! serialization failure (several instances on PostgreSQL), the whole batch runs again from the
//! start; commands are written to be re-runnable. A batch first locks the card accounts its
//! transfers name ([`Conn::prepare`]) and puts off, to its next batch, any transfer whose card
//! another instance holds.

use crate::conn::{BatchError, Conn, Connector};
use aqsha_core::stats::AtomicHistogram;
use aqsha_core::store::{StoreError, StoreResult};
use aqsha_core::transfer::LockKeys;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// The most commands one commit carries. Past this, a batch's latency grows with no gain.
pub const MAX_BATCH: usize = 256;
/// How often a batch that hit a deadlock is run again before its commands fail.
const BATCH_RETRIES: usize = 8;

/// What the writer thread is sent: work, or the order to finish and stop.
pub(crate) enum Command<C> {
    Write(Box<dyn WriteJob<C>>),
    /// Close the queue, run what is in it, then answer.
    Close(oneshot::Sender<()>),
}

pub(crate) trait WriteJob<C>: Send {
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

impl<C> Command<C> {
    /// Work for the writer: `keys` names what it will lock and read, `reply` hears the answer
    /// once its batch is committed (or has failed).
    pub(crate) fn write<T, F>(
        work: F,
        keys: LockKeys,
        reply: oneshot::Sender<StoreResult<T>>,
    ) -> Command<C>
    where
        T: Send + 'static,
        F: Fn(&mut C) -> StoreResult<T> + Send + 'static,
        C: 'static,
    {
        Command::Write(Box::new(Job {
            work,
            keys,
            result: None,
            reply,
        }))
    }
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

/// How much grouping the writer achieved: commands carried, and commits that carried them;
/// for `/metrics`, each batch's size and time, and whether a batch is running now.
#[derive(Debug)]
pub struct WriterStats {
    pub jobs: AtomicU64,
    pub commits: AtomicU64,
    pub batch_size: AtomicHistogram,
    /// Microseconds from BEGIN to durable COMMIT, retries included.
    pub commit_micros: AtomicHistogram,
    pub busy: AtomicBool,
}

/// Batch sizes: powers of two up to [`MAX_BATCH`].
const BATCH_BOUNDS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256];
/// Commit times in microseconds, 250 µs to 5 s: an fsync on a fast disk to a stuck database.
const COMMIT_BOUNDS: &[u64] = &[
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000,
];

impl Default for WriterStats {
    fn default() -> WriterStats {
        WriterStats {
            jobs: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            batch_size: AtomicHistogram::new(BATCH_BOUNDS),
            commit_micros: AtomicHistogram::new(COMMIT_BOUNDS),
            busy: AtomicBool::new(false),
        }
    }
}

impl WriterStats {
    fn record(&self, jobs: usize, took: std::time::Duration) {
        self.jobs.fetch_add(jobs as u64, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.batch_size.observe(jobs as u64);
        self.commit_micros
            .observe(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    }
}

pub(crate) type Queue<C> = mpsc::Receiver<Command<C>>;

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

pub(crate) fn writer_loop<K: Connector>(
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
        stats.busy.store(true, Ordering::Relaxed);
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
        stats.record(batch.len(), began.elapsed());
        stats.busy.store(false, Ordering::Relaxed);
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
