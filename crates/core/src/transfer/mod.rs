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
//! tail (469) → amount limit (488) → saved sender card needs a customer token (487) → sender
//! card (its wrong-answer block, 492) → receiver card (by phone: no card 471, wrong IIN 2357)
//! → same card (469) → card currency (456) → fee (470) → sender card's transfers today (491)
//! → receiver card's credits today (528) → terminal's total today (529) → terminal's total
//! overall (2678) → the sandbox's chosen outcome, where one is asked for (`scenario`; any code
//! of the table) → 3-D Secure, for a sender card enrolled in it (`secure3d`: the operation
//! waits, pending, for the challenge; funds are checked when it is passed) → funds (484; an OCT's from the merchant's settlement account).
//!
//! The amount limit comes after the invoice checks, so that a charged invoice's request sent
//! again is answered as before even if the limit was lowered since. The counted limits come
//! once both cards are known and valid (a card that does not exist or answers wrongly is
//! declined for that, not for a limit) and before funds: a limit is the terminal's and the
//! issuer's rule, whatever the balance. The merchant's own side of an AFT or OCT counts under
//! the terminal's limits only.
//!
//! The module is split by role: this file holds the command and [`execute`]; `rules` the checks
//! in that order, one function each; `limits` the limit checks and counting; `sides` how each
//! side's card is found and what its issuer says; `merchant` the merchant's own side of an AFT
//! or OCT; `phone` a receiver named by phone number; `outcome` what a charge or a decline
//! writes; `scenario` the sandbox's outcomes on demand, and the later resolution of a pending
//! (non-final) answer. Everything `execute` would otherwise make
//! up itself (ids, references, codes) comes from [`Ids`] or the [`Tx`], and the time from
//! [`TransferCommand::now`], so a test can fix every one of them.

mod ids;
mod limits;
mod merchant;
mod outcome;
mod phone;
mod rules;
pub mod scenario;
pub mod secure3d;
mod sides;

#[cfg(test)]
mod memory;
#[cfg(test)]
mod tests;

pub use crate::invoice::{day_of, invoice_tail, valid_invoice, TailKey};
pub use ids::{Ids, RandomIds};
pub use merchant::settlement_account;
pub use phone::PhoneSide;
pub use rules::order_fits_token;

use crate::card::{Brand, Expiry};
use crate::money::Currency;
use crate::records::{OperationKind, StoredResponse};
use crate::token::{CustomerBinding, TokenClaims};
use crate::tx::{StoreError, Tx};
use crate::vault::{ct_eq, SealedPan};
use chrono::{DateTime, Utc};
use outcome::Draft;
use rules::Stop;

/// A transfer request after the server has parsed it and the vault has turned card numbers into
/// fingerprints, masks and sealed blobs. No plain card number or CVC is in here.
#[derive(Debug, Clone)]
pub struct TransferCommand {
    /// The bearer token's claims; the handler refuses a token that does not open.
    pub token: TokenClaims,
    /// Keyed digest of the canonical request body, to recognise a retry.
    pub request_digest: String,
    /// The transfer's clock: expiry, blocks, the invoice-tail day and the operation's time are
    /// all read from this one instant.
    pub now: DateTime<Utc>,
    pub order: OrderInput,
    pub sender: SideInput,
    pub receiver: SideInput,
    /// The deployment's rules for this transfer.
    pub rules: TransferRules,
    /// The hosted form's attempt number (1 to [`PAGE_ATTEMPTS`]); `None` for the API. See
    /// [`TransferCommand::spend_key`].
    pub attempt: Option<u8>,
}

/// How many attempts the hosted form gives a payer on one token (ePay: 3 attempts or 20
/// minutes per invoice; the token's life is the time limit here).
pub const PAGE_ATTEMPTS: u8 = 3;

/// The key under which the hosted form's attempt `n` spends token `token_id`: each attempt
/// spends its own, so a declined attempt leaves the next one free, while the same attempt sent
/// twice (a double click, a refresh, the back button, a second tab) replays its answer.
pub fn page_attempt_key(token_id: &str, n: u8) -> String {
    format!("{token_id}#page-attempt-{n}")
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
    /// Whether scenario cards and magic amounts decide the issuer's answer
    /// (`docs/sandbox.md`): on where the sandbox API is, never in production.
    pub sandbox_outcomes: bool,
    /// How long a 3-D Secure challenge waits for its answer (`secure3d`).
    pub secure3d_expiry: chrono::Duration,
}

