//! 3-D Secure (`docs/protocol.md`, "3-D Secure"): a sender card enrolled in it is not charged at
//! once; its cardholder must first pass the issuer's challenge on the sandbox ACS page.
//!
//! **When.** A sender named by card number (`TYPEPAN`) whose network card is enrolled
//! (`NetworkCard::secure3d`); a saved card (`TYPECARDID`) was authenticated when it was saved.
//! [`required`] runs after every token, merchant, terminal, invoice, card, limit and scenario
//! check of `rules::decide`, and before the funds check, which runs when the challenge is
//! passed: a challenge never hides a decline the issuer would give anyway.
//!
//! **Pending.** The operation is recorded as pending ([`record`]) on the mechanism of the
//! sandbox's non-final outcomes (`super::scenario`): it moves nothing, sends no callback, holds
//! its place under the limits, and its [`PendingResolution`] is due when the challenge expires,
//! failing it with [`FAILED`] if nobody answered. Beside it a [`Challenge`] row keeps the
//! random `paReq`, the wrong codes entered and the result.
//!
//! **Answers.** [`answer`] checks a code on the ACS page: the right one passes, a wrong one is
//! counted, the [`ATTEMPTS`]-th wrong one fails it with [`TOO_MANY_WRONG`], a cancel or an
//! answer after the expiry with [`FAILED`]. A decided challenge stays decided. [`confirm`]
//! finishes the operation with that result through the resolver's own path
//! (`scenario::settle`: a charge if the sender's card covers amount and fee then, else 484),
//! after taking the operation's resolution row out of the resolver's reach in the same
//! transaction: of a confirm and a resolver, only the first to commit acts.

use super::ids::Ids;
use super::outcome::Draft;
use super::rules::{Charge, Checked, Stop};
use super::scenario::{settle, Resolution};
use super::{SideInput, TransferCommand};
use crate::money::Currency;
use crate::outcomes::{PendingPlan, PendingResolution};
use crate::records::{Challenge, OperationRecord, StoredResponse};
use crate::tx::{StoreError, Tx};
use crate::vault::ct_eq;
use aqsha_wire::codes::{reason, ReasonCode};
use aqsha_wire::transfer::Secure3d;
use chrono::{DateTime, Utc};

/// The sandbox issuer's one-time code: documented (`docs/sandbox.md`), the same for every
/// enrolled card, as test ACS pages have.
pub const SANDBOX_CODE: &str = "123456";
/// Codes a cardholder may enter; the last wrong one fails the challenge.
pub const ATTEMPTS: u32 = 3;
/// Shown on the ACS page for a wrong code (the operation goes on waiting).
pub const WRONG_CODE: ReasonCode = reason::SECURE3D_CODE_WRONG;
/// The operation's failure after [`ATTEMPTS`] wrong codes.
pub const TOO_MANY_WRONG: ReasonCode = reason::TOO_MANY_ATTEMPTS;
/// The operation's failure when the check was cancelled or never answered: ePay's "3-D
/// Secure authentication failed". 1654 ("OTP check failed") would say a code was wrong,
/// which a cancel or a timeout is not.
pub const FAILED: ReasonCode = reason::SECURE3D_FAILED;
/// How long a challenge waits for its answer unless the deployment says otherwise.
pub const DEFAULT_EXPIRY: chrono::Duration = chrono::Duration::minutes(10);
/// The ACS page and the confirmation endpoint, under the server's base URL.
pub const ACS_PATH: &str = "/acs/";
pub const CONFIRM_PATH: &str = "/payments/cards/confirmPayment";

/// A transfer that waits for its challenge: how it resolves, and its currency for the body.
pub(super) struct ChallengeAnswer {
    plan: PendingPlan,
    currency: Currency,
}

/// Stops the transfer for a challenge when the sender's card is enrolled; see the module.
pub(super) fn required(cmd: &TransferCommand, charge: &Charge, draft: &Draft) -> Checked<()> {
    let enrolled = matches!(cmd.sender, SideInput::Pan(_))
        && charge.sender.network.as_ref().is_some_and(|n| n.secure3d);
    if !enrolled {
        return Ok(());
    }
    Err(Stop::Challenge(Box::new(ChallengeAnswer {
        // Unless an answer says otherwise first: the expiry's failure.
        plan: super::scenario::plan(charge, draft, FAILED.code, true)?,
        currency: charge.currency,
    })))
}

