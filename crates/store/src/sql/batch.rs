//! A batch's own statements: locking its cards and accounts, reading ahead what its
//! transfers will need, and writing what they left pending, each in as few round trips as
//! the driver allows. See [`crate::batch`].

use super::{
    guesses_of, invoice_lock, is_card_account, stored, tail_lock, Balances, Driver, Param, Rows,
    SqlConn,
};
use crate::batch::{Known, Pending};
#[cfg(doc)]
use crate::conn::Conn;
use crate::rows::{self, Cols};
use aqsha_core::invoice::{day_of, invoice_tail};
use aqsha_core::records::{CallbackEvent, CallbackStatus, OperationStatus};
use aqsha_core::records::{CardGuesses, OperationRecord};
use aqsha_core::store::{StoreError, StoreResult};
use aqsha_core::transfer::LockKeys;

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
    "kind",
    "language",
    "approval_code",
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
    /// See [`Conn::prepare`]. Locks whatever card accounts are free (`SKIP LOCKED`), so no
    /// batch ever waits for another while holding cards; a command runs now if all its cards
    /// were locked. When none can run, it starts over and waits instead, locking the batch's
    /// accounts in id order (so waiting batches cannot deadlock), rather than spin. The
    /// locked accounts' balances, and the network cards, become known. The batch's invoice
    /// and tail locks (`locks`, sorted) are taken here too, in the same statement as the
    /// cards where the driver can ([`Driver::LOCK_KEYS_FIRST`]).
    pub(super) fn lock_cards(
        &mut self,
        keys: &[&LockKeys],
        locks: &[&str],
    ) -> StoreResult<Vec<bool>> {
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
            for card in self.all(&sql, &[Param::List(&missing)], rows::network_card)? {
                account_of.insert(card.fingerprint.clone(), card.account_id.clone());
                self.cards.put(&card.fingerprint.clone(), card);
            }
        }
        if !saved.is_empty() {
            self.driver.query(
                "SELECT v.id, n.account_id FROM vault_cards v
                 JOIN network_cards n ON n.fingerprint = v.fingerprint
                 WHERE v.id = ANY($1)",
                &[Param::List(&saved)],
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
                    .query(&sql, &[Param::List(accounts), Param::List(keys)], &mut each)?;
            }
            _ => {
                self.driver.lock_keys(keys)?;
                self.driver
                    .query(&rows, &[Param::List(accounts)], &mut each)?;
            }
        }
        Ok(balances)
    }

    /// Reads, in one query, the spent tokens, charged invoices and invoice tails the ready
    /// commands will look for, into `known`. Their invoices and tails were locked by
    /// [`Self::lock_cards`], in an earlier statement: the read must see whatever the locks'
    /// previous holders committed.
    pub(super) fn read_ahead(&mut self, keys: &[&LockKeys]) -> StoreResult<()> {
        let lookups = Lookups::of(keys);
        if lookups.is_empty() {
            return Ok(());
        }
        expect(&mut self.known, keys);
        let known = &mut self.known;
        self.driver
            .query(READ_AHEAD, &lookups.params(), &mut |r| take_row(known, r))
    }

    /// Sends the pending writes, each table in one go; then they are part of what is known.
    pub(super) fn write_pending(&mut self) -> StoreResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let p = &self.pending;
        let dates: Vec<(String, String)> = p
            .operations
            .iter()
            .map(|o| (rows::rfc3339(o.created_at), day_of(o.created_at)))
            .collect();
        let inserts = pending_rows(p, &dates);
        let balances = pending_balances(p, self.shard);
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
}

/// Four lookups in one round trip; the first column says which. Each part finds its rows
/// through its own index (lists are matched on an index's first column). The tails' status is
/// filtered in code, for the reason given in `invoice_tail_taken`.
const READ_AHEAD: &str = "SELECT 's', token_id, operation_id, '', '', 0, '' FROM spent_tokens
     WHERE token_id = ANY($1)
     UNION ALL
     SELECT 'c', merchant_id, invoice_id, id, request_digest, http_status, response_body
     FROM operations WHERE invoice_id = ANY($3) AND merchant_id = ANY($2)
     AND status IN ('CHARGE', 'NEW')
     UNION ALL
     SELECT 't', terminal_id, day, invoice_tail, invoice_id, 0, status FROM operations
     WHERE invoice_tail = ANY($6) AND terminal_id = ANY($4) AND day = ANY($5)
     UNION ALL
     SELECT 'g', merchant_id, card_key, '', '', wrong, CAST(blocked_until AS TEXT)
     FROM card_guesses WHERE card_key = ANY($8) AND merchant_id = ANY($7)";

