//! Every query Aqsha makes, written once. A backend supplies a [`Driver`] (how to run a
//! statement, bind parameters and read columns, and its few dialect differences); [`SqlConn`]
//! turns that into the transfer's [`Tx`] and the store's [`Conn`].
//!
//! Statements use PostgreSQL's `$1` placeholders; the SQLite driver rewrites them to `?1`.

use crate::cache::TtlCache;
use crate::conn::{BatchError, Conn, LockSet};
use crate::rows::{self, Cols};
use aqsha_core::money::{Currency, Money};
use aqsha_core::sandbox::PreparedSeed;
use aqsha_core::store::{
    CallbackAttempt, CallbackEvent, CallbackView, DueCallback, LedgerReport, MerchantRecord,
    NetworkCard, NextStep, OperationRecord, Posting, SandboxCardView, StoreError, StoreResult,
    StoredResponse, TerminalRecord, Tx, VaultCard,
};
use aqsha_core::transfer::external_account;
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
    /// The next retrieval reference number.
    fn next_reference(&mut self) -> StoreResult<i64>;
    /// Serialises transfers of one invoice across connections, until the transaction ends.
    fn lock_invoice(&mut self, key: &str) -> StoreResult<()>;
    fn is_broken(&self) -> bool;
}

pub struct SqlConn<D: Driver> {
    pub driver: D,
    deferred: Deferred,
    /// Every transfer reads its terminal, and on PostgreSQL each read is a round trip.
    terminals: TtlCache<TerminalRecord>,
    /// Network cards read by [`Conn::prelock`] for the current transaction, by fingerprint, so
    /// a transfer does not read its cards again (a round trip each on PostgreSQL). Card rows
    /// do not change once issued.
    batch_cards: std::collections::HashMap<String, NetworkCard>,
}

/// Balance changes of the shared accounts (a merchant's fee account, the settlement and
/// funding accounts), applied once per transaction just before it commits. Nearly every
/// transfer touches them; updating them row by row would make every concurrent transaction
/// wait for the one holding their row lock. Card accounts are updated at once, under lock, as
/// their balances decide approvals.
#[derive(Default)]
pub struct Deferred {
    pending: std::collections::BTreeMap<String, i64>,
    /// `pending` as it was at the current savepoint.
    saved: std::collections::BTreeMap<String, i64>,
}

fn is_card_account(id: &str) -> bool {
    id.starts_with("card:")
}

impl<D: Driver> SqlConn<D> {
    pub fn new(driver: D) -> SqlConn<D> {
        SqlConn {
            driver,
            deferred: Deferred::default(),
            terminals: TtlCache::new(),
            batch_cards: std::collections::HashMap::new(),
        }
    }

    /// See [`Conn::prelock`]. Locks whatever card accounts are free (`SKIP LOCKED`), so no
    /// batch ever waits for another while holding cards; a command runs now if all its cards
    /// were locked. When none can run, it starts over and waits instead, locking the batch's
    /// accounts in id order (so waiting batches cannot deadlock), rather than spin.
    fn lock_cards(&mut self, locks: &[&LockSet]) -> StoreResult<Vec<bool>> {
        // Fingerprints are hex, card ids UUIDs and account ids `card:<uuid>`: no commas.
        let fingerprints: Vec<&str> = locks
            .iter()
            .flat_map(|l| l.fingerprints.iter().map(String::as_str))
            .collect();
        let saved: Vec<&str> = locks
            .iter()
            .flat_map(|l| l.saved_cards.iter().map(String::as_str))
            .collect();
        let mut account_of = std::collections::HashMap::new();
        if !fingerprints.is_empty() {
            let sql = format!(
                "SELECT {} FROM network_cards WHERE fingerprint = ANY(string_to_array($1, ','))",
                rows::NETWORK_CARD_COLUMNS
            );
            for card in self.all(
                &sql,
                &[P::Text(&fingerprints.join(","))],
                rows::network_card,
            )? {
                account_of.insert(card.fingerprint.clone(), card.account_id.clone());
                self.batch_cards.insert(card.fingerprint.clone(), card);
            }
        }
        if !saved.is_empty() {
            self.driver.query(
                "SELECT v.id, n.account_id FROM vault_cards v
                 JOIN network_cards n ON n.fingerprint = v.fingerprint
                 WHERE v.id = ANY(string_to_array($1, ','))",
                &[P::Text(&saved.join(","))],
                &mut |r| {
                    account_of.insert(r.text(0)?, r.text(1)?);
                    Ok(())
                },
            )?;
        }
        let mut accounts: Vec<&str> = account_of.values().map(String::as_str).collect();
        accounts.sort_unstable();
        accounts.dedup();
        let wanted = accounts.join(",");
        let mut locked = std::collections::HashSet::new();
        let sql = format!(
            "SELECT id FROM accounts WHERE id = ANY(string_to_array($1, ',')) ORDER BY id{} SKIP LOCKED",
            D::FOR_UPDATE
        );
        self.driver.query(&sql, &[P::Text(&wanted)], &mut |r| {
            locked.insert(r.text(0)?);
            Ok(())
        })?;
        let ready: Vec<bool> = locks
            .iter()
            .map(|l| {
                l.fingerprints
                    .iter()
                    .chain(&l.saved_cards)
                    .filter_map(|k| account_of.get(k))
                    .all(|a| locked.contains(a))
            })
            .collect();
        if ready.iter().any(|r| *r) {
            return Ok(ready);
        }
        // Let go of what was taken before waiting, so a waiting batch holds only accounts
        // below the one it waits for.
        self.driver
            .control("ROLLBACK")
            .and_then(|()| self.driver.control(D::BEGIN))
            .map_err(|e| StoreError::Db(e.message))?;
        let sql = format!(
            "SELECT id FROM accounts WHERE id = ANY(string_to_array($1, ',')) ORDER BY id{}",
            D::FOR_UPDATE
        );
        self.driver
            .query(&sql, &[P::Text(&wanted)], &mut |_| Ok(()))?;
        Ok(vec![true; locks.len()])
    }

