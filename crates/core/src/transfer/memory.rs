//! An in-memory [`Tx`] for the transfer's unit tests: the store's contract over a few maps,
//! with the same rules the SQL store enforces (a token spent once, postings that balance, no
//! card account below zero), so `execute` can be tested in milliseconds.

use crate::limits::{Counter, TerminalLimits};
use crate::money::Money;
use crate::outcomes::{DueResolution, PendingResolution};
use crate::records::{
    CallbackEvent, CardGuesses, Challenge, NetworkCard, OperationRecord, PhoneEntry, Posting,
    StoredResponse, TerminalRecord, VaultCard,
};
use crate::tx::{StoreError, StoreResult, Tx};
use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub(super) struct MemoryTx {
    pub terminals: HashMap<String, TerminalRecord>,
    /// Network cards by fingerprint.
    pub network: HashMap<String, NetworkCard>,
    /// Saved cards by id.
    pub vault: HashMap<String, VaultCard>,
    pub balances: HashMap<String, Money>,
    /// Token id → the operation that spent it.
    pub spent: HashMap<String, String>,
    pub operations: Vec<OperationRecord>,
    /// (operation id, posting).
    pub postings: Vec<(String, Posting)>,
    pub callbacks: Vec<CallbackEvent>,
    /// (merchant, card key) → wrong answers.
    pub guesses: HashMap<(String, String), CardGuesses>,
    pub references: u64,
    /// (owner merchant or "" for public, phone key) → entry.
    pub phones: HashMap<(String, String), PhoneEntry>,
    /// Pending operations' resolutions.
    pub resolutions: Vec<PendingResolution>,
    /// Terminals' own limits; a terminal not here has the defaults.
    pub limits: HashMap<String, TerminalLimits>,
    pub counters: HashMap<String, Counter>,
    /// 3-D Secure challenges by operation id.
    pub challenges: HashMap<String, Challenge>,
}

impl Tx for MemoryTx {
    fn token_spent_by(&mut self, token_id: &str) -> StoreResult<Option<String>> {
        Ok(self.spent.get(token_id).cloned())
    }

    fn spend_token(&mut self, token_id: &str, operation_id: &str) -> StoreResult<()> {
        if self.spent.contains_key(token_id) {
            return Err(StoreError::Db(format!("token {token_id} spent twice")));
        }
        self.spent.insert(token_id.into(), operation_id.into());
        Ok(())
    }

    fn terminal(&mut self, id: &str) -> StoreResult<Option<TerminalRecord>> {
        Ok(self.terminals.get(id).cloned())
    }

    fn network_card(&mut self, fingerprint: &str) -> StoreResult<Option<NetworkCard>> {
        Ok(self.network.get(fingerprint).cloned())
    }

    fn vault_card(&mut self, id: &str) -> StoreResult<Option<VaultCard>> {
        Ok(self.vault.get(id).cloned())
    }

    fn vault_card_for(
        &mut self,
        merchant_id: &str,
        account_id: &str,
        fingerprint: &str,
    ) -> StoreResult<Option<VaultCard>> {
        Ok(self
            .vault
            .values()
            .find(|c| {
                c.merchant_id == merchant_id
                    && c.account_id == account_id
                    && c.fingerprint == fingerprint
            })
            .cloned())
    }

    fn put_vault_card(&mut self, card: &VaultCard) -> StoreResult<()> {
        self.vault.insert(card.id.clone(), card.clone());
        Ok(())
    }

    fn operation_response(
        &mut self,
        operation_id: &str,
    ) -> StoreResult<Option<(String, StoredResponse)>> {
        Ok(self
            .operations
            .iter()
            .find(|o| o.id == operation_id)
            .map(|o| (o.request_digest.clone(), o.response())))
    }

