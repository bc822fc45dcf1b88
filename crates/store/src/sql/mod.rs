//! Every query Aqsha makes, written once. A backend supplies a [`Driver`] (how to run a
//! statement, bind parameters and read columns, and its few dialect differences); [`SqlConn`]
//! turns that into the transfer's [`Tx`] and the store's [`Conn`].
//!
//! Statements use PostgreSQL's `$1` placeholders; the SQLite driver rewrites them to `?1`.
/// A terminal's limit settings (migration "transfer_limits") as one text column, in
/// [`limit_settings_of`]'s order: five numbers or empty (the default), comma-separated. So the
/// batch's read-ahead carries them in its one shape of row.
macro_rules! limit_settings_text {
    () => {
        "COALESCE(CAST(limit_per_transfer AS TEXT), '') || ',' ||
         COALESCE(CAST(limit_sender_daily AS TEXT), '') || ',' ||
         COALESCE(CAST(limit_receiver_daily AS TEXT), '') || ',' ||
         COALESCE(CAST(limit_terminal_daily AS TEXT), '') || ',' ||
         COALESCE(CAST(limit_terminal_total AS TEXT), '')"
    };
}

mod batch;
mod cabinet;
mod cabinet_pages;
mod conn;
mod install;
mod leases;
mod limits;
mod metrics;
mod pending;
mod sandbox;
mod search;
mod secure3d;
mod tx;
mod write;

use crate::batch::{Known, Pending, TailKey};
use crate::cache::TtlCache;
use crate::conn::BatchError;
#[cfg(doc)]
use crate::conn::Conn;
use crate::rows::{self, Cols};
use aqsha_core::limits::LimitSettings;
use aqsha_core::money::{Currency, Money};
use aqsha_core::network::funding_account;
use aqsha_core::records::{CardGuesses, NetworkCard, Posting, StoredResponse, TerminalRecord};
use aqsha_core::store::{StoreError, StoreResult, Tx};

/// A statement parameter.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Blob(&'a [u8]),
    /// A list of texts, for `column = ANY($n)` (rewritten to `IN (…)` on SQLite).
    List(&'a [&'a str]),
}

/// One database driver.
pub trait Driver: Send + 'static {
    /// Appended to reads whose rows the transaction is about to change, so concurrent
    /// transactions (other instances) wait for each other. Empty where the database has only
    /// one writer anyway.
    const FOR_UPDATE: &'static str;
    /// Appended to the callback claim, so instances claim disjoint events.
    const SKIP_LOCKED: &'static str;
    /// How a group-commit transaction starts.
    const BEGIN: &'static str;
    /// Whether a commit and the next `BEGIN` go in one round trip, when another batch is
    /// waiting. Worth it where each statement is a round trip (PostgreSQL); not on SQLite,
    /// where an early `BEGIN IMMEDIATE` would only hold the file's write lock sooner.
    const CHAIN_BEGIN: bool;

    /// Runs a statement; returns the number of rows changed.
    fn exec(&mut self, sql: &str, params: &[Param]) -> StoreResult<u64>;
    /// Runs a query and hands each row to `each`.
    fn query(
        &mut self,
        sql: &str,
        params: &[Param],
        each: &mut dyn FnMut(&dyn Cols) -> StoreResult<()>,
    ) -> StoreResult<()>;
    /// Runs transaction control (`BEGIN`, `SAVEPOINT s`, `COMMIT`, …).
    fn control(&mut self, sql: &str) -> Result<(), BatchError>;
    /// Writes a batch: inserts the rows, then applies the balance changes; returns how many
    /// accounts changed. PostgreSQL sends it all as one statement.
    fn write<'a>(&mut self, inserts: &[Rows<'a>], balances: &Balances<'a>) -> StoreResult<u64>;
    /// Fresh retrieval reference numbers, a block at a time.
    fn reference_block(&mut self) -> StoreResult<Vec<i64>>;
    /// Whether rolling back a transaction takes back the references it took (a counter row
    /// does; a sequence does not).
    const REFERENCES_ROLL_BACK: bool;
    /// Takes these advisory locks (invoices, invoice tails) until the transaction ends, so
    /// transfers naming the same key on other connections wait for this one.
    fn lock_keys(&mut self, keys: &[&str]) -> StoreResult<()>;
    /// A query, put before a `UNION ALL`, that takes the advisory locks of list `$2` and
    /// returns no rows: so a batch takes its key locks and its card locks in one round trip.
    /// `None` where there are no advisory locks.
    const LOCK_KEYS_FIRST: Option<&'static str>;
    /// The callback claim's source of due events: every merchant `m` joined to at most `$5`
    /// of its earliest due events `c` (columns `c.id`, `c.next_attempt_at`), each merchant
    /// found by its own index seek. A LATERAL join on PostgreSQL (whose row locks skip events
    /// another instance is claiming); SQLite has none, and runs the correlated `IN` once per
    /// merchant instead.
    const CLAIM_DUE: &'static str;
    fn is_broken(&self) -> bool;
}