    /// Applies the deferred balance changes, in account order.
    fn flush_deferred(&mut self) -> StoreResult<()> {
        let pending = std::mem::take(&mut self.deferred.pending);
        self.deferred.saved.clear();
        for (account, delta) in pending.iter().filter(|(_, d)| **d != 0) {
            let n = self.driver.exec(
                "UPDATE accounts SET balance = balance + $2 WHERE id = $1",
                &[P::Text(account), P::Int(*delta)],
            )?;
            if n != 1 {
                return Err(StoreError::Invariant(format!(
                    "no ledger account {account}"
                )));
            }
        }
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

/// `UPDATE` of `n` card balances in one statement: `$1, $2` is the first (account, delta).
fn card_update_sql(n: usize) -> String {
    let mut cases = String::new();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let (id, delta) = (2 * i + 1, 2 * i + 2);
        cases.push_str(&format!(" WHEN ${id} THEN CAST(${delta} AS BIGINT)"));
        ids.push(format!("${id}"));
    }
    format!(
        "UPDATE accounts SET balance = balance + CASE id{cases} END WHERE id IN ({})",
        ids.join(", ")
    )
}

/// `INSERT` of `n` postings of one operation (`$1`) in one statement.
fn postings_insert_sql(n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
        .collect();
    format!(
        "INSERT INTO postings (operation_id, account_id, amount) VALUES {}",
        rows.join(", ")
    )
}

impl<D: Driver> Tx for SqlConn<D> {
    fn token_spent_by(&mut self, token_id: &str) -> StoreResult<Option<String>> {
        self.one(
            "SELECT operation_id FROM spent_tokens WHERE token_id = $1",
            &[P::Text(token_id)],
            |r| r.text(0),
        )
    }

    fn spend_token(&mut self, token_id: &str, operation_id: &str) -> StoreResult<()> {
        self.driver.exec(
            "INSERT INTO spent_tokens (token_id, operation_id) VALUES ($1, $2)",
            &[P::Text(token_id), P::Text(operation_id)],
        )?;
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
        if let Some(card) = self.batch_cards.get(fingerprint) {
            return Ok(Some(card.clone()));
        }
        let sql = format!(
            "SELECT {} FROM network_cards WHERE fingerprint = $1",
            rows::NETWORK_CARD_COLUMNS
        );
        self.one(&sql, &[P::Text(fingerprint)], rows::network_card)
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
        self.driver
            .lock_invoice(&format!("{merchant_id}/{invoice_id}"))?;
        self.one(
            "SELECT id, request_digest, http_status, response_body FROM operations
             WHERE merchant_id = $1 AND invoice_id = $2 AND status = 'CHARGE'",
            &[P::Text(merchant_id), P::Text(invoice_id)],
            |r| Ok((r.text(0)?, r.text(1)?, stored(r, 2)?)),
        )
    }

