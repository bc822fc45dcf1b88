//! Outcomes on demand (`docs/sandbox.md`, "Outcome table"): the answer a scenario card or a
//! magic amount asks for ([`crate::outcomes`]), the pending operation a non-final answer
//! leaves, and its resolution later ([`resolve`]).
//!
//! **Which card decides.** The sender's card, when it has a scenario: its issuer authorizes the
//! debit. Otherwise the receiver's, when it has one: a receiving issuer may refuse a credit
//! too, and a payout has only a receiver. With no scenario card on either side, a magic amount
//! decides; else the issuer answers naturally.
//!
//! **Where.** [`answer`] runs after every token, merchant, terminal, invoice and card check of
//! `rules::decide` (so a scenario card bypasses none of them, nor its own CVC and expiry), and
//! before the funds check: a scenario's answer is the issuer's, and a pending transfer's funds
//! are checked when it resolves. Only where the deployment enables the sandbox's outcomes
//! ([`super::TransferRules::sandbox_outcomes`]).
//!
//! **Pending.** A non-final code records the operation as [`OperationStatus::Pending`] with
//! the decline's answer (HTTP 400, the non-final code), moves nothing and sends no callback.
//! A [`PendingResolution`] due `resolve_after_ms` later is written in the same commit; the
//! server's resolver claims it when due and [`resolve`] turns the operation into a charge
//! (if the sender's funds cover it then, else 484) or into the chosen failure, with the
//! postings and the callback, in one commit.

use super::ids::Ids;
use super::outcome::{charge_accounts, ledger_postings, Draft};
use super::rules::{decline, Charge, Checked, Decline, Stop};
use super::sides::Resolved;
use super::TransferCommand;
use crate::money::{Currency, Money};
use crate::outcomes::{magic_amount, DueResolution, PendingPlan, PendingResolution, Scenario};
use crate::records::{OperationStatus, StoredResponse};
use crate::tx::{StoreError, Tx};
use aqsha_wire::codes::{self, reason, ReasonCode};

/// A non-final answer: the code, its message's detail, and how it resolves.
pub(super) struct PendingAnswer {
    pub decline: Decline,
    pub plan: PendingPlan,
    pub resolve_after_ms: u32,
}

/// The scenario that decides this transfer, and where it comes from (for the message).
fn deciding(
    sender: &Resolved,
    receiver: &Resolved,
    amount: Money,
) -> Option<(Scenario, &'static str)> {
    let card = |side: &Resolved| side.network.as_ref().map(|n| n.scenario);
    if let Some(s) = card(sender).filter(Scenario::is_set) {
        return Some((s, "sandbox outcome of the sender card"));
    }
    if let Some(s) = card(receiver).filter(Scenario::is_set) {
        return Some((s, "sandbox outcome of the receiver card"));
    }
    magic_amount(amount).map(|s| (s, "sandbox magic amount"))
}

/// The issuer's answer when a scenario decides it: `Ok` to go on (no scenario, an approval,
/// or the natural answer late), a decline for a final code, [`Stop::Pending`] for a
/// non-final one. The delay, if any, is left on the draft for the server.
pub(super) fn answer(cmd: &TransferCommand, charge: &Charge, draft: &mut Draft) -> Checked<()> {
    if !cmd.rules.sandbox_outcomes {
        return Ok(());
    }
    let Some((scenario, source)) = deciding(&charge.sender, &charge.receiver, charge.amount) else {
        return Ok(());
    };
    draft.delay_ms = scenario.delay_ms;
    let Some(code) = scenario.outcome.and_then(codes::lookup) else {
        return Ok(());
    };
    if code == reason::SUCCESS {
        return Ok(());
    }
    let detail = format!("the issuer's answer ({source})");
    if code.is_final {
        return Err(decline(code, detail));
    }
    Err(Stop::Pending(Box::new(PendingAnswer {
        decline: Decline {
            code,
            detail: format!("{detail}; query the status, it resolves later"),
        },
        plan: plan(charge, draft, scenario.resolve_to, false)?,
        resolve_after_ms: scenario.resolve_after_ms,
    })))
}

/// How a transfer that waits resolves: into `resolve_to` (0 for a charge) unless told
/// otherwise, posting to the accounts its charge would have posted to then.
pub(super) fn plan(
    charge: &Charge,
    draft: &Draft,
    resolve_to: u32,
    secure3d: bool,
) -> Result<PendingPlan, StoreError> {
    let (token_links, payer_name) = draft.callback_inputs();
    let [sender_account, receiver_account, fee_account] = charge_accounts(charge)?;
    Ok(PendingPlan {
        resolve_to,
        sender_account,
        receiver_account,
        fee_account,
        payer_name,
        token_links,
        counts: charge.counts.clone(),
        secure3d,
    })
}

