//! The transfer algorithm: from a parsed request to one atomic set of writes.
//!
//! [`execute`] runs inside a store transaction ([`Tx`]). It either refuses the request without
//! writing anything (a bad token, bad input: [`TransferOutcome::Refused`]), replays a stored
//! answer ([`TransferOutcome::Replay`]), or records exactly one operation — a charge with its
//! balanced postings and saved cards, or a decline that moved nothing — and spends the token, all
//! in the caller's transaction ([`TransferOutcome::Done`]).
//!
//! Checks run in this order, and the first that fails decides the answer:
//! token → amount (470) → currency (469) → token binding: invoice, amount, currency, customer,
//! callback links (469) → terminal (464) → invoice already charged (replay, or 469) → invoice
//! tail (469) → saved sender card needs a customer token (487) → sender card (its wrong-answer
//! block, 492) → receiver card → same card (469) → card currency (456) → funds (484).

use crate::card::{Brand, Expiry};
use crate::money::{Currency, Money};
use crate::store::{
    CallbackEvent, CardGuesses, NetworkCard, OperationRecord, Posting, SideRecord, StoreError,
    StoredResponse, TerminalRecord, TokenRecord, Tx, VaultCard,
};
use crate::token::CustomerBinding;
use crate::vault::{ct_eq, SealedPan};
use aqsha_wire::callback::CallbackBody;
use aqsha_wire::codes::{reason, ReasonCode};
use aqsha_wire::transfer::{ApiError, TransferResponse};
use aqsha_wire::WireAmount;
use chrono::{DateTime, Datelike, Utc};
use rand::Rng;

/// A transfer request after the server has parsed it and the vault has turned card numbers into
/// fingerprints, masks and sealed blobs. No plain card number or CVC is in here.
#[derive(Debug, Clone)]
pub struct TransferCommand {
    /// The bearer token's claims; the handler refuses a token that does not open.
    pub token: TokenRecord,
    /// Keyed digest of the canonical request body, to recognise a retry.
    pub request_digest: String,
    pub now: DateTime<Utc>,
    pub order: OrderInput,
    pub sender: SideInput,
    pub receiver: SideInput,
    /// The deployment's rules for this transfer.
    pub rules: TransferRules,
}

/// Rules a deployment configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferRules {
    /// Whether a saved sender card needs a token issued for its customer.
    pub binding: CustomerBinding,
    /// Wrong CVC or expiry answers for one card (per merchant) that block it.
    pub wrong_answer_limit: u32,
    /// How long such a block lasts.
    pub block_for: chrono::Duration,
}