impl Default for TransferRules {
    fn default() -> Self {
        TransferRules {
            binding: CustomerBinding::Strict,
            wrong_answer_limit: 3,
            block_for: chrono::Duration::minutes(30),
            sandbox_outcomes: false,
            secure3d_expiry: secure3d::DEFAULT_EXPIRY,
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
    /// The order's language as given; `rus` when absent (`language_of`).
    pub language: Option<String>,
    /// Where the browser goes after a 3-D Secure challenge (`secure3d`): the order's
    /// `backLink` and `failureBackLink`.
    pub back_link: Option<String>,
    pub failure_back_link: Option<String>,
    /// The URL (scheme and host) the request came in on: a 3-D Secure challenge's links are
    /// made on it, so that the browser that follows them reaches this server.
    pub base_url: Option<String>,
}

#[derive(Debug, Clone)]
pub enum SideInput {
    Pan(PanSide),
    CardId {
        id: String,
        save: bool,
    },
    /// The merchant's own settlement account: the receiver of an AFT, the sender of an OCT
    /// (`merchant` module). The body carries no card for this side.
    Merchant,
    /// A receiver named by phone number and IIN (`TYPEPHONE`, `phone` module).
    Phone(PhoneSide),
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
        /// What was recorded: a charge, a decline, a pending operation or a challenge.
        kind: Recorded,
        /// How long the server holds the answer back (a scenario card's `delay_ms`): outside
        /// the store, so that no writer or lock waits for it.
        delay_ms: u32,
    },
    /// The same request was answered before: its stored response, nothing moved.
    Replay(StoredResponse),
    /// Refused before anything was recorded; the token is not spent.
    Refused(Refusal),
}

/// What a recorded transfer was: a charge, a decline with its reason code, a pending
/// operation answered with its non-final code, or a 3-D Secure challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Charged,
    Declined(u32),
    Pending(u32),
    Challenged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// An expired or already-spent token, or one without transfer scope: HTTP 401.
    Token(String),
    /// The request is malformed in a way the domain sees (format error 477): HTTP 400.
    Input(String),
    /// The hosted form's attempts on this token are used up (2740, too many failed attempts).
    Attempts,
}

/// What a transfer will lock and read, named before it runs, so that a store can lock a whole
/// batch's card accounts at once and read what its commands need in bulk. Derived here, from
/// the same rules [`execute`] applies, so a store never re-derives them. A key left out costs
/// a store only speed: the command reads it itself.
#[derive(Debug, Default, Clone)]
pub struct LockKeys {
    /// Keyed fingerprints of card numbers given in full.
    pub fingerprints: Vec<String>,
    /// Saved-card ids.
    pub saved_cards: Vec<String>,
    /// The id of the token the command spends.
    pub token: Option<String>,
    /// (merchant, invoice) whose charge the command looks for.
    pub invoice: Option<(String, String)>,
    /// The invoice-tail rule's key, when the invoice has a tail and a terminal is named.
    pub tail: Option<TailKey>,
    /// (merchant, sender card fingerprint) whose wrong CVC/expiry answers are counted.
    pub guesses: Option<(String, String)>,
    /// The merchant settlement account an OCT pays from: its balance decides the payout, so
    /// a store serialises the commands that spend it (read after this lock, never before).
    pub settlement: Option<String>,
    /// The terminal whose limits are checked (`crate::limits`).
    pub limits: Option<String>,
    /// Limit counters the command reads and, when it charges, adds to.
    pub counters: Vec<String>,
}