    fn invoice_tail_taken(
        &mut self,
        terminal_id: &str,
        day: &str,
        tail: &str,
        invoice_id: &str,
    ) -> StoreResult<bool> {
        // The status is checked here rather than in SQL: with `status = 'CHARGE'` in the
        // query, PostgreSQL may plan it on the partial one-charge-per-invoice index (a full
        // scan of it) instead of the tail index, and keep that plan.
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
        let sql = format!(
            "SELECT balance FROM accounts WHERE id = $1{}",
            D::FOR_UPDATE
        );
        self.one(&sql, &[P::Text(account_id)], |r| r.int(0))?
            .map(Money::from_minor)
            .ok_or_else(|| StoreError::Invariant(format!("no ledger account {account_id}")))
    }

    fn post(&mut self, operation_id: &str, postings: &[Posting]) -> StoreResult<()> {
        let sum: i64 = postings.iter().map(|p| p.amount.minor()).sum();
        if sum != 0 {
            return Err(StoreError::Invariant(format!(
                "postings of {operation_id} sum to {sum}, not zero"
            )));
        }
        // Card accounts change now, in one statement (their balances decide approvals and
        // the database's CHECK guards them); shared accounts change at commit (`Deferred`).
        // Every statement here is one round trip on PostgreSQL, so each kind is sent once.
        let cards: Vec<&Posting> = postings
            .iter()
            .filter(|p| is_card_account(&p.account_id))
            .collect();
        for p in postings.iter().filter(|p| !is_card_account(&p.account_id)) {
            *self
                .deferred
                .pending
                .entry(p.account_id.clone())
                .or_default() += p.amount.minor();
        }
        if !cards.is_empty() {
            let mut params = Vec::with_capacity(cards.len() * 2);
            for p in &cards {
                params.push(P::Text(&p.account_id));
                params.push(P::Int(p.amount.minor()));
            }
            let n = self.driver.exec(&card_update_sql(cards.len()), &params)?;
            if n != cards.len() as u64 {
                return Err(StoreError::Invariant(format!(
                    "postings of {operation_id} name a missing or repeated card account"
                )));
            }
        }
        if !postings.is_empty() {
            let mut params = vec![P::Text(operation_id)];
            for p in postings {
                params.push(P::Text(&p.account_id));
                params.push(P::Int(p.amount.minor()));
            }
            self.driver
                .exec(&postings_insert_sql(postings.len()), &params)?;
        }
        Ok(())
    }

    fn insert_operation(&mut self, op: &OperationRecord) -> StoreResult<()> {
        let created = rows::rfc3339(op.created_at);
        let day = op.created_at.format("%Y-%m-%d").to_string();
        let sql = format!(
            "INSERT INTO operations ({}, day, invoice_tail) VALUES
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
              $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33)",
            rows::OPERATION_COLUMNS
        );
        self.driver.exec(
            &sql,
            &[
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
                P::Text(&created),
                P::OptText(op.post_link.as_deref()),
                P::OptText(op.failure_post_link.as_deref()),
                P::OptText(op.secret_hash.as_deref()),
                P::Text(&day),
                P::Text(rows::invoice_tail(&op.invoice_id)),
            ],
        )?;
        Ok(())
    }

    fn next_reference(&mut self) -> StoreResult<String> {
        Ok(format!("{:012}", self.driver.next_reference()?))
    }

    fn insert_callback(&mut self, e: &CallbackEvent) -> StoreResult<()> {
        let at = e.created_at.timestamp_millis();
        self.driver.exec(
            "INSERT INTO callback_events (id, merchant_id, operation_id, invoice_id, url, kind, body,
             status, attempts, created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8)",
            &[
                P::Text(&e.id),
                P::Text(&e.merchant_id),
                P::Text(&e.operation_id),
                P::Text(&e.invoice_id),
                P::Text(&e.url),
                P::Text(&e.kind),
                P::Text(&e.body),
                P::Int(at),
            ],
        )?;
        Ok(())
    }
}

