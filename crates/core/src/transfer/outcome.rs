//! What a transfer writes: the operation (charge or decline) with the exact response it was
//! answered with, a charge's balanced postings and saved cards, and the callback event.

use super::ids::Ids;
use super::rules::{non_empty, Charge, Decline};
use super::sides::{Resolved, SaveRequest};
use super::{external_account, language_of};
use super::{SideInput, TransferCommand};
use crate::money::{Currency, Money};
use crate::records::{
    CallbackEvent, CallbackKind, OperationRecord, OperationStatus, Posting, SideRecord,
    StoredResponse, TerminalRecord, VaultCard,
};
use crate::tx::{StoreError, Tx};
use aqsha_wire::callback::CallbackBody;
use aqsha_wire::codes::reason;
use aqsha_wire::transfer::{ApiError, Secure3d, TransferResponse};
use aqsha_wire::WireAmount;

/// The operation being built: filled in as the decision learns things, so a decline records
/// as much as is known.
pub(super) struct Draft {
    pub op: OperationRecord,
    /// The token's postLink and failurePostLink: `secret_hash` goes only to these.
    token_links: [Option<String>; 2],
    /// The sender's name as given, for the callback.
    payer_name: String,
    /// How long the answer is held back (a scenario card's `delay_ms`), outside the store.
    pub delay_ms: u32,
    /// A pending operation taken up again to resolve it: its row is rewritten, not inserted.
    resumed: bool,
    /// The cardholder passed a 3-D Secure challenge for it: the callback's `secure` says
    /// `Yes` (`super::secure3d`).
    pub secure3d_passed: bool,
}

impl Draft {
    pub fn new(op_id: String, cmd: &TransferCommand) -> Draft {
        let (o, token) = (&cmd.order, &cmd.token);
        Draft {
            op: OperationRecord {
                id: op_id,
                merchant_id: token.merchant_id.clone(),
                // Until the terminal is checked, the one the request names, so that status
                // queries on that terminal find the decline.
                terminal_id: cmd.named_terminal().cloned().unwrap_or_default(),
                invoice_id: o.invoice_id.clone(),
                account_id: o.account_id.clone().unwrap_or_default(),
                amount: Money::ZERO,
                fee: Money::ZERO,
                currency: o.currency.clone(),
                description: o.description.clone().unwrap_or_default(),
                email: o.email.clone().unwrap_or_default(),
                // Set by the outcome below.
                status: OperationStatus::Failed,
                kind: cmd.kind(),
                // An unknown language is refused before a draft is made.
                language: language_of(o).unwrap_or("rus").to_string(),
                approval_code: String::new(),
                reason_code: 0,
                reason: String::new(),
                reference: String::new(),
                int_reference: String::new(),
                sender: SideRecord::default(),
                receiver: SideRecord::default(),
                token_id: token.id.clone(),
                request_digest: cmd.request_digest.clone(),
                http_status: 0,
                response_body: String::new(),
                created_at: cmd.now,
                // The token's callback links win: an order may name links only where the
                // token has none, and may not differ from those it has (`rules`).
                post_link: non_empty(&token.post_link)
                    .or(non_empty(&o.post_link))
                    .map(str::to_string),
                failure_post_link: non_empty(&token.failure_post_link)
                    .or(non_empty(&o.failure_post_link))
                    .map(str::to_string),
                secret_hash: token.secret_hash.clone(),
            },
            token_links: [token.post_link.clone(), token.failure_post_link.clone()],
            payer_name: match &cmd.sender {
                SideInput::Pan(p) => p.name.clone().unwrap_or_default(),
                SideInput::CardId { .. } | SideInput::Merchant | SideInput::Phone(_) => {
                    String::new()
                }
            },
            delay_ms: 0,
            resumed: false,
            secure3d_passed: false,
        }
    }

    /// A pending operation, taken up again to resolve it (`super::scenario`).
    pub fn resume(
        op: OperationRecord,
        token_links: [Option<String>; 2],
        payer_name: String,
    ) -> Draft {
        Draft {
            op,
            token_links,
            payer_name,
            delay_ms: 0,
            resumed: true,
            secure3d_passed: false,
        }
    }

