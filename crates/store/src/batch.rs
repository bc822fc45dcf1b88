//! What a group-commit transaction has read and what it has yet to write.
//!
//! A batch's commands do not each run their own statements. Before they run, the batch reads
//! what they will need in one query per table ([`crate::conn::Conn::prepare`]) into [`Known`];
//! while they run, their writes collect in [`Pending`]; at the end, each table is written with
//! one statement ([`crate::conn::Conn::flush`]). On PostgreSQL this turns about ten round trips
//! per transfer into about a dozen per batch. Reads look at `Pending` first, then `Known`, and
//! only then at the database, so every command sees the commands before it in its batch.

use aqsha_core::limits::{Counter, TerminalLimits};
use aqsha_core::records::{CallbackEvent, CardGuesses, OperationRecord, Posting, StoredResponse};
use std::collections::{BTreeMap, HashMap};

/// A charged operation of an invoice: (operation id, request digest, stored response).
pub type Charged = (String, String, StoredResponse);

pub use aqsha_core::invoice::TailKey;

/// Database state as this transaction sees it: read in bulk for the batch, and kept current
/// as pending writes are flushed. A key that is present is authoritative for the transaction:
/// its card accounts are locked, its invoices are locked (PostgreSQL) or there is one writer
/// (SQLite). Spent tokens and tails are not locked; a second instance racing on a token
/// collides on the primary key at flush, and the batch runs again.
#[derive(Default)]
pub struct Known {
    /// Balances of accounts read in this transaction (card accounts are locked).
    pub balances: HashMap<String, i64>,
    /// Token id → the operation that spent it, if one did.
    pub spent: HashMap<String, Option<String>>,
    /// (merchant, invoice) → the operation that holds it (its charge, or a pending one), if any.
    pub charged: HashMap<(String, String), Option<Charged>>,
    /// Invoices recorded under a tail key: (invoice, charged or pending).
    pub tails: HashMap<TailKey, Vec<(String, bool)>>,
    /// (merchant, card fingerprint) → its wrong-answer count.
    pub guesses: HashMap<(String, String), CardGuesses>,
    /// Terminal id → its limits, read in this transaction (not cached: a changed limit holds
    /// from the next batch on, on every instance).
    pub limits: HashMap<String, TerminalLimits>,
    /// Limit counters by key (locked on PostgreSQL; see `lock_keys_of`).
    pub counters: HashMap<String, Counter>,
}

/// Writes the batch's commands made and the database has not seen yet.
#[derive(Default)]
pub struct Pending {
    pub operations: Vec<OperationRecord>,
    /// (operation id, posting).
    pub postings: Vec<(String, Posting)>,
    /// Balance changes by account, applied in account order.
    pub deltas: BTreeMap<String, i64>,
    /// (token id, operation id).
    pub spent: Vec<(String, String)>,
    pub callbacks: Vec<CallbackEvent>,
    /// What to add to each limit counter, by key, so each is written once per flush.
    pub counters: BTreeMap<String, Counter>,
    by_id: HashMap<String, usize>,
    spent_by: HashMap<String, String>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
            && self.postings.is_empty()
            && self.deltas.is_empty()
            && self.spent.is_empty()
            && self.callbacks.is_empty()
            && self.counters.is_empty()
    }

    pub fn add_operation(&mut self, op: &OperationRecord) {
        self.by_id.insert(op.id.clone(), self.operations.len());
        self.operations.push(op.clone());
    }

    pub fn spend(&mut self, token_id: &str, operation_id: &str) {
        self.spent_by
            .insert(token_id.to_string(), operation_id.to_string());
        self.spent
            .push((token_id.to_string(), operation_id.to_string()));
    }

    pub fn spent_by(&self, token_id: &str) -> Option<&String> {
        self.spent_by.get(token_id)
    }

    pub fn response(&self, operation_id: &str) -> Option<(String, StoredResponse)> {
        let op = &self.operations[*self.by_id.get(operation_id)?];
        Some((op.request_digest.clone(), op.response()))
    }

    pub fn charged(&self, merchant_id: &str, invoice_id: &str) -> Option<Charged> {
        self.operations
            .iter()
            .find(|o| {
                o.holds_invoice() && o.invoice_id == invoice_id && o.merchant_id == merchant_id
            })
            .map(charged)
    }

    /// Whether a pending charge of another invoice has this tail key.
    pub fn tail_taken(&self, key: &TailKey, invoice_id: &str) -> bool {
        self.operations
            .iter()
            .any(|o| o.holds_invoice() && o.invoice_id != invoice_id && o.has_tail_key(key))
    }

    /// What this batch's commands added to a counter so far.
    pub fn counted(&self, key: &str) -> Counter {
        self.counters.get(key).copied().unwrap_or_default()
    }

    pub fn delta(&self, account_id: &str) -> i64 {
        self.deltas.get(account_id).copied().unwrap_or(0)
    }

    pub fn clear(&mut self) {
        *self = Pending::default();
    }

    /// After a successful flush: what was written becomes part of what is known.
    pub fn apply_to(&self, known: &mut Known) {
        for (token, op) in &self.spent {
            known.spent.insert(token.clone(), Some(op.clone()));
        }
        for o in &self.operations {
            if o.holds_invoice() {
                known.charged.insert(
                    (o.merchant_id.clone(), o.invoice_id.clone()),
                    Some(charged(o)),
                );
            }
            if let Some(key) = o.tail_key() {
                if let Some(rows) = known.tails.get_mut(&key) {
                    rows.push((o.invoice_id.clone(), o.holds_invoice()));
                }
            }
        }
        for (account, delta) in &self.deltas {
            if let Some(b) = known.balances.get_mut(account) {
                *b += delta;
            }
        }
        for (key, add) in &self.counters {
            if let Some(c) = known.counters.get_mut(key) {
                *c = c.plus(*add);
            }
        }
    }
}

fn charged(op: &OperationRecord) -> Charged {
    (op.id.clone(), op.request_digest.clone(), op.response())
}