impl<D: Driver> Conn for SqlConn<D> {
    fn begin(&mut self) -> Result<(), BatchError> {
        self.deferred = Deferred::default();
        self.batch_cards.clear();
        self.driver.control(D::BEGIN)
    }
    fn prelock(&mut self, locks: &[&LockSet]) -> Result<Vec<bool>, BatchError> {
        // With one writer (SQLite) there is nobody to wait for.
        if D::FOR_UPDATE.is_empty() || locks.iter().all(|l| l.is_empty()) {
            return Ok(vec![true; locks.len()]);
        }
        self.lock_cards(locks).map_err(|e| BatchError {
            retryable: matches!(e, StoreError::Conflict(_)),
            message: e.to_string(),
        })
    }
    fn commit(&mut self) -> Result<(), BatchError> {
        self.flush_deferred().map_err(|e| BatchError {
            retryable: matches!(e, StoreError::Conflict(_)),
            message: e.to_string(),
        })?;
        self.batch_cards.clear();
        self.driver.control("COMMIT")
    }
    fn rollback(&mut self) {
        self.deferred = Deferred::default();
        self.batch_cards.clear();
        let _ = self.driver.control("ROLLBACK");
    }
    fn savepoint(&mut self) -> Result<(), BatchError> {
        self.deferred.saved = self.deferred.pending.clone();
        self.driver.control("SAVEPOINT job")
    }
    fn release_savepoint(&mut self) -> Result<(), BatchError> {
        self.driver.control("RELEASE SAVEPOINT job")
    }
    fn rollback_to_savepoint(&mut self) -> Result<(), BatchError> {
        self.deferred.pending = self.deferred.saved.clone();
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
            self.ensure_account(&rows::funding_account(c), "funding", c)?;
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
                 exp_year, cvc_check, locked, enforce_expiry, account_id, currency, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
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
                ],
            )?;
            if n.opening_balance > Money::ZERO {
                // Money enters the sandbox through the funding account, as a balanced operation.
                let postings = [
                    Posting {
                        account_id: rows::funding_account(c.currency),
                        amount: Money::from_minor(-n.opening_balance.minor()),
                    },
                    Posting {
                        account_id: c.account_id.clone(),
                        amount: n.opening_balance,
                    },
                ];
                self.post(&format!("funding:{}", c.id), &postings)?;
            }
        }
        for v in &seed.vault_cards {
            self.put_vault_card(v)?;
        }
        Ok(true)
    }

    fn deactivate_card(&mut self, merchant_id: &str, card_id: &str) -> StoreResult<bool> {
        let n = self.driver.exec(
            "UPDATE vault_cards SET active = $3 WHERE id = $1 AND merchant_id = $2 AND active = $4",
            &[
                P::Text(card_id),
                P::Text(merchant_id),
                P::Bool(false),
                P::Bool(true),
            ],
        )?;
        Ok(n == 1)
    }

    fn claim_callbacks(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
        lease_ms: i64,
    ) -> StoreResult<Vec<DueCallback>> {
        let now_ms = now.timestamp_millis();
        let sql = format!(
            "UPDATE callback_events SET lease_until = $2, attempts = attempts + 1
             WHERE id IN (
                SELECT id FROM callback_events
                WHERE status = 'pending' AND next_attempt_at <= $1 AND lease_until <= $1
                ORDER BY next_attempt_at LIMIT $3{})
             RETURNING {}, attempts,
                (SELECT m.callback_secret FROM merchants m WHERE m.id = callback_events.merchant_id)",
            D::SKIP_LOCKED,
            rows::EVENT_COLUMNS
        );
        self.all(
            &sql,
            &[
                P::Int(now_ms),
                P::Int(now_ms + lease_ms),
                P::Int(limit as i64),
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

    fn sandbox_cards(&mut self) -> StoreResult<Vec<SandboxCardView>> {
        self.all(rows::SANDBOX_CARD_SELECT, &[], rows::sandbox_card)
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

    fn ledger_report(&mut self) -> StoreResult<LedgerReport> {
        let total_minor = self.count("SELECT CAST(SUM(balance) AS BIGINT) FROM accounts")?;
        let unbalanced = self.count(
            "SELECT COUNT(*) FROM (SELECT operation_id FROM postings GROUP BY operation_id
             HAVING SUM(amount) <> 0) AS u",
        )?;
        // One pass over the postings: a per-account sub-query would scan them once per account.
        let drifted = self.count(
            "SELECT COUNT(*) FROM accounts a LEFT JOIN
               (SELECT account_id, CAST(SUM(amount) AS BIGINT) AS total FROM postings
                GROUP BY account_id) p ON p.account_id = a.id
             WHERE a.balance <> COALESCE(p.total, 0)",
        )?;
        let negative =
            self.count("SELECT COUNT(*) FROM accounts WHERE kind = 'card' AND balance < 0")?;
        let accounts = self.count("SELECT COUNT(*) FROM accounts")?;
        let postings = self.count("SELECT COUNT(*) FROM postings")?;
        Ok(LedgerReport {
            balanced: total_minor == 0 && unbalanced == 0 && drifted == 0 && negative == 0,
            total_minor,
            unbalanced_operations: unbalanced as u64,
            drifted_accounts: drifted as u64,
            negative_cards: negative as u64,
            accounts: accounts as u64,
            postings: postings as u64,
        })
    }
}
