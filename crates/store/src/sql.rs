//! Every query Aqsha makes, written once. A backend supplies a [`Driver`] (how to run a
//! statement, bind parameters and read columns, and its few dialect differences); [`SqlConn`]
//! turns that into the transfer's [`Tx`] and the store's [`Conn`].
//!
//! Statements use PostgreSQL's `$1` placeholders; the SQLite driver rewrites them to `?1`.

use crate::batch::{Known, Pending, TailKey};
use crate::cache::TtlCache;
use crate::conn::{BatchError, Conn, Keys};
use crate::rows::{self, Cols};
use aqsha_core::money::{Currency, Money};
use aqsha_core::network::funding_account;
use aqsha_core::sandbox::PreparedSeed;
use aqsha_core::store::{
    CallbackAttempt, CallbackEvent, CallbackView, CardGuesses, DueCallback, KeyUsage, LedgerReport,
    MerchantChange, MerchantRecord, MerchantSummary, NetworkCard, NextStep, OperationRecord,
    Posting, SandboxCardView, SealedRecord, SealedTable, StoreError, StoreResult, StoredResponse,
    TerminalRecord, Tx, VaultCard,
};
use aqsha_core::transfer::{day_of, external_account, invoice_tail};
use aqsha_core::vault::SealedPan;
use chrono::{DateTime, Utc};