    /// What a decision that is still pending needs to resolve later: the callback's
    /// `secret_hash` links and the payer's name.
    pub fn callback_inputs(&self) -> ([Option<String>; 2], String) {
        (self.token_links.clone(), self.payer_name.clone())
    }

    /// Records a decline (HTTP 400, nothing moved) and queues its failure callback. Returns the
    /// operation's id and the response.
    pub fn record_decline<I: Ids + ?Sized>(
        self,
        tx: &mut dyn Tx,
        d: Decline,
        ids: &mut I,
    ) -> Result<(String, StoredResponse), StoreError> {
        self.record_unpaid(tx, d, OperationStatus::Failed, ids)
    }

    /// Records an answer that moved nothing, as a decline (`Failed`) or as a non-final answer
    /// (`Pending`, whose callback waits for its resolution), in the decline's shape.
    pub fn record_unpaid<I: Ids + ?Sized>(
        mut self,
        tx: &mut dyn Tx,
        d: Decline,
        status: OperationStatus,
        ids: &mut I,
    ) -> Result<(String, StoredResponse), StoreError> {
        self.op.status = status;
        self.op.reason_code = d.code.code;
        self.op.reason = format!("{}: {}", d.code.message, d.detail);
        let body = ApiError {
            code: d.code.code,
            message: self.op.reason.clone(),
            invoice_id: self.op.invoice_id.clone(),
            id: self.op.id.clone(),
            reference: String::new(),
            account_id: self.op.account_id.clone(),
        };
        self.finish(tx, 400, json(&body)?, ids)
    }

    /// Posts the charge, saves the cards asked to be saved, records the operation (HTTP 200)
    /// and queues its success callback. Returns the operation's id and the response.
    pub fn commit_charge<I: Ids + ?Sized>(
        mut self,
        tx: &mut dyn Tx,
        c: Charge,
        ids: &mut I,
    ) -> Result<(String, StoredResponse), StoreError> {
        self.post_charge(tx, &postings(&c)?, ids)?;
        // A side paid by saved card id keeps that id; a side saved now gets its vault id.
        self.op.sender.card_id = side_card_id(tx, &self.op, &c.terminal, &c.sender, ids)?;
        self.op.receiver.card_id = side_card_id(tx, &self.op, &c.terminal, &c.receiver, ids)?;
        self.finish_charge(tx, c.currency, ids)
    }

    /// A charge's ledger part: its reference and its balanced postings.
    pub fn post_charge<I: Ids + ?Sized>(
        &mut self,
        tx: &mut dyn Tx,
        postings: &[Posting],
        ids: &mut I,
    ) -> Result<(), StoreError> {
        let reference = tx.next_reference()?;
        tx.post(&self.op.id, postings)?;
        self.op.reference = reference;
        self.op.int_reference = ids.int_reference();
        Ok(())
    }

    /// Records an operation that waits for its 3-D Secure challenge (`super::secure3d`): the
    /// success body's shape (HTTP 200, status `NEW`, no reference yet) with `secure3D`, so
    /// that ePay's SDK, which reads an integer `code` as an error, takes it for what it is.
    pub fn record_challenge<I: Ids + ?Sized>(
        mut self,
        tx: &mut dyn Tx,
        currency: Currency,
        secure3d: Secure3d,
        ids: &mut I,
    ) -> Result<(String, StoredResponse), StoreError> {
        self.op.status = OperationStatus::Pending;
        self.op.reason_code = 0;
        self.op.reason = "3-D Secure authentication required: waiting for the cardholder".into();
        let mut body = charge_response(&self.op, currency);
        body.secure3d = Some(secure3d);
        let body = json(&body)?;
        self.finish(tx, 200, body, ids)
    }

    /// Records a charge whose postings are made (HTTP 200) and queues its success callback.
    pub fn finish_charge<I: Ids + ?Sized>(
        mut self,
        tx: &mut dyn Tx,
        currency: Currency,
        ids: &mut I,
    ) -> Result<(String, StoredResponse), StoreError> {
        self.op.status = OperationStatus::Charge;
        self.op.reason_code = 0;
        self.op.reason = reason::SUCCESS.message.into();
        let body = json(&charge_response(&self.op, currency))?;
        self.op.approval_code = ids.approval_code();
        self.finish(tx, 200, body, ids)
    }

