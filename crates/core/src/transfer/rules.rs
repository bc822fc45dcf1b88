//! The checks of a transfer, one function each, run by [`decide`] in the order the module
//! documentation lists. Each returns the [`Stop`] that ends the transfer when it fails.

use super::limits;
use super::outcome::Draft;
use super::sides::{resolve, Resolved, Role};
use super::{OrderInput, SideInput, TransferCommand};
use crate::money::{Currency, Money};
use crate::records::{NetworkCard, StoredResponse, TerminalRecord};
use crate::token::{CustomerBinding, TokenClaims};
use crate::tx::{StoreError, Tx};
use crate::vault::ct_eq;
use aqsha_wire::codes::{reason, ReasonCode};

/// A decline: the reason code and a message saying what was wrong.
pub(super) struct Decline {
    pub code: ReasonCode,
    pub detail: String,
}

/// Why the decision stopped before a charge.
pub(super) enum Stop {
    Decline(Decline),
    /// A non-final answer (a sandbox outcome): recorded as pending, resolved later.
    Pending(Box<super::scenario::PendingAnswer>),
    /// The sender's card is enrolled in 3-D Secure: recorded as pending until its challenge
    /// is answered or expires.
    Challenge(Box<super::secure3d::ChallengeAnswer>),
    /// The invoice was charged before by this same request: answer as then.
    Replay {
        operation_id: String,
        response: StoredResponse,
    },
    Store(StoreError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Stop {
        Stop::Store(e)
    }
}

pub(super) type Checked<T> = Result<T, Stop>;

pub(super) fn decline(code: ReasonCode, detail: impl Into<String>) -> Stop {
    Stop::Decline(Decline {
        code,
        detail: detail.into(),
    })
}

/// What a successful decision carries to the commit.
pub(super) struct Charge {
    pub amount: Money,
    pub fee: Money,
    pub currency: Currency,
    pub terminal: TerminalRecord,
    pub sender: Resolved,
    pub receiver: Resolved,
    /// What the charge adds to the limit counters.
    pub counts: limits::Counts,
}

/// Runs every check in order; the draft learns what each finds, so a decline records as much
/// as is known.
pub(super) fn decide(tx: &mut dyn Tx, cmd: &TransferCommand, draft: &mut Draft) -> Checked<Charge> {
    let (o, token) = (&cmd.order, &cmd.token);
    let amount = amount(o)?;
    draft.op.amount = amount;
    let currency = currency(o)?;
    token_binding(token, o, amount, currency)?;
    let terminal = terminal(tx, cmd)?;
    draft.op.terminal_id = terminal.id.clone();
    terminal_currency(&terminal, currency)?;
    invoice_not_charged(tx, cmd)?;
    invoice_tail_free(tx, cmd, &terminal)?;
    let terminal_limits = tx.terminal_limits(&terminal.id)?;
    limits::per_transfer(&terminal, &terminal_limits, amount)?;
    saved_sender_has_its_customer(cmd)?;
    // What the request shows of the sender is recorded first, so that a decline by the
    // sender's issuer (wrong CVC, blocked card) still shows which card it was.
    draft.op.sender = super::sides::presented(&cmd.sender);
    let sender = resolve(tx, cmd, Role::Sender)?;
    draft.op.sender = sender.record.clone();
    draft.op.receiver = super::sides::presented(&cmd.receiver);
    let receiver = resolve(tx, cmd, Role::Receiver)?;
    draft.op.receiver = receiver.record.clone();
    different_cards(&sender, &receiver)?;
    // An OCT's payer is the merchant's settlement account; anything else pays by card.
    let payer_card = match &sender.settlement {
        Some(_) => None,
        None => Some(sender_known(&sender)?),
    };
    card_currency(payer_card, &receiver, currency)?;
    let fee = fee(&terminal, amount)?;
    draft.op.fee = fee;
    let sides = (&sender, &receiver);
    let counts = limits::counters(tx, cmd, &terminal, &terminal_limits, sides, amount)?;
    let charge = Charge {
        amount,
        fee,
        currency,
        terminal,
        sender,
        receiver,
        counts,
    };
    super::scenario::answer(cmd, &charge, draft)?;
    super::secure3d::required(cmd, &charge, draft)?;
    funds(tx, &charge.sender, amount, fee)?;
    Ok(charge)
}

/// The order's amount and currency, checked against its token as [`decide`] checks them: what
/// the hosted form asks before it shows a card form. Err: the reason code and its detail.
pub fn order_fits_token(
    token: &TokenClaims,
    o: &OrderInput,
) -> Result<(Money, Currency), (ReasonCode, String)> {
    let checked = || -> Checked<(Money, Currency)> {
        let (amount, currency) = (amount(o)?, currency(o)?);
        token_binding(token, o, amount, currency)?;
        Ok((amount, currency))
    };
    checked().map_err(|stop| match stop {
        Stop::Decline(d) => (d.code, d.detail),
        _ => (reason::INVALID_TRANSACTION, String::new()),
    })
}

/// 470: a positive amount in the currency's minor units.
fn amount(o: &OrderInput) -> Checked<Money> {
    Money::parse_positive(&o.amount).map_err(|e| decline(reason::INVALID_AMOUNT, e.to_string()))
}

/// 469: a currency Aqsha supports.
fn currency(o: &OrderInput) -> Checked<Currency> {
    Currency::parse(&o.currency).ok_or_else(|| {
        decline(
            reason::INVALID_TRANSACTION,
            format!("currency {:?} is not supported (KZT, USD)", o.currency),
        )
    })
}

/// 469: the order matches what the token was issued for (docs/protocol.md#tokens). The callback links
/// the merchant put in the token cannot be redirected by the order, which may have passed
/// through a customer's browser.
fn token_binding(
    token: &TokenClaims,
    o: &OrderInput,
    amount: Money,
    currency: Currency,
) -> Checked<()> {
    let mismatch = |what: &str| Err(decline(reason::INVALID_TRANSACTION, what.to_string()));
    if token
        .invoice_id
        .as_ref()
        .is_some_and(|i| i != &o.invoice_id)
    {
        return mismatch("order.id does not match the token's invoiceID");
    }
    if token.amount.is_some_and(|a| a != amount) {
        return mismatch("order.amount does not match the token's amount");
    }
    if token.currency.is_some_and(|c| c != currency) {
        return mismatch("order.currency does not match the token's currency");
    }
    if let Some(a) = &token.account_id {
        if o.account_id.as_deref() != Some(a.as_str()) {
            return mismatch("order.accountID does not match the token's accountId");
        }
    }
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
                return Err(decline(
                    reason::INVALID_TRANSACTION,
                    format!("order.{name} differs from the {name} the token was issued with"),
                ));
            }
        }
    }
    Ok(())
}