/// A statement parameter.
#[derive(Debug, Clone, Copy)]
pub enum P<'a> {
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
    fn exec(&mut self, sql: &str, params: &[P]) -> StoreResult<u64>;
    /// Runs a query and hands each row to `each`.
    fn query(
        &mut self,
        sql: &str,
        params: &[P],
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
    pub rows: Vec<Vec<P<'a>>>,
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

const OPERATION_INSERT_COLUMNS: &[&str] = &[
    "id",
    "merchant_id",
    "terminal_id",
    "invoice_id",
    "account_id",
    "amount",
    "fee",
    "currency",
    "description",
    "email",
    "status",
    "reason_code",
    "reason",
    "reference",
    "int_reference",
    "sender_card_id",
    "sender_mask",
    "sender_brand",
    "sender_type",
    "receiver_card_id",
    "receiver_mask",
    "receiver_brand",
    "receiver_type",
    "token_id",
    "request_digest",
    "http_status",
    "response_body",
    "created_at",
    "post_link",
    "failure_post_link",
    "secret_hash",
    "day",
    "invoice_tail",
];

const CALLBACK_INSERT_COLUMNS: &[&str] = &[
    "id",
    "merchant_id",
    "operation_id",
    "invoice_id",
    "url",
    "kind",
    "body",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
];

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

    /// See [`Conn::prepare`]. Locks whatever card accounts are free (`SKIP LOCKED`), so no
    /// batch ever waits for another while holding cards; a command runs now if all its cards
    /// were locked. When none can run, it starts over and waits instead, locking the batch's
    /// accounts in id order (so waiting batches cannot deadlock), rather than spin. The
    /// locked accounts' balances, and the network cards, become known. The batch's invoice
    /// and tail locks (`locks`, sorted) are taken here too, in the same statement as the
    /// cards where the driver can ([`Driver::LOCK_KEYS_FIRST`]).
    fn lock_cards(&mut self, keys: &[&Keys], locks: &[&str]) -> StoreResult<Vec<bool>> {
        let fingerprints: Vec<&str> = keys
            .iter()
            .flat_map(|k| k.fingerprints.iter().map(String::as_str))
            .collect();
        let saved: Vec<&str> = keys
            .iter()
            .flat_map(|k| k.saved_cards.iter().map(String::as_str))
            .collect();
        let mut account_of = std::collections::HashMap::new();
        let mut missing = Vec::new();
        for f in fingerprints {
            match self.cards.get(f) {
                Some(card) => {
                    account_of.insert(f.to_string(), card.account_id);
                }
                None => missing.push(f),
            }
        }
        if !missing.is_empty() {
            let sql = format!(
                "SELECT {} FROM network_cards WHERE fingerprint = ANY($1)",
                rows::NETWORK_CARD_COLUMNS
            );
            for card in self.all(&sql, &[P::List(&missing)], rows::network_card)? {
                account_of.insert(card.fingerprint.clone(), card.account_id.clone());
                self.cards.put(&card.fingerprint.clone(), card);
            }
        }
        if !saved.is_empty() {
            self.driver.query(
                "SELECT v.id, n.account_id FROM vault_cards v
                 JOIN network_cards n ON n.fingerprint = v.fingerprint
                 WHERE v.id = ANY($1)",
                &[P::List(&saved)],
                &mut |r| {
                    account_of.insert(r.text(0)?, r.text(1)?);
                    Ok(())
                },
            )?;
        }
        if account_of.is_empty() {
            self.driver.lock_keys(locks)?;
            return Ok(vec![true; keys.len()]);
        }
        let mut accounts: Vec<&str> = account_of.values().map(String::as_str).collect();
        accounts.sort_unstable();
        accounts.dedup();
        let balances = self.lock_accounts(&accounts, D::SKIP_LOCKED, locks)?;
        let ready: Vec<bool> = keys
            .iter()
            .map(|k| {
                k.fingerprints
                    .iter()
                    .chain(&k.saved_cards)
                    .filter_map(|c| account_of.get(c))
                    .all(|a| balances.contains_key(a))
            })
            .collect();
        if !ready.iter().any(|r| *r) {
            // Let go of what was taken before waiting, so a waiting batch holds only
            // accounts below the one it waits for.
            self.driver
                .control("ROLLBACK")
                .and_then(|()| self.driver.control(D::BEGIN))
                .map_err(|e| StoreError::Db(e.message))?;
            // Cards first, then keys: a batch never waits for cards while it holds keys.
            let balances = self.lock_accounts(&accounts, D::FOR_UPDATE, &[])?;
            self.driver.lock_keys(locks)?;
            self.known.balances.extend(balances);
            return Ok(vec![true; keys.len()]);
        }
        self.known.balances.extend(balances);
        Ok(ready)
    }

    /// Takes the advisory locks `keys` (invoices and tails, waiting for them), then locks
    /// these accounts, in id order, and reads their balances. `lock` is the driver's
    /// `FOR UPDATE` (wait) or `SKIP LOCKED` (take what is free): accounts another transaction
    /// holds are then missing from the answer.
    fn lock_accounts(
        &mut self,
        accounts: &[&str],
        lock: &str,
        keys: &[&str],
    ) -> StoreResult<std::collections::HashMap<String, i64>> {
        let mut balances = std::collections::HashMap::new();
        let rows = format!(
            "SELECT id, balance FROM (SELECT id, balance FROM accounts WHERE id = ANY($1)
             ORDER BY id{lock}) AS a"
        );
        let mut each = |r: &dyn Cols| {
            balances.insert(r.text(0)?, r.int(1)?);
            Ok(())
        };
        match D::LOCK_KEYS_FIRST {
            Some(first) if !keys.is_empty() => {
                let sql = format!("{first} UNION ALL {rows}");
                self.driver
                    .query(&sql, &[P::List(accounts), P::List(keys)], &mut each)?;
            }
            _ => {
                self.driver.lock_keys(keys)?;
                self.driver.query(&rows, &[P::List(accounts)], &mut each)?;
            }
        }
        Ok(balances)
    }

    /// Reads, in one query, the spent tokens, charged invoices and invoice tails the ready
    /// commands will look for, into `known`. Their invoices and tails were locked by
    /// [`Self::lock_cards`], in an earlier statement: the read must see whatever the locks'
    /// previous holders committed.
    fn read_ahead(&mut self, keys: &[&Keys]) -> StoreResult<()> {
        let tokens: Vec<&str> = keys.iter().filter_map(|k| k.token.as_deref()).collect();
        let invoices: Vec<&(String, String)> =
            keys.iter().filter_map(|k| k.invoice.as_ref()).collect();
        let tails: Vec<&TailKey> = keys.iter().filter_map(|k| k.tail.as_ref()).collect();
        let guesses: Vec<&(String, String)> =
            keys.iter().filter_map(|k| k.guesses.as_ref()).collect();
        if tokens.is_empty() && invoices.is_empty() && tails.is_empty() && guesses.is_empty() {
            return Ok(());
        }
        for k in &guesses {
            self.known
                .guesses
                .insert((*k).clone(), CardGuesses::default());
        }
        let guess_merchants: Vec<&str> = guesses.iter().map(|k| k.0.as_str()).collect();
        let guess_cards: Vec<&str> = guesses.iter().map(|k| k.1.as_str()).collect();
        for t in &tokens {
            self.known.spent.insert(t.to_string(), None);
        }
        for k in &invoices {
            self.known.charged.insert((*k).clone(), None);
        }
        for k in &tails {
            self.known.tails.insert((*k).clone(), Vec::new());
        }
        let merchants: Vec<&str> = invoices.iter().map(|k| k.0.as_str()).collect();
        let numbers: Vec<&str> = invoices.iter().map(|k| k.1.as_str()).collect();
        let terminals: Vec<&str> = tails.iter().map(|k| k.0.as_str()).collect();
        let days: Vec<&str> = tails.iter().map(|k| k.1.as_str()).collect();
        let digits: Vec<&str> = tails.iter().map(|k| k.2.as_str()).collect();
        let known = &mut self.known;
        // Four lookups in one round trip; the first column says which. Each part finds its
        // rows through its own index (lists are matched on an index's first column). The
        // tails' status is filtered in code, for the reason given in `invoice_tail_taken`.
        self.driver.query(
            "SELECT 's', token_id, operation_id, '', '', 0, '' FROM spent_tokens
             WHERE token_id = ANY($1)
             UNION ALL
             SELECT 'c', merchant_id, invoice_id, id, request_digest, http_status, response_body
             FROM operations WHERE invoice_id = ANY($3) AND merchant_id = ANY($2)
             AND status = 'CHARGE'
             UNION ALL
             SELECT 't', terminal_id, day, invoice_tail, invoice_id, 0, status FROM operations
             WHERE invoice_tail = ANY($6) AND terminal_id = ANY($4) AND day = ANY($5)
             UNION ALL
             SELECT 'g', merchant_id, card_key, '', '', wrong, CAST(blocked_until AS TEXT)
             FROM card_guesses WHERE card_key = ANY($8) AND merchant_id = ANY($7)",
            &[
                P::List(&tokens),
                P::List(&merchants),
                P::List(&numbers),
                P::List(&terminals),
                P::List(&days),
                P::List(&digits),
                P::List(&guess_merchants),
                P::List(&guess_cards),
            ],
            &mut |r| {
                let (a, b) = (r.text(1)?, r.text(2)?);
                match r.text(0)?.as_str() {
                    "s" => {
                        if let Some(slot) = known.spent.get_mut(&a) {
                            *slot = Some(b);
                        }
                    }
                    "c" => {
                        if let Some(slot) = known.charged.get_mut(&(a, b)) {
                            *slot = Some((r.text(3)?, r.text(4)?, stored(r, 5)?));
                        }
                    }
                    "g" => {
                        if let Some(slot) = known.guesses.get_mut(&(a, b)) {
                            *slot = guesses_of(r.int(5)?, &r.text(6)?);
                        }
                    }
                    _ => {
                        let key = (a, b, r.text(3)?);
                        if let Some(rows) = known.tails.get_mut(&key) {
                            rows.push((r.text(4)?, r.text(6)? == "CHARGE"));
                        }
                    }
                }
                Ok(())
            },
        )
    }

    /// Sends the pending writes, each table in one go; then they are part of what is known.
    fn write_pending(&mut self) -> StoreResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let p = &self.pending;
        let dates: Vec<(String, String)> = p
            .operations
            .iter()
            .map(|o| (rows::rfc3339(o.created_at), day_of(o.created_at)))
            .collect();
        let ops: Vec<Vec<P>> = p
            .operations
            .iter()
            .zip(&dates)
            .map(|(o, (created, day))| operation_params(o, created, day))
            .collect();
        let postings: Vec<Vec<P>> = p
            .postings
            .iter()
            .map(|(op, posting)| {
                vec![
                    P::Text(op),
                    P::Text(&posting.account_id),
                    P::Int(posting.amount.minor()),
                ]
            })
            .collect();
        let spent: Vec<Vec<P>> = p
            .spent
            .iter()
            .map(|(token, op)| vec![P::Text(token), P::Text(op)])
            .collect();
        let events: Vec<Vec<P>> = p
            .callbacks
            .iter()
            .map(|e| {
                let at = e.created_at.timestamp_millis();
                vec![
                    P::Text(&e.id),
                    P::Text(&e.merchant_id),
                    P::Text(&e.operation_id),
                    P::Text(&e.invoice_id),
                    P::Text(&e.url),
                    P::Text(&e.kind),
                    P::Text(&e.body),
                    P::Text("pending"),
                    P::Int(0),
                    P::Int(at),
                    P::Int(at),
                ]
            })
            .collect();
        let inserts = [
            Rows {
                table: "operations",
                columns: OPERATION_INSERT_COLUMNS,
                rows: ops,
            },
            Rows {
                table: "postings",
                columns: &["operation_id", "account_id", "amount"],
                rows: postings,
            },
            Rows {
                table: "spent_tokens",
                columns: &["token_id", "operation_id"],
                rows: spent,
            },
            Rows {
                table: "callback_events",
                columns: CALLBACK_INSERT_COLUMNS,
                rows: events,
            },
        ];
        let mut balances = Balances {
            cards: Vec::new(),
            shared: Vec::new(),
            shard: self.shard,
        };
        // Every account posted to is written, even when its changes cancel out: the count
        // below is what proves each one exists (PostgreSQL has no foreign key from postings
        // to accounts; migration 0008 says why).
        for (account, delta) in &p.deltas {
            let side = match is_card_account(account) {
                true => &mut balances.cards,
                false => &mut balances.shared,
            };
            side.push((account.as_str(), *delta));
        }
        let expected = (balances.cards.len() + balances.shared.len()) as u64;
        let changed = self.driver.write(&inserts, &balances)?;
        if changed != expected {
            return Err(StoreError::Invariant(
                "postings name a ledger account that does not exist".into(),
            ));
        }
        self.pending.apply_to(&mut self.known);
        self.pending.clear();
        Ok(())
    }

    fn one<T>(
        &mut self,
        sql: &str,
        params: &[P],
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
        params: &[P],
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
    /// network's for a public card), as a balanced operation. A merchant's funding account may
    /// go no lower than minus `cap`: the balance is read with the account row locked, so two
    /// instances funding at once cannot both slip under the cap.
    fn fund(
        &mut self,
        card: &NetworkCard,
        amount: Money,
        cap: Option<Money>,
        operation_id: &str,
    ) -> StoreResult<()> {
        if amount <= Money::ZERO {
            return Ok(());
        }
        let funding = funding_account(card.owner.as_deref(), card.currency);
        self.ensure_account(&funding, "funding", card.currency)?;
        if let (Some(cap), Some(_)) = (cap, &card.owner) {
            let created = -self.balance(&funding)?.minor();
            if created.saturating_add(amount.minor()) > cap.minor() {
                return Err(StoreError::Refused(format!(
                    "the sandbox funding cap is {cap} {cur} per merchant; this merchant has \
                     created {} {cur} and cannot create {amount} more",
                    Money::from_minor(created),
                    cur = card.currency.code()
                )));
            }
        }
        let postings = [
            Posting {
                account_id: funding,
                amount: Money::from_minor(-amount.minor()),
            },
            Posting {
                account_id: card.account_id.clone(),
                amount,
            },
        ];
        self.post(operation_id, &postings)
    }

    fn ensure_account(&mut self, id: &str, kind: &str, currency: Currency) -> StoreResult<()> {
        self.driver.exec(
            "INSERT INTO accounts (id, kind, currency, balance) VALUES ($1, $2, $3, 0)
             ON CONFLICT (id) DO NOTHING",
            &[P::Text(id), P::Text(kind), P::Text(currency.code())],
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

fn invoice_lock(merchant_id: &str, invoice_id: &str) -> String {
    format!("{merchant_id}/{invoice_id}")
}

fn tail_lock((terminal, day, tail): &TailKey) -> String {
    format!("tail/{terminal}/{day}/{tail}")
}

/// The advisory locks a batch takes: its invoices and invoice tails (so that another instance
/// charging the same invoice, or another invoice with the same tail, waits for this commit),
/// sorted, so that two batches cannot deadlock on them.
fn lock_keys_of(keys: &[&Keys]) -> Vec<String> {
    let mut locks: Vec<String> = keys
        .iter()
        .filter_map(|k| k.invoice.as_ref())
        .map(|(m, i)| invoice_lock(m, i))
        .chain(keys.iter().filter_map(|k| k.tail.as_ref()).map(tail_lock))
        .collect();
    locks.sort_unstable();
    locks.dedup();
    locks
}

/// An operation's row, in [`OPERATION_INSERT_COLUMNS`] order.
fn operation_params<'a>(op: &'a OperationRecord, created: &'a str, day: &'a str) -> Vec<P<'a>> {
    vec![
        P::Text(&op.id),
        P::Text(&op.merchant_id),
        P::Text(&op.terminal_id),
        P::Text(&op.invoice_id),
        P::Text(&op.account_id),
        P::Int(op.amount.minor()),
        P::Int(op.fee.minor()),
        P::Text(&op.currency),
        P::Text(&op.description),
        P::Text(&op.email),
        P::Text(&op.status),
        P::Int(i64::from(op.reason_code)),
        P::Text(&op.reason),
        P::Text(&op.reference),
        P::Text(&op.int_reference),
        P::Text(&op.sender.card_id),
        P::Text(&op.sender.mask),
        P::Text(&op.sender.brand),
        P::Text(&op.sender.transfer_type),
        P::Text(&op.receiver.card_id),
        P::Text(&op.receiver.mask),
        P::Text(&op.receiver.brand),
        P::Text(&op.receiver.transfer_type),
        P::Text(&op.token_id),
        P::Text(&op.request_digest),
        P::Int(i64::from(op.http_status)),
        P::Text(&op.response_body),
        P::Text(created),
        P::OptText(op.post_link.as_deref()),
        P::OptText(op.failure_post_link.as_deref()),
        P::OptText(op.secret_hash.as_deref()),
        P::Text(day),
        // A six-digit invoice is its own tail.
        P::Text(invoice_tail(&op.invoice_id).unwrap_or(&op.invoice_id)),
    ]
}

/// The transfer's reads look at the pending writes first, then at what the transaction
/// knows, and only then at the database; its writes (besides saved cards) stay pending until
/// [`Conn::flush`]. See [`crate::batch`].
impl<D: Driver> Tx for SqlConn<D> {
    fn token_spent_by(&mut self, token_id: &str) -> StoreResult<Option<String>> {
        if let Some(op) = self.pending.spent_by(token_id) {
            return Ok(Some(op.clone()));
        }
        if let Some(known) = self.known.spent.get(token_id) {
            return Ok(known.clone());
        }
        self.one(
            "SELECT operation_id FROM spent_tokens WHERE token_id = $1",
            &[P::Text(token_id)],
            |r| r.text(0),
        )
    }

    fn card_guesses(&mut self, merchant_id: &str, card_key: &str) -> StoreResult<CardGuesses> {
        let key = (merchant_id.to_string(), card_key.to_string());
        if let Some(g) = self.known.guesses.get(&key) {
            return Ok(*g);
        }
        Ok(self
            .one(
                "SELECT wrong, CAST(blocked_until AS TEXT) FROM card_guesses
                 WHERE card_key = $1 AND merchant_id = $2",
                &[P::Text(card_key), P::Text(merchant_id)],
                |r| Ok(guesses_of(r.int(0)?, &r.text(1)?)),
            )?
            .unwrap_or_default())
    }

    // Written at once, like saved cards: wrong answers are rare. What is known is dropped, so
    // a later read in this transaction sees the write, or its undoing by a savepoint.
    fn put_card_guesses(
        &mut self,
        merchant_id: &str,
        card_key: &str,
        g: CardGuesses,
    ) -> StoreResult<()> {
        self.driver.exec(
            "INSERT INTO card_guesses (card_key, merchant_id, wrong, blocked_until)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (card_key, merchant_id)
             DO UPDATE SET wrong = excluded.wrong, blocked_until = excluded.blocked_until",
            &[
                P::Text(card_key),
                P::Text(merchant_id),
                P::Int(i64::from(g.wrong)),
                P::Int(g.blocked_until.map_or(0, |t| t.timestamp_millis())),
            ],
        )?;
        self.known
            .guesses
            .remove(&(merchant_id.to_string(), card_key.to_string()));
        Ok(())
    }

    fn spend_token(&mut self, token_id: &str, operation_id: &str) -> StoreResult<()> {
        self.pending.spend(token_id, operation_id);
        Ok(())
    }

    fn terminal(&mut self, id: &str) -> StoreResult<Option<TerminalRecord>> {
        if let Some(t) = self.terminals.get(id) {
            return Ok(Some(t));
        }
        let sql = format!(
            "SELECT {} FROM terminals WHERE id = $1",
            rows::TERMINAL_COLUMNS
        );
        let found = self.one(&sql, &[P::Text(id)], rows::terminal)?;
        if let Some(t) = &found {
            self.terminals.put(id, t.clone());
        }
        Ok(found)
    }

    fn network_card(&mut self, fingerprint: &str) -> StoreResult<Option<NetworkCard>> {
        if let Some(card) = self.cards.get(fingerprint) {
            return Ok(Some(card));
        }
        let sql = format!(
            "SELECT {} FROM network_cards WHERE fingerprint = $1",
            rows::NETWORK_CARD_COLUMNS
        );
        let found = self.one(&sql, &[P::Text(fingerprint)], rows::network_card)?;
        if let Some(card) = &found {
            self.cards.put(fingerprint, card.clone());
        }
        Ok(found)
    }

    fn vault_card(&mut self, id: &str) -> StoreResult<Option<VaultCard>> {
        let sql = format!(
            "SELECT {} FROM vault_cards WHERE id = $1",
            rows::VAULT_CARD_COLUMNS
        );
        self.one(&sql, &[P::Text(id)], rows::vault_card)
    }

    fn vault_card_for(
        &mut self,
        merchant_id: &str,
        account_id: &str,
        fingerprint: &str,
    ) -> StoreResult<Option<VaultCard>> {
        let sql = format!(
            "SELECT {} FROM vault_cards WHERE merchant_id = $1 AND account_id = $2 AND fingerprint = $3",
            rows::VAULT_CARD_COLUMNS
        );
        self.one(
            &sql,
            &[
                P::Text(merchant_id),
                P::Text(account_id),
                P::Text(fingerprint),
            ],
            rows::vault_card,
        )
    }

    // Written at once: saved cards are rare, and later commands read them from the database.
    fn put_vault_card(&mut self, c: &VaultCard) -> StoreResult<()> {
        self.driver.exec(
            "INSERT INTO vault_cards (id, merchant_id, account_id, fingerprint, key_id, pan_sealed, mask,
             brand, payer_name, active, created_at, transaction_id, reference, int_reference, terminal_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT (id) DO UPDATE SET active = excluded.active, payer_name = excluded.payer_name,
             key_id = excluded.key_id, pan_sealed = excluded.pan_sealed,
             transaction_id = excluded.transaction_id, reference = excluded.reference,
             int_reference = excluded.int_reference, terminal_id = excluded.terminal_id",
            &[
                P::Text(&c.id),
                P::Text(&c.merchant_id),
                P::Text(&c.account_id),
                P::Text(&c.fingerprint),
                P::Text(&c.sealed.key_id),
                P::Blob(&c.sealed.blob),
                P::Text(&c.mask),
                P::Text(c.brand.name()),
                P::Text(&c.payer_name),
                P::Bool(c.active),
                P::Text(&rows::rfc3339(c.created_at)),
                P::Text(&c.transaction_id),
                P::Text(&c.reference),
                P::Text(&c.int_reference),
                P::Text(&c.terminal_id),
            ],
        )?;
        Ok(())
    }

    fn operation_response(
        &mut self,
        operation_id: &str,
    ) -> StoreResult<Option<(String, StoredResponse)>> {
        if let Some(found) = self.pending.response(operation_id) {
            return Ok(Some(found));
        }
        self.one(
            "SELECT request_digest, http_status, response_body FROM operations WHERE id = $1",
            &[P::Text(operation_id)],
            |r| Ok((r.text(0)?, stored(r, 1)?)),
        )
    }

    fn charged_operation(
        &mut self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<(String, String, StoredResponse)>> {
        if let Some(found) = self.pending.charged(merchant_id, invoice_id) {
            return Ok(Some(found));
        }
        let key = (merchant_id.to_string(), invoice_id.to_string());
        if let Some(known) = self.known.charged.get(&key) {
            return Ok(known.clone());
        }
        self.driver
            .lock_keys(&[&invoice_lock(merchant_id, invoice_id)])?;
        let found = self.one(
            "SELECT id, request_digest, http_status, response_body FROM operations
             WHERE merchant_id = $1 AND invoice_id = $2 AND status = 'CHARGE'",
            &[P::Text(merchant_id), P::Text(invoice_id)],
            |r| Ok((r.text(0)?, r.text(1)?, stored(r, 2)?)),
        )?;
        self.known.charged.insert(key, found.clone());
        Ok(found)
    }

    fn invoice_tail_taken(
        &mut self,
        terminal_id: &str,
        day: &str,
        tail: &str,
        invoice_id: &str,
    ) -> StoreResult<bool> {
        let key = (terminal_id.to_string(), day.to_string(), tail.to_string());
        if self.pending.tail_taken(&key, invoice_id) {
            return Ok(true);
        }
        if let Some(rows) = self.known.tails.get(&key) {
            return Ok(rows
                .iter()
                .any(|(inv, charged)| *charged && inv != invoice_id));
        }
        self.driver.lock_keys(&[&tail_lock(&key)])?;
        // The status is checked here rather than in SQL, so that the query names nothing but
        // the tail index's columns: with `status = 'CHARGE'` in it, PostgreSQL once planned it
        // as a full scan of a partial index over charges (since dropped) and kept that plan.
        let statuses = self.all(
            "SELECT status FROM operations WHERE terminal_id = $1 AND day = $2 AND invoice_tail = $3
             AND invoice_id <> $4",
            &[
                P::Text(terminal_id),
                P::Text(day),
                P::Text(tail),
                P::Text(invoice_id),
            ],
            |r| r.text(0),
        )?;
        Ok(statuses.iter().any(|s| s == "CHARGE"))
    }

    fn balance(&mut self, account_id: &str) -> StoreResult<Money> {
        let base = match self.known.balances.get(account_id) {
            Some(b) => *b,
            None => {
                let sql = format!(
                    "SELECT CAST(a.balance + COALESCE((SELECT SUM(s.balance) FROM balance_shards s
                     WHERE s.account_id = a.id), 0) AS BIGINT) FROM accounts a WHERE a.id = $1{}",
                    D::FOR_UPDATE
                );
                let b = self
                    .one(&sql, &[P::Text(account_id)], |r| r.int(0))?
                    .ok_or_else(|| {
                        StoreError::Invariant(format!("no ledger account {account_id}"))
                    })?;
                self.known.balances.insert(account_id.to_string(), b);
                b
            }
        };
        Ok(Money::from_minor(base + self.pending.delta(account_id)))
    }

    fn post(&mut self, operation_id: &str, postings: &[Posting]) -> StoreResult<()> {
        let sum: i64 = postings.iter().map(|p| p.amount.minor()).sum();
        if sum != 0 {
            return Err(StoreError::Invariant(format!(
                "postings of {operation_id} sum to {sum}, not zero"
            )));
        }
        // A card account is never overdrawn; its balance is locked and known. (The database's
        // CHECK guards it again when the balances are written.)
        let mut cards = std::collections::BTreeMap::new();
        for p in postings.iter().filter(|p| is_card_account(&p.account_id)) {
            *cards.entry(p.account_id.as_str()).or_insert(0) += p.amount.minor();
        }
        for (account, delta) in cards {
            if self.balance(account)?.minor() + delta < 0 {
                return Err(StoreError::Invariant(format!(
                    "postings of {operation_id} would overdraw {account}"
                )));
            }
        }
        for p in postings {
            *self.pending.deltas.entry(p.account_id.clone()).or_default() += p.amount.minor();
            self.pending
                .postings
                .push((operation_id.to_string(), p.clone()));
        }
        Ok(())
    }

    fn insert_operation(&mut self, op: &OperationRecord) -> StoreResult<()> {
        self.pending.add_operation(op);
        Ok(())
    }

    fn next_reference(&mut self) -> StoreResult<String> {
        if self.references.is_empty() {
            let block = self.driver.reference_block()?;
            self.references.extend(block);
        }
        let n = self
            .references
            .pop_front()
            .ok_or_else(|| StoreError::Invariant("no reference numbers".into()))?;
        Ok(format!("{n:012}"))
    }

    fn insert_callback(&mut self, e: &CallbackEvent) -> StoreResult<()> {
        self.pending.callbacks.push(e.clone());
        Ok(())
    }
}