impl TransferCommand {
    /// The keys this command will lock and read; see [`LockKeys`].
    pub fn lock_keys(&self) -> LockKeys {
        let mut keys = LockKeys::default();
        let merchant = &self.token.merchant_id;
        for side in [&self.sender, &self.receiver] {
            match side {
                SideInput::Pan(p) => keys.fingerprints.push(p.fingerprint.clone()),
                SideInput::CardId { id, .. } => keys.saved_cards.push(id.clone()),
                // The phone's card is found inside the transaction; the store locks its
                // account when it posts to it.
                SideInput::Merchant | SideInput::Phone(_) => {}
            }
        }
        keys.settlement = merchant::payer_lock(self);
        if let SideInput::Pan(p) = &self.sender {
            // The sender's answers are checked, so its wrong-answer count is read ahead.
            keys.guesses = Some((merchant.clone(), p.fingerprint.clone()));
        }
        keys.token = Some(self.spend_key());
        keys.invoice = Some((merchant.clone(), self.order.invoice_id.clone()));
        keys.tail = self.named_terminal().and_then(|terminal| {
            crate::invoice::tail_key(terminal, &self.order.invoice_id, self.now)
        });
        keys.limits = self.named_terminal().cloned();
        keys.counters = limits::keys_ahead(self, self.named_terminal());
        keys
    }

    /// What this command spends: the token itself for an API request (one operation per
    /// token, as ePay), or the hosted form's attempt ([`page_attempt_key`]).
    pub fn spend_key(&self) -> String {
        match self.attempt {
            None => self.token.id.clone(),
            Some(n) => page_attempt_key(&self.token.id, n),
        }
    }

    /// P2P, AFT or OCT, from which side is the merchant's own account.
    pub fn kind(&self) -> OperationKind {
        match (&self.sender, &self.receiver) {
            (SideInput::Merchant, _) => OperationKind::Oct,
            (_, SideInput::Merchant) => OperationKind::Aft,
            _ => OperationKind::P2p,
        }
    }

    /// The terminal the request names: the order's, else the token's. Whether it may be used
    /// is checked by the rules (`rules::terminal`).
    fn named_terminal(&self) -> Option<&String> {
        self.order
            .terminal_id
            .as_ref()
            .or(self.token.terminal_id.as_ref())
    }
}

/// The settlement account through which money leaves for another issuer's cards.
pub fn external_account(currency: Currency) -> String {
    format!("external:{}", currency.code())
}

/// Runs a transfer with fresh random ids; see [`execute_with`].
pub fn execute(tx: &mut dyn Tx, cmd: &TransferCommand) -> Result<TransferOutcome, StoreError> {
    execute_with(tx, cmd, &mut RandomIds)
}

/// Runs a transfer inside `tx`, taking every id it makes up from `ids`.
pub fn execute_with<I: Ids + ?Sized>(
    tx: &mut dyn Tx,
    cmd: &TransferCommand,
    ids: &mut I,
) -> Result<TransferOutcome, StoreError> {
    if let Some(early) = check_token(tx, cmd)? {
        return Ok(early);
    }
    if let Err(why) = check_input(cmd) {
        return Ok(TransferOutcome::Refused(Refusal::Input(why.into())));
    }
    let token_id = &cmd.spend_key();
    let mut draft = Draft::new(ids.operation_id(), cmd);
    let decision = rules::decide(tx, cmd, &mut draft);
    let delay_ms = draft.delay_ms;
    match decision {
        Ok(mut charge) => {
            let counts = std::mem::take(&mut charge.counts);
            let recorded = draft.commit_charge(tx, charge, ids)?;
            limits::count(tx, counts)?;
            done(tx, token_id, recorded, Recorded::Charged, delay_ms)
        }
        Err(Stop::Replay {
            operation_id,
            response,
        }) => {
            // The invoice was already charged by an identical request under another token:
            // answer as before, and this token is spent on that operation.
            tx.spend_token(token_id, &operation_id)?;
            Ok(TransferOutcome::Replay(response))
        }
        Err(Stop::Decline(d)) => {
            let kind = Recorded::Declined(d.code.code);
            let recorded = draft.record_decline(tx, d, ids)?;
            done(tx, token_id, recorded, kind, delay_ms)
        }
        Err(Stop::Pending(p)) => {
            let kind = Recorded::Pending(p.decline.code.code);
            let recorded = scenario::record_pending(draft, tx, *p, cmd.now, ids)?;
            done(tx, token_id, recorded, kind, delay_ms)
        }
        Err(Stop::Challenge(c)) => {
            let recorded = secure3d::record(draft, tx, *c, cmd, ids)?;
            done(tx, token_id, recorded, Recorded::Challenged, delay_ms)
        }
        Err(Stop::Store(e)) => Err(e),
    }
}

