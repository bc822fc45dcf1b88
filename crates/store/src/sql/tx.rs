//! The transfer's [`Tx`] over a [`SqlConn`].

use super::{
    counter_lock, guesses_of, invoice_lock, is_card_account, limit_settings_of, stored, tail_lock,
    Driver, Param, SqlConn,
};
#[cfg(doc)]
use crate::conn::Conn;
use crate::rows;
use aqsha_core::limits::{Counter, TerminalLimits};
use aqsha_core::money::Money;
use aqsha_core::outcomes::{DueResolution, PendingResolution};
use aqsha_core::records::{
    CallbackEvent, CardGuesses, Challenge, NetworkCard, OperationRecord, OperationStatus,
    PhoneEntry, Posting, StoredResponse, TerminalRecord, VaultCard,
};
use aqsha_core::store::{StoreError, StoreResult, Tx};

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
            &[Param::Text(token_id)],
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
                &[Param::Text(card_key), Param::Text(merchant_id)],
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
                Param::Text(card_key),
                Param::Text(merchant_id),
                Param::Int(i64::from(g.wrong)),
                Param::Int(g.blocked_until.map_or(0, |t| t.timestamp_millis())),
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
        let found = self.one(&sql, &[Param::Text(id)], rows::terminal)?;
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
        let found = self.one(&sql, &[Param::Text(fingerprint)], rows::network_card)?;
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
        self.one(&sql, &[Param::Text(id)], rows::vault_card)
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
                Param::Text(merchant_id),
                Param::Text(account_id),
                Param::Text(fingerprint),
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
                Param::Text(&c.id),
                Param::Text(&c.merchant_id),
                Param::Text(&c.account_id),
                Param::Text(&c.fingerprint),
                Param::Text(&c.sealed.key_id),
                Param::Blob(&c.sealed.blob),
                Param::Text(&c.mask),
                Param::Text(c.brand.name()),
                Param::Text(&c.payer_name),
                Param::Bool(c.active),
                Param::Text(&rows::rfc3339(c.created_at)),
                Param::Text(&c.transaction_id),
                Param::Text(&c.reference),
                Param::Text(&c.int_reference),
                Param::Text(&c.terminal_id),
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
            &[Param::Text(operation_id)],
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
             WHERE merchant_id = $1 AND invoice_id = $2 AND status IN ('CHARGE', 'NEW')",
            &[Param::Text(merchant_id), Param::Text(invoice_id)],
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
                Param::Text(terminal_id),
                Param::Text(day),
                Param::Text(tail),
                Param::Text(invoice_id),
            ],
            |r| r.text(0),
        )?;
        // A pending operation holds its tail as it holds its invoice: it may yet be charged.
        Ok(statuses.iter().any(|s| {
            matches!(
                OperationStatus::parse(s),
                Some(OperationStatus::Charge | OperationStatus::Pending)
            )
        }))
    }

    fn phone_entry(
        &mut self,
        merchant_id: &str,
        phone_key: &str,
    ) -> StoreResult<Option<PhoneEntry>> {
        // The merchant's own entry sorts before the public one ('').
        self.one(
            "SELECT n.fingerprint, p.iin_check FROM phone_directory p
             JOIN network_cards n ON n.id = p.card_id
             WHERE p.phone_key = $1 AND p.owner_merchant_id IN ($2, '')
             ORDER BY p.owner_merchant_id DESC LIMIT 1",
            &[Param::Text(phone_key), Param::Text(merchant_id)],
            |r| {
                Ok(PhoneEntry {
                    card_fingerprint: r.text(0)?,
                    iin_check: r.text(1)?,
                })
            },
        )
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
                    .one(&sql, &[Param::Text(account_id)], |r| r.int(0))?
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

    fn operation(&mut self, id: &str) -> StoreResult<Option<OperationRecord>> {
        let sql = format!(
            "SELECT {} FROM operations WHERE id = $1",
            rows::OPERATION_COLUMNS
        );
        self.one(&sql, &[Param::Text(id)], rows::operation)
    }

    // Written at once, like saved cards: resolutions are rare. What the transaction knew of
    // the operation's invoice and tail is dropped, so a later transfer in it reads them anew.
    fn update_operation(&mut self, op: &OperationRecord) -> StoreResult<()> {
        let changed = self.driver.exec(
            "UPDATE operations SET status = $2, reason_code = $3, reason = $4, reference = $5,
             int_reference = $6, sender_card_id = $7, receiver_card_id = $8, http_status = $9,
             response_body = $10 WHERE id = $1 AND status = $11",
            &[
                Param::Text(&op.id),
                Param::Text(op.status.as_str()),
                Param::Int(i64::from(op.reason_code)),
                Param::Text(&op.reason),
                Param::Text(&op.reference),
                Param::Text(&op.int_reference),
                Param::Text(&op.sender.card_id),
                Param::Text(&op.receiver.card_id),
                Param::Int(i64::from(op.http_status)),
                Param::Text(&op.response_body),
                Param::Text(OperationStatus::Pending.as_str()),
            ],
        )?;
        if changed != 1 {
            return Err(StoreError::Invariant(format!(
                "operation {} is no longer pending",
                op.id
            )));
        }
        let invoice = (op.merchant_id.clone(), op.invoice_id.clone());
        self.known.charged.remove(&invoice);
        if let Some(key) = op.tail_key() {
            self.known.tails.remove(&key);
        }
        Ok(())
    }

    fn insert_pending_resolution(&mut self, p: &PendingResolution) -> StoreResult<()> {
        let plan = serde_json::to_string(&p.plan).map_err(|e| StoreError::Db(e.to_string()))?;
        self.driver.exec(
            "INSERT INTO pending_resolutions (operation_id, merchant_id, due_at, plan)
             VALUES ($1, $2, $3, $4)",
            &[
                Param::Text(&p.operation_id),
                Param::Text(&p.merchant_id),
                Param::Int(p.due_at.timestamp_millis()),
                Param::Text(&plan),
            ],
        )?;
        Ok(())
    }

    fn release_resolution(&mut self, due: &DueResolution) -> StoreResult<bool> {
        let n = self.driver.exec(
            "DELETE FROM pending_resolutions WHERE operation_id = $1 AND claim = $2",
            &[
                Param::Text(&due.pending.operation_id),
                Param::Text(&due.claim),
            ],
        )?;
        Ok(n == 1)
    }

    fn take_resolution(&mut self, operation_id: &str) -> StoreResult<Option<PendingResolution>> {
        self.take_resolution_row(operation_id)
    }

    fn insert_challenge(&mut self, c: &Challenge) -> StoreResult<()> {
        self.insert_challenge_row(c)
    }

    fn challenge(&mut self, operation_id: &str) -> StoreResult<Option<Challenge>> {
        self.challenge_row(operation_id, true)
    }

    fn update_challenge(&mut self, c: &Challenge) -> StoreResult<()> {
        self.update_challenge_row(c)
    }

    fn terminal_limits(&mut self, terminal_id: &str) -> StoreResult<TerminalLimits> {
        if let Some(l) = self.known.limits.get(terminal_id) {
            return Ok(*l);
        }
        let sql = concat!(
            "SELECT ",
            limit_settings_text!(),
            " FROM terminals WHERE id = $1"
        );
        let found = self.one(sql, &[Param::Text(terminal_id)], |r| r.text(0))?;
        let limits = limit_settings_of(found.as_deref().unwrap_or("")).effective();
        self.known.limits.insert(terminal_id.to_string(), limits);
        Ok(limits)
    }

    fn limit_counter(&mut self, key: &str) -> StoreResult<Counter> {
        let base = match self.known.counters.get(key) {
            Some(c) => *c,
            None => {
                // A counter the batch did not read ahead (a saved card's): locked and read now.
                self.driver.lock_keys(&[&counter_lock(key)])?;
                let c = self
                    .one(
                        "SELECT transfers, total FROM limit_counters WHERE counter_key = $1",
                        &[Param::Text(key)],
                        |r| {
                            Ok(Counter {
                                transfers: r.int(0)?,
                                total: r.int(1)?,
                            })
                        },
                    )?
                    .unwrap_or_default();
                self.known.counters.insert(key.to_string(), c);
                c
            }
        };
        Ok(base.plus(self.pending.counted(key)))
    }

    fn add_to_counter(&mut self, key: &str, add: Counter) -> StoreResult<()> {
        let c = self.pending.counters.entry(key.to_string()).or_default();
        *c = c.plus(add);
        Ok(())
    }
}
