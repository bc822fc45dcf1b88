//! The hosted form's attempts (`TransferCommand::attempt`): each of the page's three attempts
//! on one token spends its own key, the same attempt sent twice replays its answer, and the
//! invoice's own charge check stops a second charge from another attempt.

use super::*;

/// `cmd` as the hosted form's attempt `n`, with a digest of its own (what the payer typed).
fn attempt(mut cmd: TransferCommand, n: u8, digest: &str) -> TransferCommand {
    cmd.attempt = Some(n);
    cmd.request_digest = digest.into();
    cmd
}

fn locked_sender() -> TransferCommand {
    let mut cmd = command();
    cmd.sender = pan("locked");
    cmd
}

#[test]
fn a_declined_attempt_leaves_the_next_one_free_and_spends_only_its_own_key() {
    let mut w = world();
    let first = attempt(locked_sender(), 1, "typed-1");
    declined(
        &mut w,
        &first,
        reason::CARD_RESTRICTED,
        "sender card is blocked",
    );
    assert_eq!(first.spend_key(), page_attempt_key("token-1", 1));
    assert!(
        !w.spent.contains_key("token-1"),
        "the token itself is not spent"
    );
    let body = charged(&mut w, &attempt(command(), 2, "typed-2"));
    assert_eq!(body["status"], "CHARGE");
    assert_eq!(balance(&w, "card:alice"), 100_000 - 10_000 - 9_500);
}

#[test]
fn the_same_attempt_sent_again_replays_its_answer_whatever_was_typed() {
    let mut w = world();
    let first = charged(&mut w, &attempt(command(), 1, "typed-1"));
    let postings = w.postings.len();
    // A double click or a second tab: other bytes (another digest), the same attempt.
    let mut other = attempt(command(), 1, "typed-again");
    other.sender = pan("poor");
    let TransferOutcome::Replay(stored) = run(&mut w, &other) else {
        panic!("expected a replay");
    };
    assert_eq!(json(&stored.body), first);
    assert_eq!((w.operations.len(), w.postings.len()), (1, postings));
    // A declined attempt replays its decline too, and records nothing more.
    let mut w = world();
    let (response, _, _) = recorded(&mut w, &attempt(locked_sender(), 1, "a"));
    let TransferOutcome::Replay(again) = run(&mut w, &attempt(command(), 1, "b")) else {
        panic!("expected a replay");
    };
    assert_eq!(again, response);
    assert_eq!(w.operations.len(), 1);
}

#[test]
fn another_attempt_after_a_charge_never_charges_twice() {
    let mut w = world();
    charged(&mut w, &attempt(command(), 1, "typed-1"));
    let before = balance(&w, "card:alice");
    declined(
        &mut w,
        &attempt(command(), 2, "typed-2"),
        reason::INVALID_TRANSACTION,
        "already been paid",
    );
    assert_eq!(balance(&w, "card:alice"), before);
}

#[test]
fn past_the_third_attempt_the_page_is_refused_2740() {
    let mut w = world();
    for n in 1..=PAGE_ATTEMPTS {
        let cmd = attempt(locked_sender(), n, &format!("typed-{n}"));
        declined(&mut w, &cmd, reason::CARD_RESTRICTED, "blocked");
    }
    for n in [0, PAGE_ATTEMPTS + 1] {
        let outcome = run(&mut w, &attempt(command(), n, "typed-more"));
        assert_eq!(outcome, TransferOutcome::Refused(Refusal::Attempts));
    }
    assert_eq!(w.operations.len(), usize::from(PAGE_ATTEMPTS));
}

#[test]
fn a_token_the_api_spent_is_refused_to_the_page_and_the_api_is_unchanged() {
    let mut w = world();
    declined(&mut w, &locked_sender(), reason::CARD_RESTRICTED, "blocked");
    let TransferOutcome::Refused(Refusal::Token(why)) =
        run(&mut w, &attempt(command(), 1, "digest-1"))
    else {
        panic!("expected a refusal");
    };
    assert!(why.contains("already used"), "{why}");
    // The API's own replay still needs the same request.
    let TransferOutcome::Replay(_) = run(&mut w, &locked_sender()) else {
        panic!("expected the API's replay");
    };
    assert_eq!(w.operations.len(), 1);
}
