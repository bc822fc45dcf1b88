//! 3-D Secure (`transfer::secure3d`): an enrolled sender card waits for its challenge, the
//! answers and their counting, and the one way the operation then finishes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::outcomes::DueResolution;
use crate::transfer::scenario::{resolve, Resolution};
use crate::transfer::secure3d::{self, answer, confirm, Answered, Input, SANDBOX_CODE};

/// The world with alice enrolled, and the usual command with back links and a base URL.
fn enrolled() -> (MemoryTx, TransferCommand) {
    let mut w = world();
    w.network.get_mut("alice").unwrap().secure3d = true;
    let mut cmd = command();
    cmd.order.back_link = Some("https://shop.example/ok".into());
    cmd.order.failure_back_link = Some("https://shop.example/fail".into());
    cmd.order.base_url = Some("https://aqsha.example".into());
    cmd.token.post_link = Some("https://shop.example/cb".into());
    cmd.token.failure_post_link = Some("https://shop.example/cb-fail".into());
    (w, cmd)
}

/// Runs the command, which must wait for a challenge: (operation id, paReq).
fn challenged(w: &mut MemoryTx, cmd: &TransferCommand) -> (String, String) {
    let (response, op_id, kind) = recorded_as(w, cmd);
    assert_eq!(kind, Recorded::Challenged);
    assert_eq!(response.http_status, 200);
    let body = json(&response.body);
    assert!(body.get("code").is_none(), "{body}");
    assert_eq!(body["status"], "NEW");
    assert_eq!(
        (&body["reference"], &body["intReference"]),
        (&"".into(), &"".into())
    );
    let s = &body["secure3D"];
    assert_eq!(s["action"], "https://aqsha.example/acs/");
    assert_eq!(
        s["termURL"],
        "https://aqsha.example/payments/cards/confirmPayment"
    );
    assert_eq!(s["md"], op_id.as_str());
    (op_id, s["paReq"].as_str().unwrap().to_string())
}

fn code(w: &mut MemoryTx, op: &str, pa_req: &str, c: &str) -> Answered {
    answer(w, op, pa_req, &Input::Code(c.into()), now()).unwrap()
}

#[test]
fn an_enrolled_sender_waits_pending_and_nothing_moves() {
    let (mut w, cmd) = enrolled();
    let balances = w.balances.clone();
    let (op_id, pa_req) = challenged(&mut w, &cmd);
    let op = w.operations.last().unwrap().clone();
    assert_eq!((op.status, op.reason_code), (OperationStatus::Pending, 0));
    assert!(w.postings.is_empty() && w.callbacks.is_empty());
    assert_eq!(w.balances, balances);
    let r = &w.resolutions[0];
    assert_eq!(r.operation_id, op_id);
    assert_eq!(r.due_at, now() + secure3d::DEFAULT_EXPIRY);
    assert_eq!(r.plan.resolve_to, secure3d::FAILED.code);
    let c = &w.challenges[&op_id];
    assert_eq!(
        (c.pa_req.as_str(), c.wrong_codes, c.result),
        (pa_req.as_str(), 0, None)
    );
    assert_eq!(c.back_link, "https://shop.example/ok");
    // Holds its place under the limits, as a pending transfer does.
    assert!(w.counters.values().any(|c| *c != Default::default()));
    // The token is spent on it, and the same request replays the same answer.
    let again = run(&mut w, &cmd);
    assert_eq!(again, TransferOutcome::Replay(op.response()));
}

#[test]
fn the_right_code_then_confirm_charges_once() {
    let (mut w, cmd) = enrolled();
    let (op_id, pa_req) = challenged(&mut w, &cmd);
    assert_eq!(
        code(&mut w, &op_id, &pa_req, SANDBOX_CODE),
        Answered::Decided(0)
    );
    // A decided challenge stays decided, whatever comes next.
    assert_eq!(
        code(&mut w, &op_id, &pa_req, "000000"),
        Answered::Decided(0)
    );
    let ids = &mut FixedIds(100);
    let done = confirm(&mut w, &op_id, 0, ids).unwrap().unwrap();
    assert_eq!(done.resolution, Resolution::Charged);
    assert_eq!(done.operation.status, OperationStatus::Charge);
    assert!(!done.operation.reference.is_empty());
    assert_eq!(balance(&w, "card:alice"), 100_000 - 10_000 - 9_500);
    assert_eq!(balance(&w, "card:bob"), 10_000);
    assert_eq!(w.callbacks.len(), 1);
    assert_eq!(w.callbacks[0].kind, CallbackKind::Success);
    assert_eq!(json(&w.callbacks[0].body)["secure"], "Yes");
    assert!(w.resolutions.is_empty());
    // Confirmed again: nothing more happens.
    let again = confirm(&mut w, &op_id, 0, ids).unwrap().unwrap();
    assert_eq!(again.resolution, Resolution::Skipped);
    assert_eq!(again.operation.reference, done.operation.reference);
    assert_eq!((w.callbacks.len(), balance(&w, "card:bob")), (1, 10_000));
}