/// Rows for one table: each row has one parameter per column, every row of the same kinds.
pub struct Rows<'a> {
    pub table: &'a str,
    pub columns: &'a [&'a str],
    pub rows: Vec<Vec<Param<'a>>>,
    /// An `ON CONFLICT …` clause after the insert, for rows that add to existing ones (limit
    /// counters); each conflicting key at most once per statement.
    pub on_conflict: Option<&'a str>,
}

/// A batch's balance changes, each account once.
pub struct Balances<'a> {
    /// Card accounts: changed in place (the batch holds their locks).
    pub cards: Vec<(&'a str, i64)>,
    /// Shared accounts: added to this connection's shard row (migration "balance_shards").
    pub shared: Vec<(&'a str, i64)>,
    pub shard: i64,
}

/// How many shard rows a shared account's changes spread over.
/// A query that starts with this comment is planned for its parameters on every run, never
/// from a cached generic plan (PostgreSQL; `postgres/driver.rs` says why).
pub const PLANNED_EACH_TIME: &str = "/* planned each time */";

const SHARDS: i64 = 16;

/// Each connection takes the next shard, numbered from the process id, so instances sharing
/// a database rarely write to the same shard row (and if they do, one only waits).
fn next_shard() -> i64 {
    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (i64::from(std::process::id()) + n).rem_euclid(SHARDS)
}

pub struct SqlConn<D: Driver> {
    pub driver: D,
    /// Every transfer reads its terminal, and on PostgreSQL each read is a round trip.
    terminals: TtlCache<TerminalRecord>,
    /// Network cards by fingerprint. Card rows never change once issued, and a batch needs
    /// its cards' accounts before it can lock them: a cached card saves that round trip.
    cards: TtlCache<NetworkCard>,
    /// What the current transaction has read ([`Conn::prepare`]), kept current as it writes.
    known: Known,
    /// What the current transaction's commands wrote and [`Conn::flush`] has yet to send.
    pending: Pending,
    /// Retrieval references taken and not yet used.
    references: std::collections::VecDeque<i64>,
    /// This connection's shard of the shared accounts' balances.
    shard: i64,
    /// The last commit already began the next transaction ([`Driver::CHAIN_BEGIN`]).
    begun: bool,
}

fn is_card_account(id: &str) -> bool {
    id.starts_with("card:")
}

fn batch_err(e: StoreError) -> BatchError {
    BatchError {
        retryable: matches!(e, StoreError::Conflict(_)),
        message: e.to_string(),
    }
}

impl<D: Driver> SqlConn<D> {
    pub fn new(driver: D) -> SqlConn<D> {
        SqlConn {
            driver,
            terminals: TtlCache::new(),
            cards: TtlCache::new(),
            known: Known::default(),
            pending: Pending::default(),
            references: std::collections::VecDeque::new(),
            shard: next_shard(),
            begun: false,
        }
    }

    /// Forgets the transaction's state, when it ends either way.
    fn reset(&mut self, rolled_back: bool) {
        self.known = Known::default();
        self.pending.clear();
        if rolled_back && D::REFERENCES_ROLL_BACK {
            self.references.clear();
        }
    }

    fn one<T>(
        &mut self,
        sql: &str,
        params: &[Param],
        map: fn(&dyn Cols) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let mut out = None;
        self.driver.query(sql, params, &mut |r| {
            if out.is_none() {
                out = Some(map(r)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn all<T>(
        &mut self,
        sql: &str,
        params: &[Param],
        map: fn(&dyn Cols) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut out = Vec::new();
        self.driver.query(sql, params, &mut |r| {
            out.push(map(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    fn count(&mut self, sql: &str) -> StoreResult<i64> {
        Ok(self
            .one(sql, &[], |r| Ok(r.opt_int(0)?.unwrap_or(0)))?
            .unwrap_or(0))
    }

    /// Moves `amount` onto a network card from the account that funds it (its owner's, or the
    /// network's for a public card), as a balanced operation ([`Self::fund_account`]).
    fn fund(
        &mut self,
        card: &NetworkCard,
        amount: Money,
        cap: Option<Money>,
        operation_id: &str,
    ) -> StoreResult<()> {
        let (owner, currency) = (card.owner.as_deref(), card.currency);
        self.fund_account(owner, currency, &card.account_id, amount, cap, operation_id)
    }

    /// Moves `amount` onto `target` from `owner`'s funding account (the network's when
    /// `None`). A merchant's funding account may go no lower than minus `cap`: the balance is
    /// read with the account row locked, so two instances funding at once cannot both slip
    /// under the cap.
    fn fund_account(
        &mut self,
        owner: Option<&str>,
        currency: Currency,
        target: &str,
        amount: Money,
        cap: Option<Money>,
        operation_id: &str,
    ) -> StoreResult<()> {
        if amount <= Money::ZERO {
            return Ok(());
        }
        let funding = funding_account(owner, currency);
        self.ensure_account(&funding, "funding", currency)?;
        if let (Some(cap), Some(_)) = (cap, owner) {
            let created = -self.balance(&funding)?.minor();
            if created.saturating_add(amount.minor()) > cap.minor() {
                return Err(StoreError::Refused(format!(
                    "the sandbox funding cap is {cap} {cur} per merchant; this merchant has \
                     created {} {cur} and cannot create {amount} more",
                    Money::from_minor(created),
                    cur = currency.code()
                )));
            }
        }
        let postings = [
            Posting {
                account_id: funding,
                amount: Money::from_minor(-amount.minor()),
            },
            Posting {
                account_id: target.to_string(),
                amount,
            },
        ];
        self.post(operation_id, &postings)
    }

    fn ensure_account(&mut self, id: &str, kind: &str, currency: Currency) -> StoreResult<()> {
        self.driver.exec(
            "INSERT INTO accounts (id, kind, currency, balance) VALUES ($1, $2, $3, 0)
             ON CONFLICT (id) DO NOTHING",
            &[
                Param::Text(id),
                Param::Text(kind),
                Param::Text(currency.code()),
            ],
        )?;
        Ok(())
    }
}

fn stored(r: &dyn Cols, at: usize) -> StoreResult<StoredResponse> {
    Ok(StoredResponse {
        http_status: u16::try_from(r.int(at)?).unwrap_or(500),
        body: r.text(at + 1)?,
    })
}

/// A wrong-answer count from its columns (`blocked_until` in Unix milliseconds, as text).
fn guesses_of(wrong: i64, blocked_until: &str) -> CardGuesses {
    let ms: i64 = blocked_until.parse().unwrap_or(0);
    CardGuesses {
        wrong: u32::try_from(wrong).unwrap_or(u32::MAX),
        blocked_until: (ms > 0).then(|| rows::millis(ms)),
    }
}

/// Settings from [`limit_settings_text!`]'s text.
fn limit_settings_of(text: &str) -> LimitSettings {
    let mut n = text.split(',').map(|v| v.parse::<i64>().ok());
    let mut next = || n.next().flatten();
    LimitSettings {
        per_transfer: next().map(Money::from_minor),
        sender_daily_transfers: next(),
        receiver_daily: next().map(Money::from_minor),
        terminal_daily: next().map(Money::from_minor),
        terminal_total: next().map(Money::from_minor),
    }
}

/// The advisory lock of a limit counter: transfers counting on it on other instances wait.
fn counter_lock(key: &str) -> String {
    format!("limit/{key}")
}

fn invoice_lock(merchant_id: &str, invoice_id: &str) -> String {
    format!("{merchant_id}/{invoice_id}")
}

fn tail_lock((terminal, day, tail): &TailKey) -> String {
    format!("tail/{terminal}/{day}/{tail}")
}
