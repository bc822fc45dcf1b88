//! The limits (`crate::limits`): each code at its edge, what counts and what does not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::limits::{receiver_key, sender_key, terminal_day_key, terminal_key, Counter};

/// The `n`th request of a series: a fresh token, digest and invoice (with its own tail).
fn nth(n: u32) -> TransferCommand {
    let mut cmd = again(command(), n);
    cmd.order.invoice_id = format!("10000000{n:02}");
    cmd
}

fn with_limits(w: &mut MemoryTx, set: impl FnOnce(&mut TerminalLimits)) {
    let mut l = TerminalLimits::DEFAULT;
    set(&mut l);
    w.limits.insert(TERMINAL.into(), l);
}

#[test]
fn an_amount_above_the_terminal_limit_is_declined_488_and_one_at_it_is_charged() {
    let mut w = world();
    with_limits(&mut w, |l| l.per_transfer = Money::from_minor(9_999));
    let op = declined(
        &mut w,
        &nth(1),
        reason::AMOUNT_LIMIT_EXCEEDED,
        "99.99 KZT per",
    );
    assert_eq!(op.amount, Money::from_minor(10_000));
    assert!(w.counters.is_empty(), "a decline counts nothing");
    with_limits(&mut w, |l| l.per_transfer = Money::from_minor(10_000));
    charged(&mut w, &nth(2));
}

#[test]
fn a_sender_card_past_its_daily_transfers_is_declined_491() {
    let mut w = world();
    with_limits(&mut w, |l| l.sender_daily_transfers = 2);
    charged(&mut w, &nth(1));
    charged(&mut w, &nth(2));
    declined(
        &mut w,
        &nth(3),
        reason::FREQUENCY_LIMIT,
        "made 2 transfers today",
    );
    let day = crate::invoice::day_of(now());
    let key = sender_key(MERCHANT, "alice", &day);
    assert_eq!(
        w.counters[&key],
        Counter {
            transfers: 2,
            total: 20_000
        }
    );
    // Another sender card has its own count.
    let mut other = nth(4);
    other.sender = pan("bob");
    other.receiver = pan("alice");
    w.balances
        .insert("card:bob".into(), Money::from_minor(100_000));
    charged(&mut w, &other);
}

#[test]
fn a_receiver_card_past_its_daily_credits_is_declined_528() {
    let mut w = world();
    with_limits(&mut w, |l| l.receiver_daily = Money::from_minor(15_000));
    charged(&mut w, &nth(1));
    let op = declined(
        &mut w,
        &nth(2),
        reason::RECEIVER_DAILY_LIMIT,
        "more than 150 KZT today",
    );
    assert_eq!(op.receiver.mask, "440563...bob");
    // Yesterday's credits do not count today.
    let mut tomorrow = nth(3);
    tomorrow.now = now() + chrono::Duration::days(1);
    tomorrow.token.expires_at = tomorrow.now + chrono::Duration::hours(1);
    charged(&mut w, &tomorrow);
}

#[test]
fn a_terminal_past_its_daily_total_is_declined_529() {
    let mut w = world();
    with_limits(&mut w, |l| l.terminal_daily = Money::from_minor(25_000));
    charged(&mut w, &nth(1));
    charged(&mut w, &nth(2));
    declined(
        &mut w,
        &nth(3),
        reason::TERMINAL_DAILY_LIMIT,
        "more than 250 KZT today",
    );
    let key = terminal_day_key(TERMINAL, &crate::invoice::day_of(now()));
    assert_eq!(w.counters[&key].total, 20_000);
}

#[test]
fn a_terminal_past_its_overall_total_is_declined_2678() {
    let mut w = world();
    with_limits(&mut w, |l| l.terminal_total = Money::from_minor(1_000_000));
    // What the terminal charged before: 9,950.00 of its 10,000.00.
    w.counters.insert(
        terminal_key(TERMINAL),
        Counter {
            transfers: 7,
            total: 995_000,
        },
    );
    declined(
        &mut w,
        &nth(1),
        reason::TERMINAL_LIMIT,
        "overall limit of 10000 KZT",
    );
    let mut small = nth(2);
    small.order.amount = "50".into();
    charged(&mut w, &small);
    assert_eq!(
        w.counters[&terminal_key(TERMINAL)],
        Counter {
            transfers: 8,
            total: 1_000_000
        }
    );
}

#[test]
fn a_charge_counts_on_all_four_counters_and_card_counts_are_per_merchant() {
    let mut w = world();
    charged(&mut w, &nth(1));
    let day = crate::invoice::day_of(now());
    let one = Counter {
        transfers: 1,
        total: 10_000,
    };
    for key in [
        sender_key(MERCHANT, "alice", &day),
        receiver_key(MERCHANT, "bob", &day),
        terminal_day_key(TERMINAL, &day),
        terminal_key(TERMINAL),
    ] {
        assert_eq!(w.counters.get(&key), Some(&one), "{key}");
    }
    // Another merchant's transfers from the same public card do not use up this one's limit.
    with_limits(&mut w, |l| l.sender_daily_transfers = 1);
    w.counters.insert(
        sender_key(OTHER_MERCHANT, "alice", &day),
        Counter {
            transfers: 5,
            total: 1,
        },
    );
    declined(&mut w, &nth(2), reason::FREQUENCY_LIMIT, "");
    w.counters.remove(&sender_key(MERCHANT, "alice", &day));
    charged(&mut w, &nth(3));
}

#[test]
fn a_limit_is_checked_after_the_cards_and_before_funds() {
    let mut w = world();
    with_limits(&mut w, |l| l.sender_daily_transfers = 0);
    // A locked card is declined for the card, not for the limit.
    let mut cmd = nth(1);
    cmd.sender = pan("locked");
    declined(&mut w, &cmd, reason::CARD_RESTRICTED, "");
    // A poor card over the limit is declined for the limit.
    let mut cmd = nth(2);
    cmd.sender = pan("poor");
    declined(&mut w, &cmd, reason::FREQUENCY_LIMIT, "");
}

#[test]
fn a_replayed_charge_is_answered_as_before_even_under_a_lower_limit() {
    let mut w = world();
    let first = charged(&mut w, &nth(1));
    with_limits(&mut w, |l| l.per_transfer = Money::from_minor(100));
    let mut same = nth(1);
    same.token.id = "token-replay".into();
    match run(&mut w, &same) {
        TransferOutcome::Replay(r) => assert_eq!(json(&r.body), first),
        other => panic!("expected a replay, got {other:?}"),
    }
}