    fn charged_operation(
        &mut self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<(String, String, StoredResponse)>> {
        Ok(self
            .operations
            .iter()
            .find(|o| {
                o.holds_invoice() && o.merchant_id == merchant_id && o.invoice_id == invoice_id
            })
            .map(|o| (o.id.clone(), o.request_digest.clone(), o.response())))
    }

    fn invoice_tail_taken(
        &mut self,
        terminal_id: &str,
        day: &str,
        tail: &str,
        invoice_id: &str,
    ) -> StoreResult<bool> {
        let key = (terminal_id.to_string(), day.to_string(), tail.to_string());
        Ok(self
            .operations
            .iter()
            .any(|o| o.holds_invoice() && o.invoice_id != invoice_id && o.has_tail_key(&key)))
    }

    fn card_guesses(&mut self, merchant_id: &str, card_key: &str) -> StoreResult<CardGuesses> {
        let key = (merchant_id.to_string(), card_key.to_string());
        Ok(self.guesses.get(&key).copied().unwrap_or_default())
    }

    fn put_card_guesses(
        &mut self,
        merchant_id: &str,
        card_key: &str,
        guesses: CardGuesses,
    ) -> StoreResult<()> {
        let key = (merchant_id.to_string(), card_key.to_string());
        self.guesses.insert(key, guesses);
        Ok(())
    }

    fn phone_entry(
        &mut self,
        merchant_id: &str,
        phone_key: &str,
    ) -> StoreResult<Option<PhoneEntry>> {
        let key = |owner: &str| (owner.to_string(), phone_key.to_string());
        Ok(self
            .phones
            .get(&key(merchant_id))
            .or_else(|| self.phones.get(&key("")))
            .cloned())
    }

    fn balance(&mut self, account_id: &str) -> StoreResult<Money> {
        self.balances
            .get(account_id)
            .copied()
            .ok_or_else(|| StoreError::Invariant(format!("no ledger account {account_id}")))
    }

    fn post(&mut self, operation_id: &str, postings: &[Posting]) -> StoreResult<()> {
        let sum: i64 = postings.iter().map(|p| p.amount.minor()).sum();
        if sum != 0 {
            return Err(StoreError::Invariant(format!(
                "{operation_id} sums to {sum}"
            )));
        }
        let mut after = self.balances.clone();
        for p in postings {
            let b = after
                .get_mut(&p.account_id)
                .ok_or_else(|| StoreError::Invariant(format!("no account {}", p.account_id)))?;
            *b = Money::from_minor(b.minor() + p.amount.minor());
            if p.account_id.starts_with("card:") && *b < Money::ZERO {
                return Err(StoreError::Invariant(format!("{} overdrawn", p.account_id)));
            }
        }
        self.balances = after;
        self.postings.extend(
            postings
                .iter()
                .map(|p| (operation_id.to_string(), p.clone())),
        );
        Ok(())
    }

    fn insert_operation(&mut self, op: &OperationRecord) -> StoreResult<()> {
        self.operations.push(op.clone());
        Ok(())
    }

    fn next_reference(&mut self) -> StoreResult<String> {
        self.references += 1;
        Ok(format!("{:012}", self.references))
    }

    fn insert_callback(&mut self, event: &CallbackEvent) -> StoreResult<()> {
        self.callbacks.push(event.clone());
        Ok(())
    }

    fn operation(&mut self, id: &str) -> StoreResult<Option<OperationRecord>> {
        Ok(self.operations.iter().find(|o| o.id == id).cloned())
    }

    fn update_operation(&mut self, op: &OperationRecord) -> StoreResult<()> {
        match self.operations.iter_mut().find(|o| o.id == op.id) {
            Some(o) if o.status == crate::records::OperationStatus::Pending => {
                *o = op.clone();
                Ok(())
            }
            _ => Err(StoreError::Invariant(format!("{} is not pending", op.id))),
        }
    }

    fn insert_pending_resolution(&mut self, p: &PendingResolution) -> StoreResult<()> {
        self.resolutions.push(p.clone());
        Ok(())
    }

    // No leases here: a resolution is held while it is stored.
    fn release_resolution(&mut self, due: &DueResolution) -> StoreResult<bool> {
        let before = self.resolutions.len();
        let id = &due.pending.operation_id;
        self.resolutions.retain(|r| &r.operation_id != id);
        Ok(self.resolutions.len() < before)
    }

    fn take_resolution(&mut self, operation_id: &str) -> StoreResult<Option<PendingResolution>> {
        let at = self
            .resolutions
            .iter()
            .position(|r| r.operation_id == operation_id);
        Ok(at.map(|i| self.resolutions.remove(i)))
    }

    fn insert_challenge(&mut self, c: &Challenge) -> StoreResult<()> {
        if self.challenges.contains_key(&c.operation_id) {
            return Err(StoreError::Db(format!(
                "challenge {} twice",
                c.operation_id
            )));
        }
        self.challenges.insert(c.operation_id.clone(), c.clone());
        Ok(())
    }

    fn challenge(&mut self, operation_id: &str) -> StoreResult<Option<Challenge>> {
        Ok(self.challenges.get(operation_id).cloned())
    }

    fn update_challenge(&mut self, c: &Challenge) -> StoreResult<()> {
        match self.challenges.get_mut(&c.operation_id) {
            Some(stored) => {
                *stored = c.clone();
                Ok(())
            }
            None => Err(StoreError::Invariant(format!(
                "no challenge {}",
                c.operation_id
            ))),
        }
    }
    fn terminal_limits(&mut self, terminal_id: &str) -> StoreResult<TerminalLimits> {
        Ok(self.limits.get(terminal_id).copied().unwrap_or_default())
    }

    fn limit_counter(&mut self, key: &str) -> StoreResult<Counter> {
        Ok(self.counters.get(key).copied().unwrap_or_default())
    }

    fn add_to_counter(&mut self, key: &str, add: Counter) -> StoreResult<()> {
        let c = self.counters.entry(key.to_string()).or_default();
        *c = c.plus(add);
        Ok(())
    }
}