/// Records the pending operation, its resolution at the expiry and its challenge, in the
/// transfer's commit.
pub(super) fn record<I: Ids + ?Sized>(
    draft: Draft,
    tx: &mut dyn Tx,
    c: ChallengeAnswer,
    cmd: &TransferCommand,
    ids: &mut I,
) -> Result<(String, StoredResponse), StoreError> {
    let operation_id = draft.op.id.clone();
    let merchant_id = draft.op.merchant_id.clone();
    let expires_at = cmd.now + cmd.rules.secure3d_expiry;
    let pa_req = ids.secret();
    let base = cmd.order.base_url.as_deref().unwrap_or("");
    let base = base.trim_end_matches('/');
    let secure3d = Secure3d {
        action: format!("{base}{ACS_PATH}"),
        pa_req: pa_req.clone(),
        md: operation_id.clone(),
        term_url: format!("{base}{CONFIRM_PATH}"),
    };
    let recorded = draft.record_challenge(tx, c.currency, secure3d, ids)?;
    super::limits::count(tx, c.plan.counts.clone())?;
    tx.insert_pending_resolution(&PendingResolution {
        operation_id: operation_id.clone(),
        merchant_id: merchant_id.clone(),
        due_at: expires_at,
        plan: c.plan,
    })?;
    let link = |l: &Option<String>| l.as_deref().unwrap_or("").trim().to_string();
    tx.insert_challenge(&Challenge {
        operation_id,
        merchant_id,
        pa_req,
        wrong_codes: 0,
        result: None,
        expires_at,
        back_link: link(&cmd.order.back_link),
        failure_back_link: link(&cmd.order.failure_back_link),
    })?;
    Ok(recorded)
}

/// What the cardholder did on the ACS page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Code(String),
    Cancel,
}

/// The challenge after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// No challenge for this operation and `paReq`: nothing was counted.
    Unknown,
    /// A wrong code, counted; this many attempts are left.
    Wrong { left: u32 },
    /// Decided, now or before: 0 passed, else the reason code the operation fails with.
    Decided(u32),
}

/// Checks an answer to an operation's challenge and records its effect; see the module.
pub fn answer(
    tx: &mut dyn Tx,
    operation_id: &str,
    pa_req: &str,
    input: &Input,
    now: DateTime<Utc>,
) -> Result<Answered, StoreError> {
    let Some(mut c) = tx.challenge(operation_id)? else {
        return Ok(Answered::Unknown);
    };
    if !ct_eq(&c.pa_req, pa_req) {
        return Ok(Answered::Unknown);
    }
    if let Some(result) = c.result {
        return Ok(Answered::Decided(result));
    }
    let result = match input {
        _ if now >= c.expires_at => FAILED.code,
        Input::Cancel => FAILED.code,
        Input::Code(code) if ct_eq(code.trim(), SANDBOX_CODE) => reason::SUCCESS.code,
        Input::Code(_) => {
            c.wrong_codes += 1;
            if c.wrong_codes < ATTEMPTS {
                tx.update_challenge(&c)?;
                return Ok(Answered::Wrong {
                    left: ATTEMPTS - c.wrong_codes,
                });
            }
            TOO_MANY_WRONG.code
        }
    };
    c.result = Some(result);
    tx.update_challenge(&c)?;
    Ok(Answered::Decided(result))
}

/// A challenge's operation after [`confirm`].
#[derive(Debug, Clone)]
pub struct Confirmed {
    /// The operation as it stands now: finished by this confirm, or before it.
    pub operation: OperationRecord,
    pub challenge: Challenge,
    /// What this confirm did: [`Resolution::Skipped`] when the operation was finished before
    /// (a replayed confirm, or the resolver after the expiry).
    pub resolution: Resolution,
}

/// Finishes an operation with its challenge's `result`. `None` when the operation has no
/// challenge or its challenge did not end with `result`: the caller refuses, and nothing is
/// changed.
pub fn confirm<I: Ids + ?Sized>(
    tx: &mut dyn Tx,
    operation_id: &str,
    result: u32,
    ids: &mut I,
) -> Result<Option<Confirmed>, StoreError> {
    let Some(challenge) = tx.challenge(operation_id)? else {
        return Ok(None);
    };
    if challenge.result != Some(result) {
        return Ok(None);
    }
    let resolution = match tx.take_resolution(operation_id)? {
        Some(mut pending) => {
            pending.plan.resolve_to = result;
            settle(tx, &pending, ids)?
        }
        None => Resolution::Skipped,
    };
    let operation = tx.operation(operation_id)?.ok_or_else(|| {
        StoreError::Invariant(format!("challenged operation {operation_id} is missing"))
    })?;
    Ok(Some(Confirmed {
        operation,
        challenge,
        resolution,
    }))
}

/// The failure's detail in the operation's message, by its code.
pub(super) fn failure_detail(code: ReasonCode) -> &'static str {
    if code == TOO_MANY_WRONG {
        "the cardholder entered a wrong 3-D Secure code three times"
    } else {
        "the cardholder did not pass the 3-D Secure challenge (cancelled, or not answered in time)"
    }
}