/// Records a pending operation and its resolution, in the transfer's commit.
pub(super) fn record_pending<I: Ids + ?Sized>(
    draft: Draft,
    tx: &mut dyn Tx,
    p: PendingAnswer,
    now: chrono::DateTime<chrono::Utc>,
    ids: &mut I,
) -> Result<(String, StoredResponse), StoreError> {
    let merchant_id = draft.op.merchant_id.clone();
    let (operation_id, response) =
        draft.record_unpaid(tx, p.decline, OperationStatus::Pending, ids)?;
    super::limits::count(tx, p.plan.counts.clone())?;
    tx.insert_pending_resolution(&PendingResolution {
        operation_id: operation_id.clone(),
        merchant_id,
        due_at: now + chrono::Duration::milliseconds(i64::from(p.resolve_after_ms)),
        plan: p.plan,
    })?;
    Ok((operation_id, response))
}

/// How a pending operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Charged,
    Failed(u32),
    /// Nothing was done: another resolver holds the claim, or the operation is no longer
    /// pending.
    Skipped,
}

/// Resolves a claimed pending operation inside `tx`: a charge (when the sender's card covers
/// amount and fee now; 484 otherwise) or the planned failure, with its postings and callback.
/// Runs once per operation: the claim is deleted in the same commit, and a claim another
/// resolver took over is left to it.
pub fn resolve<I: Ids + ?Sized>(
    tx: &mut dyn Tx,
    due: &DueResolution,
    ids: &mut I,
) -> Result<Resolution, StoreError> {
    if !tx.release_resolution(due)? {
        return Ok(Resolution::Skipped);
    }
    settle(tx, &due.pending, ids)
}

/// Carries out a resolution its caller has already taken out of `pending_resolutions` (in
/// this transaction): [`resolve`] after its claim, or a 3-D Secure answer (`super::secure3d`)
/// with the plan it decided.
pub(super) fn settle<I: Ids + ?Sized>(
    tx: &mut dyn Tx,
    pending: &PendingResolution,
    ids: &mut I,
) -> Result<Resolution, StoreError> {
    let id = &pending.operation_id;
    let op = tx
        .operation(id)?
        .ok_or_else(|| StoreError::Invariant(format!("pending operation {id} is missing")))?;
    if op.status != OperationStatus::Pending {
        return Ok(Resolution::Skipped);
    }
    // Takes the invoice's lock: a transfer of the same invoice on another instance waits for
    // this commit, and then sees the operation resolved.
    tx.charged_operation(&op.merchant_id, &op.invoice_id)?;
    let plan = &pending.plan;
    let mut draft = Draft::resume(op, plan.token_links.clone(), plan.payer_name.clone());
    // A confirm sets `resolve_to` to the challenge's result; 0 only when it was passed.
    draft.secure3d_passed = plan.secure3d && plan.resolve_to == reason::SUCCESS.code;
    let failure = match codes::lookup(plan.resolve_to) {
        Some(code) if code != reason::SUCCESS => Some(planned_failure(code, plan)),
        _ => charge(tx, &mut draft, plan, ids)?,
    };
    match failure {
        None => {
            let currency = Currency::parse(&draft.op.currency).ok_or_else(|| {
                StoreError::Invariant(format!("pending operation {id} has no known currency"))
            })?;
            draft.finish_charge(tx, currency, ids)?;
            Ok(Resolution::Charged)
        }
        Some(d) => {
            let code = d.code.code;
            draft.record_decline(tx, d, ids)?;
            let undo = plan.counts.iter().map(|(k, c)| (k.clone(), c.negated()));
            super::limits::count(tx, undo.collect())?;
            Ok(Resolution::Failed(code))
        }
    }
}

fn planned_failure(code: ReasonCode, plan: &PendingPlan) -> Decline {
    let detail = if plan.secure3d {
        super::secure3d::failure_detail(code)
    } else {
        "the issuer's final answer after a non-final one (sandbox outcome)"
    };
    Decline {
        code,
        detail: detail.into(),
    }
}

/// Posts the charge when the sender's card covers it now; else the 484 it fails with.
fn charge<I: Ids + ?Sized>(
    tx: &mut dyn Tx,
    draft: &mut Draft,
    plan: &PendingPlan,
    ids: &mut I,
) -> Result<Option<Decline>, StoreError> {
    let (amount, fee) = (draft.op.amount, draft.op.fee);
    let total = amount
        .checked_add(fee)
        .ok_or_else(|| StoreError::Invariant("amount overflow".into()))?;
    if tx.balance(&plan.sender_account)? < total {
        return Ok(Some(Decline {
            code: reason::INSUFFICIENT_FUNDS,
            detail: "insufficient funds on the sender card when the transfer resolved".into(),
        }));
    }
    let accounts = [
        plan.sender_account.clone(),
        plan.receiver_account.clone(),
        plan.fee_account.clone(),
    ];
    draft.post_charge(tx, &ledger_postings(accounts, amount, fee)?, ids)?;
    Ok(None)
}