/// Spends the token on the operation just recorded, and says so.
fn done(
    tx: &mut dyn Tx,
    token_id: &str,
    (operation_id, response): (String, StoredResponse),
    kind: Recorded,
    delay_ms: u32,
) -> Result<TransferOutcome, StoreError> {
    tx.spend_token(token_id, &operation_id)?;
    Ok(TransferOutcome::Done {
        response,
        operation_id,
        kind,
        delay_ms,
    })
}

/// The token's own rules, before anything is recorded: a spent token replays its answer to the
/// same request and is refused to any other; an expired one, or one without transfer scope, is
/// refused. A hosted-form attempt ([`TransferCommand::attempt`]) replays its own answer
/// whatever was typed the second time (the page sent it twice), and is refused with 2740 past
/// [`PAGE_ATTEMPTS`] or when the API has spent the token itself.
fn check_token(
    tx: &mut dyn Tx,
    cmd: &TransferCommand,
) -> Result<Option<TransferOutcome>, StoreError> {
    let token = &cmd.token;
    if let Some(n) = cmd.attempt {
        if !(1..=PAGE_ATTEMPTS).contains(&n) {
            return Ok(Some(TransferOutcome::Refused(Refusal::Attempts)));
        }
        if let Some(spent_by) = tx.token_spent_by(&cmd.spend_key())? {
            if let Some((_, stored)) = tx.operation_response(&spent_by)? {
                return Ok(Some(TransferOutcome::Replay(stored)));
            }
        }
    }
    if let Some(spent_by) = tx.token_spent_by(&token.id)? {
        return Ok(Some(match tx.operation_response(&spent_by)? {
            Some((digest, stored))
                if cmd.attempt.is_none() && ct_eq(&digest, &cmd.request_digest) =>
            {
                TransferOutcome::Replay(stored)
            }
            _ => refuse_token(
                "token already used by another request; request a new token for each operation",
            ),
        }));
    }
    if token.expires_at <= cmd.now {
        return Ok(Some(refuse_token("token expired")));
    }
    if token.login.is_some() {
        return Ok(Some(refuse_token(
            "a password-grant token lists operations only; transfers take a client_credentials token",
        )));
    }
    if !(token.has_scope("transfer") || token.has_scope("payment")) {
        return Ok(Some(refuse_token("token scope does not allow transfers")));
    }
    Ok(None)
}

fn refuse_token(why: &str) -> TransferOutcome {
    TransferOutcome::Refused(Refusal::Token(why.into()))
}

/// Input the domain refuses before recording anything (format error).
fn check_input(cmd: &TransferCommand) -> Result<(), &'static str> {
    let o = &cmd.order;
    if !valid_invoice(&o.invoice_id) {
        return Err("order.id must be 6 to 16 digits");
    }
    let wants_save = matches!(&cmd.sender, SideInput::Pan(p) if p.save)
        || matches!(&cmd.receiver, SideInput::Pan(p) if p.save);
    if wants_save && o.account_id.as_deref().unwrap_or("").is_empty() {
        return Err("order.accountID is required when a card is to be saved (save: true)");
    }
    if language_of(o).is_none() {
        return Err("order.language must be rus, kaz or eng");
    }
    if matches!(cmd.sender, SideInput::Phone(_))
        || matches!(
            (&cmd.sender, &cmd.receiver),
            (SideInput::Merchant, SideInput::Merchant)
        )
    {
        return Err("this operation needs a card side (phone transfers are to a receiver only)");
    }
    Ok(())
}

/// The order's language in ePay's three-letter form: `rus` when absent or empty; the
/// two-letter codes as their three-letter ones; `None` for anything else.
pub fn language_of(o: &OrderInput) -> Option<&'static str> {
    let given = o.language.as_deref().map(str::trim).unwrap_or("");
    match given.to_ascii_lowercase().as_str() {
        "" | "rus" | "ru" => Some("rus"),
        "kaz" | "kz" | "kk" => Some("kaz"),
        "eng" | "en" => Some("eng"),
        _ => None,
    }
}
