//! The sandbox's outcomes on demand (`transfer::scenario`): which card decides, every code of
//! the table, magic amounts, delays, and a pending answer's resolution.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::outcomes::{DueResolution, Scenario};
use crate::transfer::scenario::{resolve, Resolution};

/// The usual command where the sandbox's outcomes are on.
fn sandbox_command() -> TransferCommand {
    let mut cmd = command();
    cmd.rules.sandbox_outcomes = true;
    cmd
}

fn with_outcome(w: &mut MemoryTx, card: &str, outcome: u32) {
    w.network.get_mut(card).unwrap().scenario = Scenario::build(Some(outcome), None, None, None)
        .unwrap_or_else(|e| panic!("{outcome}: {e}"));
}

fn delay_of(w: &mut MemoryTx, cmd: &TransferCommand) -> u32 {
    match run(w, cmd) {
        TransferOutcome::Done { delay_ms, .. } => delay_ms,
        other => panic!("{other:?}"),
    }
}

/// The resolution stored for the last pending operation, as a resolver would claim it.
fn due(w: &MemoryTx) -> DueResolution {
    DueResolution {
        pending: w.resolutions.last().cloned().expect("a pending resolution"),
        claim: "claim-1".into(),
    }
}

#[test]
fn every_final_code_of_the_table_is_answered_as_a_decline() {
    for code in aqsha_wire::codes::ALL
        .iter()
        .filter(|c| c.is_final && c.code != 0)
    {
        let mut w = world();
        with_outcome(&mut w, "alice", code.code);
        let op = declined(
            &mut w,
            &sandbox_command(),
            *code,
            "sandbox outcome of the sender card",
        );
        assert_eq!(op.amount, Money::from_minor(10_000), "{}", code.code);
        assert_eq!(w.callbacks.len(), 0, "no failure link in this token");
    }
}

#[test]
fn every_non_final_code_leaves_the_operation_pending() {
    for code in aqsha_wire::codes::ALL.iter().filter(|c| !c.is_final) {
        let mut w = world();
        with_outcome(&mut w, "alice", code.code);
        let cmd = sandbox_command();
        let (response, op_id, kind) = recorded_as(&mut w, &cmd);
        assert_eq!(kind, Recorded::Pending(code.code));
        assert_eq!(response.http_status, 400, "{}", code.code);
        assert_eq!(json(&response.body)["code"], code.code);
        let op = w.operations.last().unwrap();
        assert_eq!(op.status, OperationStatus::Pending, "{}", code.code);
        assert_eq!(
            (op.id.as_str(), op.reason_code),
            (op_id.as_str(), code.code)
        );
        assert!(w.postings.is_empty() && w.callbacks.is_empty());
        let r = &w.resolutions[0];
        assert_eq!(r.operation_id, op_id);
        assert_eq!(r.due_at, now() + chrono::Duration::milliseconds(5_000));
        assert_eq!(r.plan.sender_account, "card:alice");
        assert_eq!(r.plan.receiver_account, "card:bob");
    }
}

#[test]
fn outcome_zero_approves_and_a_delay_rides_on_the_answer() {
    let mut w = world();
    w.network.get_mut("alice").unwrap().scenario =
        Scenario::build(Some(0), Some(1_500), None, None).unwrap();
    let cmd = sandbox_command();
    assert_eq!(delay_of(&mut w, &cmd), 1_500);
    assert!(w.operations.last().unwrap().charged());
    // A natural decline of the same card is late too: the issuer answered.
    w.network.get_mut("alice").unwrap().scenario.outcome = None;
    let mut cmd = again(cmd, 2);
    cmd.order.invoice_id = "1000000002".into();
    cmd.order.amount = "100000".into();
    assert_eq!(delay_of(&mut w, &cmd), 1_500);
    assert_eq!(w.operations.last().unwrap().reason_code, 484);
}

#[test]
fn the_sender_card_decides_then_the_receiver_card_then_the_amount() {
    let mut w = world();
    with_outcome(&mut w, "alice", 465);
    with_outcome(&mut w, "bob", 483);
    declined(
        &mut w,
        &sandbox_command(),
        reason::CARD_RESTRICTED,
        "sender card",
    );

    let mut w = world();
    with_outcome(&mut w, "bob", 483);
    let mut cmd = sandbox_command();
    cmd.order.amount = "491.01".into();
    declined(&mut w, &cmd, reason::STOLEN_CARD, "receiver card");

    let mut w = world();
    declined(
        &mut w,
        &cmd,
        reason::FREQUENCY_LIMIT,
        "sandbox magic amount",
    );
}

#[test]
fn outcomes_are_off_unless_the_deployment_enables_them() {
    let mut w = world();
    with_outcome(&mut w, "alice", 465);
    let mut cmd = command();
    cmd.order.amount = "484.01".into();
    charged(&mut w, &cmd);
    assert!(w.resolutions.is_empty());
}

#[test]
fn a_scenario_card_does_not_bypass_the_token_or_the_card_checks() {
    let mut w = world();
    with_outcome(&mut w, "alice", 454);
    let mut cmd = sandbox_command();
    cmd.token.amount = Some(Money::from_minor(5_000));
    declined(&mut w, &cmd, reason::INVALID_TRANSACTION, "token's amount");
    let mut cmd = again(sandbox_command(), 2);
    if let SideInput::Pan(p) = &mut cmd.sender {
        p.cvc_check = Some("cvc:wrong".into());
    }
    declined(&mut w, &cmd, reason::DECLINED_BY_ISSUER_466, "CVC");
    assert!(w.resolutions.is_empty());
}