/// 469 or 464: the terminal the order names (it may not differ from the token's), which must
/// be one of the token merchant's.
fn terminal(tx: &mut dyn Tx, cmd: &TransferCommand) -> Checked<TerminalRecord> {
    let (o, token) = (&cmd.order, &cmd.token);
    if let (Some(t), Some(bound)) = (&o.terminal_id, &token.terminal_id) {
        if t != bound {
            return Err(decline(
                reason::INVALID_TRANSACTION,
                "order.terminalId does not match the token's terminal",
            ));
        }
    }
    let Some(terminal_id) = cmd.named_terminal() else {
        return Err(decline(
            reason::INVALID_MERCHANT,
            "no terminal: give order.terminalId or bind the token to a terminal",
        ));
    };
    let terminal = match tx.terminal(terminal_id)? {
        Some(t) if t.merchant_id == token.merchant_id => t,
        _ => {
            return Err(decline(
                reason::INVALID_MERCHANT,
                "terminal is not one of this merchant's terminals",
            ))
        }
    };
    Ok(terminal)
}

/// 469: the terminal takes the order's currency.
fn terminal_currency(terminal: &TerminalRecord, currency: Currency) -> Checked<()> {
    if terminal.currency != currency {
        return Err(decline(
            reason::INVALID_TRANSACTION,
            format!("terminal accepts {} only", terminal.currency.code()),
        ));
    }
    Ok(())
}

/// Replay or 469: an invoice is charged once, and not again while a transfer of it is pending.
/// The same request again gets its first answer (the pending one while it is pending).
fn invoice_not_charged(tx: &mut dyn Tx, cmd: &TransferCommand) -> Checked<()> {
    let Some((operation_id, digest, response)) =
        tx.charged_operation(&cmd.token.merchant_id, &cmd.order.invoice_id)?
    else {
        return Ok(());
    };
    if ct_eq(&digest, &cmd.request_digest) {
        return Err(Stop::Replay {
            operation_id,
            response,
        });
    }
    // Only a charge is answered 200; the other operation that holds an invoice is a pending
    // one (`scenario`).
    if response.http_status != 200 {
        return Err(decline(
            reason::INVALID_TRANSACTION,
            "a transfer of this invoice is pending; query its status",
        ));
    }
    Err(decline(
        reason::INVALID_TRANSACTION,
        "this invoice has already been paid; use a new invoiceID",
    ))
}

