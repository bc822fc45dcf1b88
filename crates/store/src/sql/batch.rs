//! A batch's own statements: locking its cards and accounts, reading ahead what its
//! transfers will need, and writing what they left pending, each in as few round trips as
//! the driver allows. See [`crate::batch`].

use super::write::{pending_balances, pending_rows};
use super::{
    counter_lock, guesses_of, invoice_lock, limit_settings_of, stored, tail_lock, Driver, Param,
    SqlConn,
};
use crate::batch::Known;
#[cfg(doc)]
use crate::conn::Conn;
use crate::rows::{self, Cols};
use aqsha_core::invoice::day_of;
use aqsha_core::limits::Counter;
use aqsha_core::records::{CardGuesses, OperationStatus};
use aqsha_core::store::{StoreError, StoreResult};
use aqsha_core::transfer::LockKeys;

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

/// Six lookups in one round trip; the first column says which. Each part finds its rows
/// through its own index (lists are matched on an index's first column). The tails' status is
/// filtered in code, for the reason given in `invoice_tail_taken`. Planned on every run
/// ([`super::PLANNED_EACH_TIME`]).
const READ_AHEAD: &str = concat!(
    "/* planned each time */ SELECT 's', token_id, operation_id, '', '', 0, '' FROM spent_tokens
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
     FROM card_guesses WHERE card_key = ANY($8) AND merchant_id = ANY($7)
     UNION ALL
     SELECT 'n', counter_key, '', '', '', transfers, CAST(total AS TEXT) FROM limit_counters
     WHERE counter_key = ANY($9)
     UNION ALL
     SELECT 'l', id, '', '', '', 0, ",
    limit_settings_text!(),
    " FROM terminals
     WHERE id = ANY($10)"
);

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
    counters: Vec<&'a str>,
    limit_terminals: Vec<&'a str>,
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
            l.counters.extend(k.counters.iter().map(String::as_str));
            l.limit_terminals.extend(k.limits.as_deref());
        }
        l
    }

    fn is_empty(&self) -> bool {
        self.tokens.is_empty()
            && self.merchants.is_empty()
            && self.terminals.is_empty()
            && self.guess_merchants.is_empty()
            && self.counters.is_empty()
            && self.limit_terminals.is_empty()
    }

    fn params(&self) -> [Param<'_>; 10] {
        [
            Param::List(&self.tokens),
            Param::List(&self.merchants),
            Param::List(&self.invoices),
            Param::List(&self.terminals),
            Param::List(&self.days),
            Param::List(&self.tails),
            Param::List(&self.guess_merchants),
            Param::List(&self.guess_cards),
            Param::List(&self.counters),
            Param::List(&self.limit_terminals),
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
        for c in &k.counters {
            known.counters.insert(c.clone(), Counter::default());
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
        "n" => {
            let total = r.text(6)?.parse().map_err(|_| bad_row("counter total"))?;
            known.counters.insert(
                a,
                Counter {
                    transfers: r.int(5)?,
                    total,
                },
            );
        }
        "l" => {
            known
                .limits
                .insert(a, limit_settings_of(&r.text(6)?).effective());
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

fn bad_row(what: &str) -> StoreError {
    StoreError::Db(format!("read-ahead row with a malformed {what}"))
}

/// The advisory locks a batch takes: its invoices and invoice tails (so that another instance
/// charging the same invoice, or another invoice with the same tail, waits for this commit)
/// and its limit counters (so that two instances' transfers at a limit's edge take turns),
/// sorted, so that two batches cannot deadlock on them.
pub(super) fn lock_keys_of(keys: &[&LockKeys]) -> Vec<String> {
    let mut locks: Vec<String> = keys
        .iter()
        .filter_map(|k| k.invoice.as_ref())
        .map(|(m, i)| invoice_lock(m, i))
        .chain(keys.iter().filter_map(|k| k.tail.as_ref()).map(tail_lock))
        .chain(keys.iter().filter_map(|k| k.settlement.clone()))
        .chain(
            keys.iter()
                .flat_map(|k| &k.counters)
                .map(|c| counter_lock(c)),
        )
        .collect();
    locks.sort_unstable();
    locks.dedup();
    locks
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_read_ahead_is_planned_on_every_run() {
        assert!(super::READ_AHEAD.starts_with(super::super::PLANNED_EACH_TIME));
    }
}