impl<D: Driver> Conn for SqlConn<D> {
    fn begin(&mut self) -> Result<(), BatchError> {
        self.reset(false);
        if std::mem::take(&mut self.begun) {
            return Ok(());
        }
        self.driver.control(D::BEGIN)
    }
    fn prepare(&mut self, keys: &[&Keys]) -> Result<Vec<bool>, BatchError> {
        let locks = lock_keys_of(keys);
        let locks: Vec<&str> = locks.iter().map(String::as_str).collect();
        let ready = self.lock_cards(keys, &locks).map_err(batch_err)?;
        let now: Vec<&Keys> = keys
            .iter()
            .zip(&ready)
            .filter(|(_, r)| **r)
            .map(|(k, _)| *k)
            .collect();
        self.read_ahead(&now).map_err(batch_err)?;
        Ok(ready)
    }
    fn flush(&mut self) -> Result<(), BatchError> {
        self.write_pending().map_err(batch_err)
    }
    fn commit(&mut self, next: bool) -> Result<(), BatchError> {
        self.flush()?;
        self.reset(false);
        if next && D::CHAIN_BEGIN {
            // One simple query, two statements: if COMMIT fails, BEGIN does not run.
            self.driver.control(&format!("COMMIT; {}", D::BEGIN))?;
            self.begun = true;
            return Ok(());
        }
        self.driver.control("COMMIT")
    }
    fn rollback(&mut self) {
        self.begun = false;
        self.reset(true);
        let _ = self.driver.control("ROLLBACK");
    }
    // Commands run in savepoints only in the careful path, each flushed before its savepoint
    // is released; so nothing is pending at a savepoint.
    fn savepoint(&mut self) -> Result<(), BatchError> {
        self.driver.control("SAVEPOINT job")
    }
    fn release_savepoint(&mut self) -> Result<(), BatchError> {
        self.driver.control("RELEASE SAVEPOINT job")
    }
    fn rollback_to_savepoint(&mut self) -> Result<(), BatchError> {
        self.pending.clear();
        if D::REFERENCES_ROLL_BACK {
            self.references.clear();
        }
        self.driver.control("ROLLBACK TO SAVEPOINT job")
    }
    fn is_broken(&self) -> bool {
        self.driver.is_broken()
    }