#[test]
fn three_wrong_codes_fail_it_with_505_and_give_back_the_limits() {
    let (mut w, cmd) = enrolled();
    let (op_id, pa_req) = challenged(&mut w, &cmd);
    assert_eq!(
        code(&mut w, &op_id, &pa_req, "1"),
        Answered::Wrong { left: 2 }
    );
    assert_eq!(
        code(&mut w, &op_id, &pa_req, "2"),
        Answered::Wrong { left: 1 }
    );
    assert_eq!(w.challenges[&op_id].wrong_codes, 2);
    assert_eq!(code(&mut w, &op_id, &pa_req, "3"), Answered::Decided(505));
    // The right code after the check failed does not pass it.
    assert_eq!(
        code(&mut w, &op_id, &pa_req, SANDBOX_CODE),
        Answered::Decided(505)
    );
    // A confirm that claims another result than the recorded one is refused.
    assert!(confirm(&mut w, &op_id, 0, &mut FixedIds(100))
        .unwrap()
        .is_none());
    assert_eq!(w.operations[0].status, OperationStatus::Pending);
    let done = confirm(&mut w, &op_id, 505, &mut FixedIds(100))
        .unwrap()
        .unwrap();
    assert_eq!(done.resolution, Resolution::Failed(505));
    assert_eq!(done.operation.reason_code, 505);
    assert!(done.operation.reason.contains("three times"));
    assert!(w.postings.is_empty());
    assert_eq!(w.callbacks[0].kind, CallbackKind::Failure);
    // 3-D Secure was tried, not passed: ePay's `secure` says whether it was used to pay.
    assert_eq!(json(&w.callbacks[0].body)["secure"], "No");
    assert!(w.counters.values().all(|c| *c == Default::default()));
}

#[test]
fn cancel_and_expiry_fail_it_with_473() {
    let (mut w, cmd) = enrolled();
    let (op_id, pa_req) = challenged(&mut w, &cmd);
    let cancelled = answer(&mut w, &op_id, &pa_req, &Input::Cancel, now()).unwrap();
    assert_eq!(cancelled, Answered::Decided(473));

    let (mut w, cmd) = enrolled();
    let (op_id, pa_req) = challenged(&mut w, &cmd);
    let late = now() + secure3d::DEFAULT_EXPIRY;
    let answered = answer(
        &mut w,
        &op_id,
        &pa_req,
        &Input::Code(SANDBOX_CODE.into()),
        late,
    )
    .unwrap();
    assert_eq!(answered, Answered::Decided(473));
}

#[test]
fn an_unanswered_challenge_is_failed_by_the_resolver_and_a_late_confirm_changes_nothing() {
    let (mut w, cmd) = enrolled();
    let (op_id, pa_req) = challenged(&mut w, &cmd);
    let due = DueResolution {
        pending: w.resolutions[0].clone(),
        claim: "c".into(),
    };
    let ids = &mut FixedIds(100);
    assert_eq!(resolve(&mut w, &due, ids).unwrap(), Resolution::Failed(473));
    assert_eq!(json(&w.callbacks[0].body)["secure"], "No");
    assert!(w.operations[0].reason.contains("not answered in time"));
    // The resolver already acted: a confirm that comes after it does nothing twice.
    assert_eq!(
        code(&mut w, &op_id, &pa_req, SANDBOX_CODE),
        Answered::Decided(0)
    );
    let late = confirm(&mut w, &op_id, 0, ids).unwrap().unwrap();
    assert_eq!(late.resolution, Resolution::Skipped);
    assert_eq!(late.operation.status, OperationStatus::Failed);
    assert!(w.postings.is_empty() && w.callbacks.len() == 1);
}

#[test]
fn a_passed_challenge_still_needs_the_funds() {
    let (mut w, cmd) = enrolled();
    let (op_id, pa_req) = challenged(&mut w, &cmd);
    w.balances
        .insert("card:alice".into(), Money::from_minor(100));
    code(&mut w, &op_id, &pa_req, SANDBOX_CODE);
    let done = confirm(&mut w, &op_id, 0, &mut FixedIds(100))
        .unwrap()
        .unwrap();
    assert_eq!(done.resolution, Resolution::Failed(484));
    // The cardholder did pass the challenge; the funds were what failed.
    assert_eq!(json(&w.callbacks[0].body)["secure"], "Yes");
}

#[test]
fn a_wrong_pa_req_or_operation_is_unknown_and_counts_nothing() {
    let (mut w, cmd) = enrolled();
    let (op_id, _) = challenged(&mut w, &cmd);
    assert_eq!(code(&mut w, &op_id, "forged", "1"), Answered::Unknown);
    assert_eq!(code(&mut w, "op-none", "forged", "1"), Answered::Unknown);
    assert_eq!(w.challenges[&op_id].wrong_codes, 0);
    assert!(confirm(&mut w, "op-none", 0, &mut FixedIds(9))
        .unwrap()
        .is_none());
}

#[test]
fn checks_before_it_still_decline_and_other_senders_are_not_challenged() {
    // A wrong CVC on an enrolled card is declined, not challenged.
    let (mut w, mut cmd) = enrolled();
    if let SideInput::Pan(p) = &mut cmd.sender {
        p.cvc_check = Some("cvc:wrong".into());
    }
    let op = declined(
        &mut w,
        &cmd,
        reason::DECLINED_BY_ISSUER_466,
        "CVC check failed",
    );
    assert!(w.challenges.is_empty(), "{}", op.reason);
    // A saved card of an enrolled number pays at once.
    let (mut w, mut cmd) = enrolled();
    cmd.sender = card_id("saved-alice");
    cmd.token.account_id = Some(CUSTOMER.into());
    charged(&mut w, &cmd);
    // A card that is not enrolled pays at once.
    let mut w = world();
    charged(&mut w, &command());
}