/// The lists [`READ_AHEAD`] looks up, from the ready commands' keys, in its parameters' order.
#[derive(Default)]
struct Lookups<'a> {
    tokens: Vec<&'a str>,
    merchants: Vec<&'a str>,
    invoices: Vec<&'a str>,
    terminals: Vec<&'a str>,
    days: Vec<&'a str>,
    tails: Vec<&'a str>,
    guess_merchants: Vec<&'a str>,
    guess_cards: Vec<&'a str>,
}

impl<'a> Lookups<'a> {
    fn of(keys: &[&'a LockKeys]) -> Lookups<'a> {
        let mut l = Lookups::default();
        for k in keys {
            if let Some(token) = &k.token {
                l.tokens.push(token);
            }
            if let Some((merchant, invoice)) = &k.invoice {
                l.merchants.push(merchant);
                l.invoices.push(invoice);
            }
            if let Some((terminal, day, tail)) = &k.tail {
                l.terminals.push(terminal);
                l.days.push(day);
                l.tails.push(tail);
            }
            if let Some((merchant, card)) = &k.guesses {
                l.guess_merchants.push(merchant);
                l.guess_cards.push(card);
            }
        }
        l
    }

    fn is_empty(&self) -> bool {
        self.tokens.is_empty()
            && self.merchants.is_empty()
            && self.terminals.is_empty()
            && self.guess_merchants.is_empty()
    }

    fn params(&self) -> [Param<'_>; 8] {
        [
            Param::List(&self.tokens),
            Param::List(&self.merchants),
            Param::List(&self.invoices),
            Param::List(&self.terminals),
            Param::List(&self.days),
            Param::List(&self.tails),
            Param::List(&self.guess_merchants),
            Param::List(&self.guess_cards),
        ]
    }
}

/// Marks every key as read: absent (no spend, no charge, no tail, no wrong answers) unless a
/// row of [`READ_AHEAD`] says otherwise.
fn expect(known: &mut Known, keys: &[&LockKeys]) {
    for k in keys {
        if let Some(token) = &k.token {
            known.spent.insert(token.clone(), None);
        }
        if let Some(invoice) = &k.invoice {
            known.charged.insert(invoice.clone(), None);
        }
        if let Some(tail) = &k.tail {
            known.tails.insert(tail.clone(), Vec::new());
        }
        if let Some(guesses) = &k.guesses {
            known
                .guesses
                .insert(guesses.clone(), CardGuesses::default());
        }
    }
}

/// One row of [`READ_AHEAD`], into what the transaction knows.
fn take_row(known: &mut Known, r: &dyn Cols) -> StoreResult<()> {
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
                let holds = matches!(
                    OperationStatus::parse(&r.text(6)?),
                    Some(OperationStatus::Charge | OperationStatus::Pending)
                );
                rows.push((r.text(4)?, holds));
            }
        }
    }
    Ok(())
}

/// The pending rows of every table, one statement's worth each. `dates` holds each pending
/// operation's (created_at, day) text, in order.
fn pending_rows<'a>(p: &'a Pending, dates: &'a [(String, String)]) -> [Rows<'a>; 4] {
    let ops = p
        .operations
        .iter()
        .zip(dates)
        .map(|(o, (created, day))| operation_params(o, created, day))
        .collect();
    let postings = p
        .postings
        .iter()
        .map(|(op, posting)| {
            vec![
                Param::Text(op),
                Param::Text(&posting.account_id),
                Param::Int(posting.amount.minor()),
            ]
        })
        .collect();
    let spent = p
        .spent
        .iter()
        .map(|(token, op)| vec![Param::Text(token), Param::Text(op)])
        .collect();
    let events = p.callbacks.iter().map(callback_params).collect();
    [
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
    ]
}