#[test]
fn a_pending_transfer_resolves_to_a_charge_once() {
    let mut w = world();
    with_outcome(&mut w, "alice", 454);
    let mut cmd = sandbox_command();
    cmd.token.post_link = Some("https://shop.example/ok".into());
    let (pending, op_id, _) = recorded(&mut w, &cmd);
    // The same request again while pending: the pending answer; another one: 469.
    assert_eq!(run(&mut w, &cmd), TransferOutcome::Replay(pending.clone()));
    declined(
        &mut w,
        &again(cmd.clone(), 2),
        reason::INVALID_TRANSACTION,
        "pending",
    );
    let d = due(&w);
    let mut ids = FixedIds(100);
    assert_eq!(resolve(&mut w, &d, &mut ids).unwrap(), Resolution::Charged);
    let op = w.operations.iter().find(|o| o.id == op_id).unwrap().clone();
    assert!(op.charged() && op.http_status == 200 && !op.reference.is_empty());
    assert_eq!(balance(&w, "card:alice"), 100_000 - 10_000 - op.fee.minor());
    assert_eq!(balance(&w, "card:bob"), 10_000);
    assert_eq!(w.callbacks.len(), 1);
    assert_eq!(w.callbacks[0].kind, CallbackKind::Success);
    assert_eq!(json(&w.callbacks[0].body)["reasonCode"], 0);
    // Resolved: the replay answers the charge, and a second resolution does nothing.
    assert_eq!(run(&mut w, &cmd), TransferOutcome::Replay(op.response()));
    assert_eq!(resolve(&mut w, &d, &mut ids).unwrap(), Resolution::Skipped);
    assert_eq!(w.callbacks.len(), 1);
}

#[test]
fn a_pending_transfer_resolves_to_its_planned_failure_or_to_484() {
    let mut w = world();
    w.network.get_mut("alice").unwrap().scenario =
        Scenario::build(Some(454), None, Some(462), Some(2_000)).unwrap();
    let mut cmd = sandbox_command();
    cmd.token.failure_post_link = Some("https://shop.example/fail".into());
    let (_, op_id, _) = recorded(&mut w, &cmd);
    assert_eq!(
        w.resolutions[0].due_at,
        now() + chrono::Duration::seconds(2)
    );
    let d = due(&w);
    assert_eq!(
        resolve(&mut w, &d, &mut FixedIds(100)).unwrap(),
        Resolution::Failed(462)
    );
    let op = w.operations.iter().find(|o| o.id == op_id).unwrap();
    assert_eq!((op.status, op.reason_code), (OperationStatus::Failed, 462));
    assert!(w.postings.is_empty());
    assert_eq!(w.callbacks[0].kind, CallbackKind::Failure);

    // Funds are checked when it resolves: a card emptied meanwhile fails with 484.
    let mut w = world();
    with_outcome(&mut w, "alice", 454);
    recorded(&mut w, &sandbox_command());
    w.balances
        .insert("card:alice".into(), Money::from_minor(50));
    let d = due(&w);
    assert_eq!(
        resolve(&mut w, &d, &mut FixedIds(100)).unwrap(),
        Resolution::Failed(484)
    );
    assert!(w.postings.is_empty());
}

#[test]
fn magic_amounts_with_02_resolve_to_a_failure() {
    let mut w = world();
    let mut cmd = sandbox_command();
    cmd.order.amount = "454.02".into();
    recorded(&mut w, &cmd);
    let d = due(&w);
    assert_eq!(d.pending.plan.resolve_to, 462);
    assert_eq!(
        resolve(&mut w, &d, &mut FixedIds(100)).unwrap(),
        Resolution::Failed(462)
    );
}

#[test]
fn a_pending_transfer_holds_its_place_under_the_limits_until_it_resolves() {
    use crate::limits::{terminal_key, Counter};
    let one = Counter {
        transfers: 1,
        total: 10_000,
    };
    // Resolved to a charge: counted once, when it was recorded pending.
    let mut w = world();
    with_outcome(&mut w, "alice", 454);
    recorded(&mut w, &sandbox_command());
    assert_eq!(w.counters.get(&terminal_key(TERMINAL)), Some(&one));
    assert_eq!(
        w.counters.len(),
        4,
        "sender, receiver, terminal day and total"
    );
    let d = due(&w);
    assert_eq!(
        resolve(&mut w, &d, &mut FixedIds(100)).unwrap(),
        Resolution::Charged
    );
    assert_eq!(w.counters.get(&terminal_key(TERMINAL)), Some(&one));

    // Resolved to a failure: the place it held is given back on every counter.
    let mut w = world();
    w.network.get_mut("alice").unwrap().scenario =
        Scenario::build(Some(454), None, Some(462), None).unwrap();
    recorded(&mut w, &sandbox_command());
    assert_eq!(w.counters.len(), 4);
    let d = due(&w);
    assert_eq!(
        resolve(&mut w, &d, &mut FixedIds(100)).unwrap(),
        Resolution::Failed(462)
    );
    for (key, c) in &w.counters {
        assert_eq!(*c, Counter::default(), "{key}");
    }
}