impl Default for TransferRules {
    fn default() -> Self {
        TransferRules {
            binding: CustomerBinding::Strict,
            wrong_answer_limit: 3,
            block_for: chrono::Duration::minutes(30),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct OrderInput {
    pub amount: String,
    pub currency: String,
    pub invoice_id: String,
    pub account_id: Option<String>,
    pub email: Option<String>,
    pub description: Option<String>,
    pub terminal_id: Option<String>,
    pub post_link: Option<String>,
    pub failure_post_link: Option<String>,
}

#[derive(Debug, Clone)]
pub enum SideInput {
    Pan(PanSide),
    CardId { id: String, save: bool },
}

#[derive(Debug, Clone)]
pub struct PanSide {
    pub fingerprint: String,
    pub mask: String,
    pub brand: Brand,
    pub luhn_ok: bool,
    /// Present when the card is to be saved.
    pub sealed: Option<SealedPan>,
    /// The CVC's check value, computed by the vault from the presented CVC.
    pub cvc_check: Option<String>,
    pub expiry: Option<Expiry>,
    pub name: Option<String>,
    pub save: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferOutcome {
    /// A new operation was recorded (charge or decline); the response to send.
    Done {
        response: StoredResponse,
        operation_id: String,
        charged: bool,
    },
    /// The same request was answered before: its stored response, nothing moved.
    Replay(StoredResponse),
    /// Refused before anything was recorded; the token is not spent.
    Refused(Refusal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// An expired or already-spent token, or one without transfer scope: HTTP 401.
    Token(String),
    /// The request is malformed in a way the domain sees (format error 477): HTTP 400.
    Input(String),
}

/// A decline: the reason code and a message saying what was wrong.
struct Decline {
    code: ReasonCode,
    detail: String,
}

fn decline(code: ReasonCode, detail: impl Into<String>) -> Decline {
    Decline {
        code,
        detail: detail.into(),
    }
}

/// One side of a transfer after its card was resolved.
struct Resolved {
    record: SideRecord,
    fingerprint: String,
    /// The network card, when the sandbox issued it; `None` for an external receiver.
    network: Option<NetworkCard>,
    save: Option<SaveRequest>,
}

struct SaveRequest {
    sealed: SealedPan,
    mask: String,
    brand: Brand,
    payer_name: String,
}

pub fn external_account(currency: Currency) -> String {
    format!("external:{}", currency.code())
}

pub fn execute(tx: &mut dyn Tx, cmd: &TransferCommand) -> Result<TransferOutcome, StoreError> {
    let token = &cmd.token;
    if let Some(spent_by) = tx.token_spent_by(&token.id)? {
        return match tx.operation_response(&spent_by)? {
            Some((digest, stored)) if ct_eq(&digest, &cmd.request_digest) => {
                Ok(TransferOutcome::Replay(stored))
            }
            _ => Ok(TransferOutcome::Refused(Refusal::Token(
                "token already used by another request; request a new token for each operation"
                    .into(),
            ))),
        };
    }
    if token.expires_at <= cmd.now {
        return Ok(TransferOutcome::Refused(Refusal::Token(
            "token expired".into(),
        )));
    }
    if !scope_allows_transfer(&token.scope) {
        return Ok(TransferOutcome::Refused(Refusal::Token(
            "token scope does not allow transfers".into(),
        )));
    }
    let o = &cmd.order;
    if !valid_invoice(&o.invoice_id) {
        return Ok(TransferOutcome::Refused(Refusal::Input(
            "order.id must be 6 to 16 digits".into(),
        )));
    }
    let wants_save = matches!(&cmd.sender, SideInput::Pan(p) if p.save)
        || matches!(&cmd.receiver, SideInput::Pan(p) if p.save);
    if wants_save && o.account_id.as_deref().unwrap_or("").is_empty() {
        return Ok(TransferOutcome::Refused(Refusal::Input(
            "order.accountID is required when a card is to be saved (save: true)".into(),
        )));
    }

    // Time-ordered ids keep each commit's new rows (and their postings) on a few B-tree pages
    // instead of scattering them, which is most of what a durable commit writes.
    let op_id = uuid::Uuid::now_v7().to_string();
    let mut draft = Draft::new(&op_id, token, cmd);
    // Until the terminal is checked, record the one the request names, so that status
    // queries on that terminal find the decline.
    draft.op.terminal_id = o
        .terminal_id
        .clone()
        .or_else(|| token.terminal_id.clone())
        .unwrap_or_default();
    match decide(tx, cmd, token, &mut draft)? {
        Ok(charge) => {
            if let Some(existing) = charge.replay {
                // The invoice was already charged by an identical request under another token:
                // answer as before, and this token is spent on that operation.
                tx.spend_token(&token.id, &existing.0)?;
                return Ok(TransferOutcome::Replay(existing.1));
            }
            let response = draft.commit_charge(tx, charge)?;
            tx.spend_token(&token.id, &op_id)?;
            Ok(TransferOutcome::Done {
                response,
                operation_id: op_id,
                charged: true,
            })
        }
        Err(d) => {
            let response = draft.record_decline(tx, d)?;
            tx.spend_token(&token.id, &op_id)?;
            Ok(TransferOutcome::Done {
                response,
                operation_id: op_id,
                charged: false,
            })
        }
    }
}

fn scope_allows_transfer(scope: &str) -> bool {
    scope
        .split_whitespace()
        .any(|s| s == "transfer" || s == "payment")
}

/// The order number: digits only, at least 6. The seed's text says "from 6 to 15 digits", but
/// the seed's own transfer example uses a 16-digit order id (`8161284658529816`), and the seed
/// must work verbatim — so up to 16 digits are accepted.
pub fn valid_invoice(id: &str) -> bool {
    (6..=16).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// What a successful decision carries to the commit.
struct Charge {
    amount: Money,
    fee: Money,
    currency: Currency,
    terminal: TerminalRecord,
    sender: Resolved,
    receiver: Resolved,
    /// Set when the invoice was already charged by the same request: (operation id, response).
    replay: Option<(String, StoredResponse)>,
}

fn decide(
    tx: &mut dyn Tx,
    cmd: &TransferCommand,
    token: &TokenRecord,
    draft: &mut Draft,
) -> Result<Result<Charge, Decline>, StoreError> {
    let o = &cmd.order;
    let amount = match Money::parse_positive(&o.amount) {
        Ok(a) => a,
        Err(e) => return Ok(Err(decline(reason::INVALID_AMOUNT, e.to_string()))),
    };
    draft.op.amount = amount;
    let Some(currency) = Currency::parse(&o.currency) else {
        return Ok(Err(decline(
            reason::INVALID_TRANSACTION,
            format!("currency {:?} is not supported (KZT, USD)", o.currency),
        )));
    };
    // The token is bound to what it was issued for (reference §2).
    if let Some(inv) = &token.invoice_id {
        if inv != &o.invoice_id {
            return Ok(Err(decline(
                reason::INVALID_TRANSACTION,
                "order.id does not match the token's invoiceID",
            )));
        }
    }
    if let Some(a) = token.amount {
        if a != amount {
            return Ok(Err(decline(
                reason::INVALID_TRANSACTION,
                "order.amount does not match the token's amount",
            )));
        }
    }
    if let Some(c) = token.currency {
        if c != currency {
            return Ok(Err(decline(
                reason::INVALID_TRANSACTION,
                "order.currency does not match the token's currency",
            )));
        }
    }
    if let Some(a) = &token.account_id {
        if o.account_id.as_deref() != Some(a.as_str()) {
            return Ok(Err(decline(
                reason::INVALID_TRANSACTION,
                "order.accountID does not match the token's accountId",
            )));
        }
    }
    // The callback links and secret_hash the merchant put in the token cannot be redirected
    // by the order (which may have passed through a customer's browser).
    for (name, given, bound) in [
        ("postLink", &o.post_link, &token.post_link),
        (
            "failurePostLink",
            &o.failure_post_link,
            &token.failure_post_link,
        ),
    ] {
        if let (Some(given), Some(bound)) = (non_empty(given), non_empty(bound)) {
            if given != bound {
                return Ok(Err(decline(
                    reason::INVALID_TRANSACTION,
                    format!("order.{name} differs from the {name} the token was issued with"),
                )));
            }
        }
    }
    let terminal_id = match (&o.terminal_id, &token.terminal_id) {
        (Some(t), Some(bound)) if t != bound => {
            return Ok(Err(decline(
                reason::INVALID_TRANSACTION,
                "order.terminalId does not match the token's terminal",
            )));
        }
        (Some(t), _) | (None, Some(t)) => t.clone(),
        (None, None) => {
            return Ok(Err(decline(
                reason::INVALID_MERCHANT,
                "no terminal: give order.terminalId or bind the token to a terminal",
            )));
        }
    };
    let terminal = match tx.terminal(&terminal_id)? {
        Some(t) if t.merchant_id == token.merchant_id => t,
        _ => {
            return Ok(Err(decline(
                reason::INVALID_MERCHANT,
                "terminal is not one of this merchant's terminals",
            )))
        }
    };
    draft.op.terminal_id = terminal.id.clone();
    if terminal.currency != currency {
        return Ok(Err(decline(
            reason::INVALID_TRANSACTION,
            format!("terminal accepts {} only", terminal.currency.code()),
        )));
    }
    if let Some((op_id, digest, stored)) =
        tx.charged_operation(&token.merchant_id, &o.invoice_id)?
    {
        if ct_eq(&digest, &cmd.request_digest) {
            return Ok(Ok(Charge {
                amount,
                fee: Money::ZERO,
                currency,
                terminal,
                sender: empty_side(),
                receiver: empty_side(),
                replay: Some((op_id, stored)),
            }));
        }
        return Ok(Err(decline(
            reason::INVALID_TRANSACTION,
            "this invoice has already been paid; use a new invoiceID",
        )));
    }
    if let Some(tail) = invoice_tail(&o.invoice_id) {
        if tx.invoice_tail_taken(&terminal.id, &day_of(cmd.now), tail, &o.invoice_id)? {
            return Ok(Err(decline(
                reason::INVALID_TRANSACTION,
                "another invoice with the same last 6 digits was paid on this terminal today",
            )));
        }
    }
    let merchant = token.merchant_id.as_str();
    let account = o.account_id.as_deref().unwrap_or("");
    if matches!(cmd.sender, SideInput::CardId { .. })
        && cmd.rules.binding == CustomerBinding::Strict
        && token.account_id.as_deref() != Some(account)
    {
        return Ok(Err(decline(
            reason::NOT_PERMITTED_TO_MERCHANT,
            "paying from a saved card needs a token issued for its customer \
             (accountId in the token request)",
        )));
    }
    let sender = match resolve(tx, cmd, &cmd.sender, true, merchant, account)? {
        Ok(s) => s,
        Err(d) => return Ok(Err(d)),
    };
    draft.op.sender = sender.record.clone();
    let receiver = match resolve(tx, cmd, &cmd.receiver, false, merchant, account)? {
        Ok(r) => r,
        Err(d) => return Ok(Err(d)),
    };
    draft.op.receiver = receiver.record.clone();
    if sender.fingerprint == receiver.fingerprint {
        return Ok(Err(decline(
            reason::INVALID_TRANSACTION,
            "sender and receiver are the same card",
        )));
    }
    let Some(sender_card) = &sender.network else {
        return Ok(Err(decline(
            reason::NO_SUCH_CARD,
            "sender card is not known to the network",
        )));
    };
    if sender_card.currency != currency
        || receiver
            .network
            .as_ref()
            .is_some_and(|r| r.currency != currency)
    {
        return Ok(Err(decline(
            reason::CANNOT_PAY_WITH_CARD,
            format!("card account is not in {}", currency.code()),
        )));
    }
    let Some(fee) = terminal.fee.fee_for(amount) else {
        return Ok(Err(decline(reason::INVALID_AMOUNT, "amount is too large")));
    };
    draft.op.fee = fee;
    let Some(total) = amount.checked_add(fee) else {
        return Ok(Err(decline(reason::INVALID_AMOUNT, "amount is too large")));
    };
    if tx.balance(&sender_card.account_id)? < total {
        return Ok(Err(decline(
            reason::INSUFFICIENT_FUNDS,
            "insufficient funds on the sender card",
        )));
    }
    Ok(Ok(Charge {
        amount,
        fee,
        currency,
        terminal,
        sender,
        receiver,
        replay: None,
    }))
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

fn empty_side() -> Resolved {
    Resolved {
        record: SideRecord::default(),
        fingerprint: String::new(),
        network: None,
        save: None,
    }
}

/// The calendar day (UTC) the invoice-tail rule counts in.
pub fn day_of(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%d").to_string()
}

/// The last six digits of an invoice longer than six, which must be unique per terminal and
/// day (reference §2); `None` for a six-digit invoice, which is its own tail.
pub fn invoice_tail(invoice_id: &str) -> Option<&str> {
    (invoice_id.len() > 6)
        .then(|| invoice_id.get(invoice_id.len() - 6..))
        .flatten()
}

/// Finds the card behind one side and asks its issuer, when the sandbox is the issuer.
fn resolve(
    tx: &mut dyn Tx,
    cmd: &TransferCommand,
    side: &SideInput,
    is_sender: bool,
    merchant_id: &str,
    account_id: &str,
) -> Result<Result<Resolved, Decline>, StoreError> {
    let now = cmd.now;
    let who = if is_sender { "sender" } else { "receiver" };
    match side {
        SideInput::CardId { id, .. } => {
            // Unknown, deactivated and another merchant's card all answer alike, so a card id
            // reveals nothing about cards that are not the caller's. A saved card pays (needing
            // no CVC) only for the customer it was saved for: the order's accountID.
            let card = match tx.vault_card(id)? {
                Some(c)
                    if c.active
                        && c.merchant_id == merchant_id
                        && (!is_sender || c.account_id == account_id) =>
                {
                    c
                }
                _ => {
                    return Ok(Err(decline(
                        reason::NOT_PERMITTED_TO_MERCHANT,
                        format!(
                            "{who} card id is not an active saved card of this merchant{}",
                            if is_sender {
                                " for this order's accountID"
                            } else {
                                ""
                            }
                        ),
                    )))
                }
            };
            let network = tx.network_card(&card.fingerprint)?;
            if let Some(n) = &network {
                if let Err(d) = issuer_checks(n, who, now) {
                    return Ok(Err(d));
                }
            }
            Ok(Ok(Resolved {
                record: SideRecord {
                    card_id: card.id.clone(),
                    mask: card.mask.clone(),
                    brand: card.brand.name().to_string(),
                    transfer_type: "TYPECARDID".into(),
                },
                fingerprint: card.fingerprint,
                network,
                save: None,
            }))
        }
        SideInput::Pan(p) => {
            let record = SideRecord {
                card_id: String::new(),
                mask: p.mask.clone(),
                brand: p.brand.name().to_string(),
                transfer_type: "TYPEPAN".into(),
            };
            if !p.luhn_ok {
                return Ok(Err(decline(
                    reason::INVALID_CARD_NUMBER,
                    format!("{who} card number fails the check digit (Luhn)"),
                )));
            }
            let network = tx.network_card(&p.fingerprint)?;
            if let Some(n) = &network {
                if let Err(d) = issuer_checks(n, who, now) {
                    return Ok(Err(d));
                }
                if is_sender {
                    if let Err(d) = check_answers(tx, &cmd.rules, merchant_id, p, n, now)? {
                        return Ok(Err(d));
                    }
                }
            } else if is_sender {
                return Ok(Err(decline(
                    reason::NO_SUCH_CARD,
                    "sender card is not known to the network",
                )));
            }
            let save = match (&p.sealed, p.save) {
                (Some(sealed), true) => Some(SaveRequest {
                    sealed: sealed.clone(),
                    mask: p.mask.clone(),
                    brand: p.brand,
                    payer_name: p.name.clone().unwrap_or_default(),
                }),
                _ => None,
            };
            Ok(Ok(Resolved {
                record,
                fingerprint: p.fingerprint.clone(),
                network,
                save,
            }))
        }
    }
}

/// The sender's expiry and CVC against the issuer's, counting wrong answers per card and
/// merchant: once `wrong_answer_limit` are given, the card is refused to that merchant (492)
/// for `block_for`, whatever is answered, so a CVC cannot be found by trying. A right answer
/// clears the count. The count is written in the decline's own commit.
fn check_answers(
    tx: &mut dyn Tx,
    rules: &TransferRules,
    merchant_id: &str,
    p: &PanSide,
    card: &NetworkCard,
    now: DateTime<Utc>,
) -> Result<Result<(), Decline>, StoreError> {
    let mut g = tx.card_guesses(merchant_id, &p.fingerprint)?;
    if let Some(until) = g.blocked_until.filter(|u| *u > now) {
        return Ok(Err(decline(
            reason::PIN_TRIES_EXCEEDED,
            format!(
                "the sender card is blocked after {} wrong CVC or expiry answers, until {}",
                rules.wrong_answer_limit,
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        )));
    }
    let wrong = if p.expiry != Some(card.expiry) {
        Some(decline(
            reason::WRONG_EXPIRY,
            "wrong expiry date for the sender card",
        ))
    } else if !p
        .cvc_check
        .as_deref()
        .is_some_and(|c| ct_eq(c, &card.cvc_check))
    {
        Some(decline(reason::DECLINED_BY_ISSUER_466, "CVC check failed"))
    } else {
        None
    };
    let Some(d) = wrong else {
        if g != CardGuesses::default() {
            tx.put_card_guesses(merchant_id, &p.fingerprint, CardGuesses::default())?;
        }
        return Ok(Ok(()));
    };
    g.wrong += 1;
    g.blocked_until = None;
    if g.wrong >= rules.wrong_answer_limit {
        g = CardGuesses {
            wrong: 0,
            blocked_until: Some(now + rules.block_for),
        };
    }
    tx.put_card_guesses(merchant_id, &p.fingerprint, g)?;
    Ok(Err(d))
}

/// The issuer's own view of its card: locked, or past its expiry.
fn issuer_checks(card: &NetworkCard, who: &str, now: DateTime<Utc>) -> Result<(), Decline> {
    if card.locked {
        return Err(decline(
            reason::CARD_RESTRICTED,
            format!("{who} card is blocked"),
        ));
    }
    if card.enforce_expiry && card.expiry.has_passed(now.year(), now.month()) {
        return Err(decline(
            reason::EXPIRED_CARD,
            format!("{who} card has expired"),
        ));
    }
    Ok(())
}

/// The operation being built: filled in as the decision learns things, so a decline records
/// as much as is known.
struct Draft {
    op: OperationRecord,
    /// The token's postLink and failurePostLink: `secret_hash` goes only to these.
    token_links: [Option<String>; 2],
    /// The sender's name as given, for the callback.
    payer_name: String,
}

impl Draft {
    fn new(op_id: &str, token: &TokenRecord, cmd: &TransferCommand) -> Draft {
        let o = &cmd.order;
        Draft {
            op: OperationRecord {
                id: op_id.to_string(),
                merchant_id: token.merchant_id.clone(),
                terminal_id: String::new(),
                invoice_id: o.invoice_id.clone(),
                account_id: o.account_id.clone().unwrap_or_default(),
                amount: Money::ZERO,
                fee: Money::ZERO,
                currency: o.currency.clone(),
                description: o.description.clone().unwrap_or_default(),
                email: o.email.clone().unwrap_or_default(),
                status: String::new(),
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
                // token has none, and may not differ from those it has (see `decide`).
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
                SideInput::CardId { .. } => String::new(),
            },
        }
    }

    fn record_decline(mut self, tx: &mut dyn Tx, d: Decline) -> Result<StoredResponse, StoreError> {
        self.op.status = "FAILED".into();
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
        let response = StoredResponse {
            http_status: 400,
            body: serde_json::to_string(&body).map_err(|e| StoreError::Db(e.to_string()))?,
        };
        self.op.http_status = response.http_status;
        self.op.response_body = response.body.clone();
        tx.insert_operation(&self.op)?;
        self.queue_callback(tx, "")?;
        Ok(response)
    }

    fn commit_charge(mut self, tx: &mut dyn Tx, c: Charge) -> Result<StoredResponse, StoreError> {
        let reference = tx.next_reference()?;
        let int_reference = format!("{:016X}", rand::thread_rng().gen::<u64>());
        let total = c
            .amount
            .checked_add(c.fee)
            .ok_or_else(|| StoreError::Invariant("amount overflow".into()))?;
        let sender_account = c
            .sender
            .network
            .as_ref()
            .map(|n| n.account_id.clone())
            .ok_or_else(|| StoreError::Invariant("sender without account".into()))?;
        let receiver_account = match &c.receiver.network {
            Some(n) => n.account_id.clone(),
            // A valid card of another issuer: the money leaves through the external network's
            // settlement account, so the ledger still balances.
            None => external_account(c.currency),
        };
        let mut postings = vec![
            Posting {
                account_id: sender_account,
                amount: Money::from_minor(-total.minor()),
            },
            Posting {
                account_id: receiver_account,
                amount: c.amount,
            },
        ];
        if c.fee > Money::ZERO {
            postings.push(Posting {
                account_id: c.terminal.fee_account.clone(),
                amount: c.fee,
            });
        }
        tx.post(&self.op.id, &postings)?;

        self.op.reference = reference;
        self.op.int_reference = int_reference;
        // A side paid by saved card id keeps that id; a side saved now gets its vault id.
        self.op.sender.card_id = side_card_id(tx, &self.op, &c.terminal, &c.sender)?;
        self.op.receiver.card_id = side_card_id(tx, &self.op, &c.terminal, &c.receiver)?;
        self.op.status = "CHARGE".into();
        self.op.reason_code = 0;
        self.op.reason = reason::SUCCESS.message.into();
        let op = &self.op;
        let body = TransferResponse {
            id: op.id.clone(),
            amount: WireAmount::new(c.amount.to_string()),
            fee: WireAmount::new(c.fee.to_string()),
            account_id: op.account_id.clone(),
            currency: c.currency.code().into(),
            email: op.email.clone(),
            description: op.description.clone(),
            reference: op.reference.clone(),
            order_id: op.invoice_id.clone(),
            sender_card_id: op.sender.card_id.clone(),
            sender_card_pan: op.sender.mask.clone(),
            sender_card_type: op.sender.brand.clone(),
            sender_transfer_type: op.sender.transfer_type.clone(),
            receiver_card_id: op.receiver.card_id.clone(),
            receiver_card_pan: op.receiver.mask.clone(),
            receiver_card_type: op.receiver.brand.clone(),
            receiver_transfer_type: op.receiver.transfer_type.clone(),
            int_reference: op.int_reference.clone(),
            terminal_id: c.terminal.id.clone(),
            status: "CHARGE".into(),
        };
        let response = StoredResponse {
            http_status: 200,
            body: serde_json::to_string(&body).map_err(|e| StoreError::Db(e.to_string()))?,
        };
        self.op.http_status = 200;
        self.op.response_body = response.body.clone();
        tx.insert_operation(&self.op)?;
        let approval = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        self.queue_callback(tx, &approval)?;
        Ok(response)
    }

    /// Queues the operation's callback (reference §7) in the same transaction, when the order
    /// or the token named a URL for this outcome.
    fn queue_callback(&self, tx: &mut dyn Tx, approval_code: &str) -> Result<(), StoreError> {
        let op = &self.op;
        let ok = op.status == "CHARGE";
        let url = if ok {
            &op.post_link
        } else {
            &op.failure_post_link
        };
        let Some(url) = url.clone().filter(|u| !u.is_empty()) else {
            return Ok(());
        };
        // The merchant's secret_hash is echoed only to a link the merchant itself put in the
        // token request; a link that came with the order gets the callback without it.
        let from_token = self.token_links[usize::from(!ok)].as_deref() == Some(url.as_str());
        let secret_hash = match &op.secret_hash {
            Some(s) if from_token => s.clone(),
            _ => String::new(),
        };
        let body = CallbackBody {
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
            language: String::new(),
            card_mask: op.sender.mask.clone(),
            card_type: op.sender.brand.clone(),
            issuer: String::new(),
            reference: op.reference.clone(),
            approval_code: approval_code.to_string(),
            secure: "No".into(),
            code: if ok { "ok" } else { "error" }.into(),
            reason: op.reason.clone(),
            reason_code: op.reason_code,
            name: self.payer_name.clone(),
            email: op.email.clone(),
            phone: String::new(),
            card_id: op.sender.card_id.clone(),
            secret_hash,
        };
        tx.insert_callback(&CallbackEvent {
            id: uuid::Uuid::now_v7().to_string(),
            merchant_id: op.merchant_id.clone(),
            operation_id: op.id.clone(),
            invoice_id: op.invoice_id.clone(),
            url,
            kind: if ok { "success" } else { "failure" }.into(),
            body: serde_json::to_string(&body).map_err(|e| StoreError::Db(e.to_string()))?,
            created_at: op.created_at,
        })
    }
}

fn side_card_id(
    tx: &mut dyn Tx,
    op: &OperationRecord,
    terminal: &TerminalRecord,
    side: &Resolved,
) -> Result<String, StoreError> {
    match &side.save {
        Some(save) => save_card(tx, op, terminal, &side.fingerprint, save),
        None => Ok(side.record.card_id.clone()),
    }
}

/// Saves a card for the order's customer; the same card saved twice keeps its first id.
fn save_card(
    tx: &mut dyn Tx,
    op: &OperationRecord,
    terminal: &TerminalRecord,
    fingerprint: &str,
    save: &SaveRequest,
) -> Result<String, StoreError> {
    let existing = tx.vault_card_for(&op.merchant_id, &op.account_id, fingerprint)?;
    let id = existing
        .as_ref()
        .map(|c| c.id.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
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