    fn install(&mut self, seed: &PreparedSeed) -> StoreResult<bool> {
        let now = rows::rfc3339(Utc::now());
        if let Some(marker) = &seed.marker {
            let inserted = self.driver.exec(
                "INSERT INTO seed_markers (marker, applied_at) VALUES ($1, $2) ON CONFLICT (marker) DO NOTHING",
                &[P::Text(marker), P::Text(&now)],
            )?;
            if inserted == 0 {
                return Ok(false);
            }
        }
        for c in [Currency::Kzt, Currency::Usd] {
            self.ensure_account(&external_account(c), "external", c)?;
            self.ensure_account(&funding_account(None, c), "funding", c)?;
        }
        for m in &seed.merchants {
            let r = &m.record;
            self.driver.exec(
                "INSERT INTO merchants (id, client_id, secret_hash, name, cabinet_email,
                 cabinet_password_hash, callback_secret, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    P::Text(&r.id),
                    P::Text(&r.client_id),
                    P::Text(&r.secret_hash),
                    P::Text(&r.name),
                    P::OptText(m.cabinet_email.as_deref()),
                    P::OptText(m.cabinet_password_hash.as_deref()),
                    P::Text(&m.callback_secret),
                    P::Text(&now),
                ],
            )?;
        }
        let terminals = seed.merchants.iter().flat_map(|m| m.terminals.iter());
        for t in terminals.chain(seed.terminals.iter()) {
            self.ensure_account(&t.fee_account, "fee", t.currency)?;
            self.driver.exec(
                "INSERT INTO terminals (id, merchant_id, currency, fee_bps, fee_min, fee_account)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    P::Text(&t.id),
                    P::Text(&t.merchant_id),
                    P::Text(t.currency.code()),
                    P::Int(t.fee.percent_bps),
                    P::Int(t.fee.min_fee.minor()),
                    P::Text(&t.fee_account),
                ],
            )?;
        }
        for n in &seed.cards {
            let c = &n.card;
            self.ensure_account(&c.account_id, "card", c.currency)?;
            self.driver.exec(
                "INSERT INTO network_cards (id, fingerprint, key_id, pan_sealed, mask, brand, exp_month,
                 exp_year, cvc_check, locked, enforce_expiry, account_id, currency, created_at,
                 owner_merchant_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                &[
                    P::Text(&c.id),
                    P::Text(&c.fingerprint),
                    P::Text(&n.sealed.key_id),
                    P::Blob(&n.sealed.blob),
                    P::Text(&c.mask),
                    P::Text(c.brand.name()),
                    P::Int(i64::from(c.expiry.month)),
                    P::Int(i64::from(c.expiry.year)),
                    P::Text(&c.cvc_check),
                    P::Bool(c.locked),
                    P::Bool(c.enforce_expiry),
                    P::Text(&c.account_id),
                    P::Text(c.currency.code()),
                    P::Text(&now),
                    P::OptText(c.owner.as_deref()),
                ],
            )?;
            self.fund(
                c,
                n.opening_balance,
                seed.funding_cap,
                &format!("funding:{}", c.id),
            )?;
        }
        for v in &seed.vault_cards {
            self.put_vault_card(v)?;
        }
        Ok(true)
    }

    fn top_up(
        &mut self,
        merchant_id: &str,
        card_id: &str,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreResult<Option<Money>> {
        let sql = format!(
            "SELECT {} FROM network_cards WHERE id = $1 AND owner_merchant_id = $2",
            rows::NETWORK_CARD_COLUMNS
        );
        let Some(card) = self.one(
            &sql,
            &[P::Text(card_id), P::Text(merchant_id)],
            rows::network_card,
        )?
        else {
            return Ok(None);
        };
        let op = format!("topup:{}", uuid::Uuid::now_v7());
        self.fund(&card, amount, cap, &op)?;
        // The new balance: the locked balance plus this batch's pending change.
        Ok(Some(self.balance(&card.account_id)?))
    }

    fn public_card_keys(&mut self) -> StoreResult<Vec<String>> {
        self.all(
            "SELECT fingerprint FROM network_cards WHERE owner_merchant_id IS NULL",
            &[],
            |r| r.text(0),
        )
    }

    fn deactivate_card(
        &mut self,
        merchant_id: &str,
        card_id: &str,
        account_id: Option<&str>,
    ) -> StoreResult<bool> {
        let n = self.driver.exec(
            "UPDATE vault_cards SET active = $3 WHERE id = $1 AND merchant_id = $2 AND active = $4
             AND (CAST($5 AS TEXT) IS NULL OR account_id = $5)",
            &[
                P::Text(card_id),
                P::Text(merchant_id),
                P::Bool(false),
                P::Bool(true),
                P::OptText(account_id),
            ],
        )?;
        Ok(n == 1)
    }

    fn claim_callbacks(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
        lease_ms: i64,
        per_merchant: usize,
        skip: &[String],
    ) -> StoreResult<Vec<DueCallback>> {
        let now_ms = now.timestamp_millis();
        let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
        // Each merchant's earliest due events, at most `per_merchant` of them, found by an
        // index seek per merchant (migration "merchant_admin"), so that a merchant at its cap
        // costs nothing however many of its events are due; then the earliest of those.
        let sql = format!(
            "UPDATE callback_events SET lease_until = $2, attempts = attempts + 1
             WHERE id IN (
                SELECT c.id FROM {}
                WHERE NOT (m.id = ANY($4))
                ORDER BY c.next_attempt_at LIMIT $3)
             RETURNING {}, attempts,
                (SELECT m.callback_secret FROM merchants m WHERE m.id = callback_events.merchant_id)",
            D::CLAIM_DUE,
            rows::EVENT_COLUMNS
        );
        self.all(
            &sql,
            &[
                P::Int(now_ms),
                P::Int(now_ms + lease_ms),
                P::Int(limit as i64),
                P::List(&skip),
                P::Int(per_merchant as i64),
            ],
            |r| {
                Ok(DueCallback {
                    event: rows::event(r)?,
                    attempt: u32::try_from(r.int(8)?).unwrap_or(u32::MAX),
                    secret: r.text(9)?,
                })
            },
        )
    }

    fn update_merchant(&mut self, client_id: &str, change: &MerchantChange) -> StoreResult<bool> {
        self.merchant_update(client_id, change)
    }

    fn finish_callback(
        &mut self,
        event_id: &str,
        a: &CallbackAttempt,
        next: NextStep,
    ) -> StoreResult<()> {
        self.driver.exec(
            "INSERT INTO callback_attempts (event_id, attempt, at, http_status, error, duration_ms)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id, attempt) DO NOTHING",
            &[
                P::Text(event_id),
                P::Int(i64::from(a.attempt)),
                P::Int(a.at.timestamp_millis()),
                P::OptInt(a.http_status.map(i64::from)),
                P::OptText(a.error.as_deref()),
                P::Int(i64::try_from(a.duration_ms).unwrap_or(i64::MAX)),
            ],
        )?;
        let (status, next_at, delivered_at) = match next {
            NextStep::Delivered => ("delivered", None, Some(a.at.timestamp_millis())),
            NextStep::RetryAt(t) => ("pending", Some(t.timestamp_millis()), None),
            NextStep::Failed => ("failed", None, None),
        };
        self.driver.exec(
            "UPDATE callback_events SET status = $2, lease_until = 0,
             next_attempt_at = COALESCE($3, next_attempt_at), delivered_at = COALESCE($4, delivered_at)
             WHERE id = $1",
            &[P::Text(event_id), P::Text(status), P::OptInt(next_at), P::OptInt(delivered_at)],
        )?;
        Ok(())
    }

    fn resend_callback(
        &mut self,
        merchant_id: &str,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let n = self.driver.exec(
            "UPDATE callback_events SET status = 'pending', next_attempt_at = $3, lease_until = 0
             WHERE id = $1 AND merchant_id = $2",
            &[
                P::Text(event_id),
                P::Text(merchant_id),
                P::Int(now.timestamp_millis()),
            ],
        )?;
        Ok(n == 1)
    }

    fn ping(&mut self) -> StoreResult<()> {
        self.one("SELECT 1", &[], |_| Ok(()))?;
        Ok(())
    }

    fn merchant_by_client_id(&mut self, client_id: &str) -> StoreResult<Option<MerchantRecord>> {
        let sql = format!(
            "SELECT {} FROM merchants WHERE client_id = $1",
            rows::MERCHANT_COLUMNS
        );
        self.one(&sql, &[P::Text(client_id)], rows::merchant)
    }

    fn merchant_active(&mut self, merchant_id: &str) -> StoreResult<bool> {
        self.merchant_active_row(merchant_id)
    }

    fn merchants(&mut self) -> StoreResult<Vec<MerchantSummary>> {
        self.merchant_list()
    }

    fn invoice_status(
        &mut self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<OperationRecord>> {
        let sql = format!(
            "SELECT {} FROM operations WHERE merchant_id = $1 AND invoice_id = $2
             ORDER BY (status = 'CHARGE') DESC, created_at DESC LIMIT 1",
            rows::OPERATION_COLUMNS
        );
        self.one(
            &sql,
            &[P::Text(merchant_id), P::Text(invoice_id)],
            rows::operation,
        )
    }

    fn saved_cards(&mut self, merchant_id: &str, account_id: &str) -> StoreResult<Vec<VaultCard>> {
        let sql = format!(
            "SELECT {} FROM vault_cards WHERE merchant_id = $1 AND account_id = $2 AND active = $3
             ORDER BY created_at",
            rows::VAULT_CARD_COLUMNS
        );
        self.all(
            &sql,
            &[P::Text(merchant_id), P::Text(account_id), P::Bool(true)],
            rows::vault_card,
        )
    }

    fn sandbox_cards(&mut self, merchant_id: &str) -> StoreResult<Vec<SandboxCardView>> {
        self.all(
            rows::SANDBOX_CARD_SELECT,
            &[P::Text(merchant_id)],
            rows::sandbox_card,
        )
    }

    fn callbacks(
        &mut self,
        merchant_id: &str,
        invoice_id: Option<&str>,
    ) -> StoreResult<Vec<CallbackView>> {
        let sql = format!(
            "SELECT {}, status, next_attempt_at, delivered_at FROM callback_events
             WHERE merchant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR invoice_id = $2)
             ORDER BY created_at DESC, id LIMIT 500",
            rows::EVENT_COLUMNS
        );
        let mut views = self.all(&sql, &[P::Text(merchant_id), P::OptText(invoice_id)], |r| {
            let status = r.text(8)?;
            let next = r.int(9)?;
            Ok(CallbackView {
                event: rows::event(r)?,
                next_attempt_at: (status == "pending").then(|| rows::millis(next)),
                status,
                delivered_at: r.opt_int(10)?.map(rows::millis),
                attempts: Vec::new(),
            })
        })?;
        let sql = format!(
            "SELECT {} FROM callback_attempts WHERE event_id = $1 ORDER BY attempt",
            rows::ATTEMPT_COLUMNS
        );
        for v in views.iter_mut() {
            v.attempts = self.all(&sql, &[P::Text(&v.event.id)], rows::attempt)?;
        }
        Ok(views)
    }

    fn callback_secret(&mut self, merchant_id: &str) -> StoreResult<Option<String>> {
        self.one(
            "SELECT callback_secret FROM merchants WHERE id = $1",
            &[P::Text(merchant_id)],
            |r| r.text(0),
        )
    }

    fn key_usage(&mut self) -> StoreResult<Vec<KeyUsage>> {
        crate::sealed::key_usage(self)
    }

    fn sealed_not_under(
        &mut self,
        table: SealedTable,
        key_id: &str,
        after_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<SealedRecord>> {
        crate::sealed::sealed_not_under(self, table, key_id, after_id, limit)
    }

    fn reseal(
        &mut self,
        table: SealedTable,
        changes: &[(SealedRecord, SealedPan)],
    ) -> StoreResult<u64> {
        crate::sealed::reseal(self, table, changes)
    }

    fn ledger_report(&mut self) -> StoreResult<LedgerReport> {
        // A shared account's balance is its own column plus its shard rows.
        let total_minor = self.count(
            "SELECT CAST(SUM(b) AS BIGINT) FROM (SELECT balance AS b FROM accounts
             UNION ALL SELECT balance FROM balance_shards) AS t",
        )?;
        let unbalanced = self.count(
            "SELECT COUNT(*) FROM (SELECT operation_id FROM postings GROUP BY operation_id
             HAVING SUM(amount) <> 0) AS u",
        )?;
        // One pass over the postings: a per-account sub-query would scan them once per account.
        let drifted = self.count(
            "SELECT COUNT(*) FROM accounts a
             LEFT JOIN (SELECT account_id, CAST(SUM(amount) AS BIGINT) AS total FROM postings
                GROUP BY account_id) p ON p.account_id = a.id
             LEFT JOIN (SELECT account_id, CAST(SUM(balance) AS BIGINT) AS total
                FROM balance_shards GROUP BY account_id) s ON s.account_id = a.id
             WHERE a.balance + COALESCE(s.total, 0) <> COALESCE(p.total, 0)",
        )?;
        let negative =
            self.count("SELECT COUNT(*) FROM accounts WHERE kind = 'card' AND balance < 0")?;
        // PostgreSQL has no foreign key from postings to accounts (migration 0008); this
        // checks after the fact what the batch's row count checks as it writes.
        let orphans = self.count(
            "SELECT COUNT(*) FROM postings p
             WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = p.account_id)",
        )?;
        let accounts = self.count("SELECT COUNT(*) FROM accounts")?;
        let postings = self.count("SELECT COUNT(*) FROM postings")?;
        Ok(LedgerReport {
            balanced: total_minor == 0
                && unbalanced == 0
                && drifted == 0
                && negative == 0
                && orphans == 0,
            total_minor,
            unbalanced_operations: unbalanced as u64,
            drifted_accounts: drifted as u64,
            negative_cards: negative as u64,
            orphan_postings: orphans as u64,
            accounts: accounts as u64,
            postings: postings as u64,
        })
    }
}