    /// Records the operation with its response and queues its callback.
    fn finish<I: Ids + ?Sized>(
        mut self,
        tx: &mut dyn Tx,
        http_status: u16,
        body: String,
        ids: &mut I,
    ) -> Result<(String, StoredResponse), StoreError> {
        let response = StoredResponse { http_status, body };
        self.op.http_status = response.http_status;
        self.op.response_body = response.body.clone();
        if self.resumed {
            tx.update_operation(&self.op)?;
        } else {
            tx.insert_operation(&self.op)?;
        }
        if let Some(event) = self.callback(ids)? {
            tx.insert_callback(&event)?;
        }
        Ok((self.op.id, response))
    }

    /// The operation's callback (docs/protocol.md#callbacks), when the order or the token named a URL for
    /// this outcome.
    fn callback<I: Ids + ?Sized>(&self, ids: &mut I) -> Result<Option<CallbackEvent>, StoreError> {
        let op = &self.op;
        if op.status == OperationStatus::Pending {
            // Sent when it resolves.
            return Ok(None);
        }
        let ok = op.charged();
        let url = if ok {
            &op.post_link
        } else {
            &op.failure_post_link
        };
        let Some(url) = url.clone().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        // The merchant's secret_hash is echoed only to a link the merchant itself put in the
        // token request; a link that came with the order gets the callback without it.
        let from_token = self.token_links[usize::from(!ok)].as_deref() == Some(url.as_str());
        let secret_hash = match &op.secret_hash {
            Some(s) if from_token => s.clone(),
            _ => String::new(),
        };
        let body = callback_body(op, &self.payer_name, secret_hash, self.secure3d_passed);
        Ok(Some(CallbackEvent {
            id: ids.callback_id(),
            merchant_id: op.merchant_id.clone(),
            operation_id: op.id.clone(),
            invoice_id: op.invoice_id.clone(),
            url,
            kind: if ok {
                CallbackKind::Success
            } else {
                CallbackKind::Failure
            },
            body: json(&body)?,
            created_at: op.created_at,
        }))
    }
}

fn json<T: serde::Serialize>(body: &T) -> Result<String, StoreError> {
    serde_json::to_string(body).map_err(|e| StoreError::Db(e.to_string()))
}

/// The charge's balanced postings: the sender's card pays amount and fee; the receiver's card
/// (or, for another issuer's card, the external settlement account) gets the amount; the
/// terminal's fee account gets the fee.
fn postings(c: &Charge) -> Result<Vec<Posting>, StoreError> {
    let accounts = charge_accounts(c)?;
    ledger_postings(accounts, c.amount, c.fee)
}

/// The accounts a charge posts to: (sender's card, receiver's card or the external network,
/// the terminal's fee account).
pub(super) fn charge_accounts(c: &Charge) -> Result<[String; 3], StoreError> {
    let sender_account = c
        .sender
        .account()
        .ok_or_else(|| StoreError::Invariant("sender without account".into()))?
        .to_string();
    // A valid card of another issuer: the money leaves through the external network's
    // settlement account, so the ledger still balances.
    let receiver_account = match c.receiver.account() {
        Some(account) => account.to_string(),
        None => external_account(c.currency),
    };
    Ok([
        sender_account,
        receiver_account,
        c.terminal.fee_account.clone(),
    ])
}

/// The balanced postings of a charge between these accounts.
pub(super) fn ledger_postings(
    [sender_account, receiver_account, fee_account]: [String; 3],
    amount: Money,
    fee: Money,
) -> Result<Vec<Posting>, StoreError> {
    let total = amount
        .checked_add(fee)
        .ok_or_else(|| StoreError::Invariant("amount overflow".into()))?;
    let mut postings = vec![
        Posting {
            account_id: sender_account,
            amount: Money::from_minor(-total.minor()),
        },
        Posting {
            account_id: receiver_account,
            amount,
        },
    ];
    if fee > Money::ZERO {
        postings.push(Posting {
            account_id: fee_account,
            amount: fee,
        });
    }
    Ok(postings)
}