/// 469: no other invoice with the same last six digits was charged on this terminal today (or
/// is pending, and may yet be).
fn invoice_tail_free(
    tx: &mut dyn Tx,
    cmd: &TransferCommand,
    terminal: &TerminalRecord,
) -> Checked<()> {
    let invoice = &cmd.order.invoice_id;
    let Some((_, day, tail)) = crate::invoice::tail_key(&terminal.id, invoice, cmd.now) else {
        return Ok(());
    };
    if tx.invoice_tail_taken(&terminal.id, &day, &tail, invoice)? {
        return Err(decline(
            reason::INVALID_TRANSACTION,
            "another invoice with the same last 6 digits was paid on this terminal today",
        ));
    }
    Ok(())
}

/// 487: under strict binding, paying from a saved card needs a token issued for the order's
/// customer.
fn saved_sender_has_its_customer(cmd: &TransferCommand) -> Checked<()> {
    let account = cmd.order.account_id.as_deref().unwrap_or("");
    if matches!(cmd.sender, SideInput::CardId { .. })
        && cmd.rules.binding == CustomerBinding::Strict
        && cmd.token.account_id.as_deref() != Some(account)
    {
        return Err(decline(
            reason::NOT_PERMITTED_TO_MERCHANT,
            "paying from a saved card needs a token issued for its customer \
             (accountId in the token request)",
        ));
    }
    Ok(())
}

/// 469: money does not go from a card to itself.
fn different_cards(sender: &Resolved, receiver: &Resolved) -> Checked<()> {
    if sender.fingerprint == receiver.fingerprint {
        return Err(decline(
            reason::INVALID_TRANSACTION,
            "sender and receiver are the same card",
        ));
    }
    Ok(())
}

/// 471: the sender's card is the sandbox network's (a saved card may be another issuer's).
fn sender_known(sender: &Resolved) -> Checked<&NetworkCard> {
    sender.network.as_ref().ok_or_else(|| {
        decline(
            reason::NO_SUCH_CARD,
            "sender card is not known to the network",
        )
    })
}

/// 456: the network's cards on both sides hold the order's currency (an OCT has no sender
/// card).
fn card_currency(
    sender: Option<&NetworkCard>,
    receiver: &Resolved,
    currency: Currency,
) -> Checked<()> {
    if sender.is_some_and(|s| s.currency != currency)
        || receiver
            .network
            .as_ref()
            .is_some_and(|r| r.currency != currency)
    {
        return Err(decline(
            reason::CANNOT_PAY_WITH_CARD,
            format!("card account is not in {}", currency.code()),
        ));
    }
    Ok(())
}

/// 470: the terminal's fee, when it fits in money (amount and fee together: [`funds`]).
fn fee(terminal: &TerminalRecord, amount: Money) -> Checked<Money> {
    terminal
        .fee
        .fee_for(amount)
        .ok_or_else(|| decline(reason::INVALID_AMOUNT, "amount is too large"))
}

/// 484: the payer covers amount and fee: the sender's card, or for an OCT the merchant's
/// settlement account.
fn funds(tx: &mut dyn Tx, payer: &Resolved, amount: Money, fee: Money) -> Checked<()> {
    let total = amount
        .checked_add(fee)
        .ok_or_else(|| decline(reason::INVALID_AMOUNT, "amount is too large"))?;
    // The payer was checked to have an account (`sender_known`, or the merchant's side).
    let Some(account) = payer.account() else {
        return Ok(());
    };
    if tx.balance(account)? < total {
        // For an OCT the payer is the merchant: its settlement account was locked before the
        // balance was read (`LockKeys::settlement`), so two payouts cannot spend the same money.
        let detail = match payer.settlement {
            Some(_) => "the merchant's settlement balance does not cover the payout and its fee",
            None => "insufficient funds on the sender card",
        };
        return Err(decline(reason::INSUFFICIENT_FUNDS, detail));
    }
    Ok(())
}

pub(super) fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}