/// A new callback event's row, in [`CALLBACK_INSERT_COLUMNS`] order: due at once.
fn callback_params(e: &CallbackEvent) -> Vec<Param<'_>> {
    let at = e.created_at.timestamp_millis();
    vec![
        Param::Text(&e.id),
        Param::Text(&e.merchant_id),
        Param::Text(&e.operation_id),
        Param::Text(&e.invoice_id),
        Param::Text(&e.url),
        Param::Text(e.kind.as_str()),
        Param::Text(&e.body),
        Param::Text(CallbackStatus::Pending.as_str()),
        Param::Int(0),
        Param::Int(at),
        Param::Int(at),
    ]
}

/// The batch's balance changes, card accounts apart from shared ones. Every account posted to
/// is written, even when its changes cancel out: the count of rows changed is what proves each
/// one exists (PostgreSQL has no foreign key from postings to accounts; migration 0008 says
/// why).
fn pending_balances(p: &Pending, shard: i64) -> Balances<'_> {
    let mut balances = Balances {
        cards: Vec::new(),
        shared: Vec::new(),
        shard,
    };
    for (account, delta) in &p.deltas {
        let side = match is_card_account(account) {
            true => &mut balances.cards,
            false => &mut balances.shared,
        };
        side.push((account.as_str(), *delta));
    }
    balances
}

/// The advisory locks a batch takes: its invoices and invoice tails (so that another instance
/// charging the same invoice, or another invoice with the same tail, waits for this commit),
/// sorted, so that two batches cannot deadlock on them.
pub(super) fn lock_keys_of(keys: &[&LockKeys]) -> Vec<String> {
    let mut locks: Vec<String> = keys
        .iter()
        .filter_map(|k| k.invoice.as_ref())
        .map(|(m, i)| invoice_lock(m, i))
        .chain(keys.iter().filter_map(|k| k.tail.as_ref()).map(tail_lock))
        .chain(keys.iter().filter_map(|k| k.settlement.clone()))
        .collect();
    locks.sort_unstable();
    locks.dedup();
    locks
}

/// An operation's row, in [`OPERATION_INSERT_COLUMNS`] order.
fn operation_params<'a>(op: &'a OperationRecord, created: &'a str, day: &'a str) -> Vec<Param<'a>> {
    vec![
        Param::Text(&op.id),
        Param::Text(&op.merchant_id),
        Param::Text(&op.terminal_id),
        Param::Text(&op.invoice_id),
        Param::Text(&op.account_id),
        Param::Int(op.amount.minor()),
        Param::Int(op.fee.minor()),
        Param::Text(&op.currency),
        Param::Text(&op.description),
        Param::Text(&op.email),
        Param::Text(op.status.as_str()),
        Param::Int(i64::from(op.reason_code)),
        Param::Text(&op.reason),
        Param::Text(&op.reference),
        Param::Text(&op.int_reference),
        Param::Text(&op.sender.card_id),
        Param::Text(&op.sender.mask),
        Param::Text(op.sender.brand_name()),
        Param::Text(op.sender.transfer_type_name()),
        Param::Text(&op.receiver.card_id),
        Param::Text(&op.receiver.mask),
        Param::Text(op.receiver.brand_name()),
        Param::Text(op.receiver.transfer_type_name()),
        Param::Text(&op.token_id),
        Param::Text(&op.request_digest),
        Param::Int(i64::from(op.http_status)),
        Param::Text(&op.response_body),
        Param::Text(created),
        Param::OptText(op.post_link.as_deref()),
        Param::OptText(op.failure_post_link.as_deref()),
        Param::OptText(op.secret_hash.as_deref()),
        Param::Text(day),
        // A six-digit invoice is its own tail.
        Param::Text(invoice_tail(&op.invoice_id).unwrap_or(&op.invoice_id)),
        Param::Text(op.kind.as_str()),
        Param::Text(&op.language),
        Param::Text(&op.approval_code),
    ]
}