/// A charge's answer on the wire. The decision put the amount, fee and terminal in `op`.
fn charge_response(op: &OperationRecord, currency: Currency) -> TransferResponse {
    TransferResponse {
        id: op.id.clone(),
        amount: WireAmount::new(op.amount.to_string()),
        fee: WireAmount::new(op.fee.to_string()),
        account_id: op.account_id.clone(),
        currency: currency.code().into(),
        email: op.email.clone(),
        description: op.description.clone(),
        reference: op.reference.clone(),
        order_id: op.invoice_id.clone(),
        sender_card_id: op.sender.card_id.clone(),
        sender_card_pan: op.sender.mask.clone(),
        sender_card_type: op.sender.brand_name().into(),
        sender_transfer_type: op.sender.transfer_type_name().into(),
        receiver_card_id: op.receiver.card_id.clone(),
        receiver_card_pan: op.receiver.mask.clone(),
        receiver_card_type: op.receiver.brand_name().into(),
        receiver_transfer_type: op.receiver.transfer_type_name().into(),
        int_reference: op.int_reference.clone(),
        terminal_id: op.terminal_id.clone(),
        status: op.status.as_str().into(),
        secure3d: None,
    }
}

/// The callback's body, sent as is on every attempt.
fn callback_body(
    op: &OperationRecord,
    payer_name: &str,
    secret_hash: String,
    secure3d_passed: bool,
) -> CallbackBody {
    CallbackBody {
        id: op.id.clone(),
        date_time: op
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        invoice_id: op.invoice_id.clone(),
        amount: WireAmount::new(op.amount.to_string()),
        currency: op.currency.clone(),
        terminal: op.terminal_id.clone(),
        account_id: op.account_id.clone(),
        description: op.description.clone(),
        language: op.language.clone(),
        card_mask: op.card().mask.clone(),
        card_type: op.card().brand_name().into(),
        issuer: String::new(),
        reference: op.reference.clone(),
        approval_code: op.approval_code.clone(),
        secure: aqsha_wire::callback::secure_flag(secure3d_passed).into(),
        code: if op.charged() { "ok" } else { "error" }.into(),
        reason: op.reason.clone(),
        reason_code: op.reason_code,
        name: payer_name.to_string(),
        email: op.email.clone(),
        phone: String::new(),
        card_id: op.card().card_id.clone(),
        secret_hash,
        invoice_id_alt: String::new(),
        secure_details: String::new(),
        token_recipient: String::new(),
        ip: aqsha_wire::callback::IpFields::default(),
    }
}

fn side_card_id<I: Ids + ?Sized>(
    tx: &mut dyn Tx,
    op: &OperationRecord,
    terminal: &TerminalRecord,
    side: &Resolved,
    ids: &mut I,
) -> Result<String, StoreError> {
    match &side.save {
        Some(save) => save_card(tx, op, terminal, &side.fingerprint, save, ids),
        None => Ok(side.record.card_id.clone()),
    }
}

/// Saves a card for the order's customer; the same card saved twice keeps its first id.
fn save_card<I: Ids + ?Sized>(
    tx: &mut dyn Tx,
    op: &OperationRecord,
    terminal: &TerminalRecord,
    fingerprint: &str,
    save: &SaveRequest,
    ids: &mut I,
) -> Result<String, StoreError> {
    let existing = tx.vault_card_for(&op.merchant_id, &op.account_id, fingerprint)?;
    let id = match &existing {
        Some(c) => c.id.clone(),
        None => ids.saved_card_id(),
    };
    let card = VaultCard {
        id: id.clone(),
        merchant_id: op.merchant_id.clone(),
        account_id: op.account_id.clone(),
        fingerprint: fingerprint.to_string(),
        sealed: save.sealed.clone(),
        mask: save.mask.clone(),
        brand: save.brand,
        payer_name: save.payer_name.clone(),
        active: true,
        created_at: existing.map(|c| c.created_at).unwrap_or(op.created_at),
        transaction_id: op.id.clone(),
        reference: op.reference.clone(),
        int_reference: op.int_reference.clone(),
        terminal_id: terminal.id.clone(),
    };
    tx.put_vault_card(&card)?;
    Ok(id)
}
