//! One test per decline: its reason code, its answer's fields, and nothing moved.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn a_bad_amount_is_declined_470() {
    let mut cmd = command();
    cmd.order.amount = "12.345".into();
    let op = declined(&mut world(), &cmd, reason::INVALID_AMOUNT, "");
    assert_eq!(op.amount, Money::ZERO);
}

#[test]
fn an_amount_whose_fee_overflows_is_declined_470() {
    let mut w = world();
    w.terminals.get_mut(TERMINAL).unwrap().fee.percent_bps = i64::MAX;
    declined(
        &mut w,
        &command(),
        reason::INVALID_AMOUNT,
        "amount is too large",
    );
}

#[test]
fn an_unsupported_currency_is_declined_469() {
    let mut cmd = command();
    cmd.order.currency = "EUR".into();
    let op = declined(
        &mut world(),
        &cmd,
        reason::INVALID_TRANSACTION,
        "\"EUR\" is not supported",
    );
    assert_eq!(
        op.currency, "EUR",
        "the decline records the currency asked for"
    );
}

#[test]
fn an_order_that_breaks_its_token_binding_is_declined_469() {
    type Bind = fn(&mut TransferCommand);
    let cases: [(Bind, &str); 6] = [
        (
            |c| c.token.invoice_id = Some("9999999999".into()),
            "token's invoiceID",
        ),
        (
            |c| c.token.amount = Some(Money::from_minor(5_000)),
            "token's amount",
        ),
        (
            |c| c.token.currency = Some(Currency::Usd),
            "token's currency",
        ),
        (
            |c| c.token.account_id = Some("someone-else".into()),
            "token's accountId",
        ),
        (
            |c| {
                c.token.post_link = Some("https://merchant.example/ok".into());
                c.order.post_link = Some("https://attacker.example/ok".into());
            },
            "order.postLink differs",
        ),
        (
            |c| {
                c.token.failure_post_link = Some("https://merchant.example/fail".into());
                c.order.failure_post_link = Some("https://attacker.example/fail".into());
            },
            "order.failurePostLink differs",
        ),
    ];
    for (bind, detail) in cases {
        let mut cmd = command();
        bind(&mut cmd);
        declined(&mut world(), &cmd, reason::INVALID_TRANSACTION, detail);
    }
}

#[test]
fn an_order_terminal_other_than_the_tokens_is_declined_469() {
    let mut cmd = command();
    cmd.order.terminal_id = Some(USD_TERMINAL.into());
    declined(
        &mut world(),
        &cmd,
        reason::INVALID_TRANSACTION,
        "token's terminal",
    );
}

#[test]
fn no_terminal_is_declined_464() {
    let mut cmd = command();
    cmd.token.terminal_id = None;
    let op = declined(&mut world(), &cmd, reason::INVALID_MERCHANT, "no terminal");
    assert_eq!(op.terminal_id, "");
}

#[test]
fn another_merchants_or_an_unknown_terminal_is_declined_464() {
    for t in [FOREIGN_TERMINAL, "no-such-terminal"] {
        let mut cmd = command();
        cmd.token.terminal_id = Some(t.into());
        let op = declined(
            &mut world(),
            &cmd,
            reason::INVALID_MERCHANT,
            "not one of this merchant's",
        );
        assert_eq!(
            op.terminal_id, t,
            "the decline is found by the terminal it named"
        );
    }
}

#[test]
fn a_terminal_in_another_currency_is_declined_469() {
    let mut cmd = command();
    cmd.token.terminal_id = Some(USD_TERMINAL.into());
    declined(
        &mut world(),
        &cmd,
        reason::INVALID_TRANSACTION,
        "terminal accepts USD only",
    );
}

#[test]
fn an_invoice_charged_before_is_declined_469_or_replayed_to_the_same_request() {
    let mut w = world();
    let first = charged(&mut w, &command());
    // Another token, the same request: the first answer again, on the first operation.
    let mut same = again(command(), 2);
    same.request_digest = "digest-1".into();
    let TransferOutcome::Replay(stored) = run(&mut w, &same) else {
        panic!("expected a replay");
    };
    assert_eq!(json(&stored.body), first);
    assert_eq!(w.spent["token-2"], first["id"].as_str().unwrap());
    assert_eq!(w.operations.len(), 1);
    // Another request for the same invoice.
    declined(
        &mut w,
        &again(command(), 3),
        reason::INVALID_TRANSACTION,
        "already been paid",
    );
}

#[test]
fn an_invoice_tail_charged_today_on_the_terminal_is_declined_469() {
    let mut w = world();
    charged(&mut w, &command());
    let mut cmd = again(command(), 2);
    cmd.order.invoice_id = "2000000001".into();
    declined(
        &mut w,
        &cmd,
        reason::INVALID_TRANSACTION,
        "same last 6 digits",
    );
    // The next day the tail is free again.
    let mut tomorrow = again(command(), 3);
    tomorrow.order.invoice_id = "3000000001".into();
    tomorrow.now = now() + chrono::Duration::days(1);
    tomorrow.token.expires_at = tomorrow.now + chrono::Duration::hours(1);
    charged(&mut w, &tomorrow);
}

#[test]
fn a_saved_sender_card_needs_a_token_for_its_customer_487() {
    let mut cmd = command();
    cmd.sender = card_id("saved-alice");
    declined(
        &mut world(),
        &cmd,
        reason::NOT_PERMITTED_TO_MERCHANT,
        "needs a token issued for its customer",
    );
    // ePay's looser binding lets it through.
    cmd.rules.binding = CustomerBinding::Epay;
    charged(&mut world(), &cmd);
}

#[test]
fn a_card_id_that_is_not_an_active_saved_card_of_the_merchant_is_declined_487() {
    for id in ["saved-foreign", "saved-off", "no-such-card", "saved-bob"] {
        let mut cmd = command();
        cmd.token.account_id = Some(CUSTOMER.into());
        cmd.sender = card_id(id);
        declined(&mut world(), &cmd, reason::NOT_PERMITTED_TO_MERCHANT, "sender card id is not an active saved card of this merchant for this order's accountID");
    }
    for id in ["saved-foreign", "saved-off"] {
        let mut cmd = command();
        cmd.receiver = card_id(id);
        let op = declined(
            &mut world(),
            &cmd,
            reason::NOT_PERMITTED_TO_MERCHANT,
            "receiver card id is not an active saved card of this merchant",
        );
        assert_eq!(
            op.sender.mask, "440563...alice",
            "the sender was resolved first"
        );
    }
}

#[test]
fn wrong_expiry_457_and_cvc_466_answers_block_the_card_492() {
    let mut w = world();
    let mut wrong_expiry = command();
    if let SideInput::Pan(p) = &mut wrong_expiry.sender {
        p.expiry = Some(Expiry {
            month: 11,
            year: 29,
        });
    }
    declined(
        &mut w,
        &wrong_expiry,
        reason::WRONG_EXPIRY,
        "wrong expiry date",
    );
    let mut wrong_cvc = again(command(), 2);
    if let SideInput::Pan(p) = &mut wrong_cvc.sender {
        p.cvc_check = Some("cvc:guess".into());
    }
    declined(
        &mut w,
        &wrong_cvc,
        reason::DECLINED_BY_ISSUER_466,
        "CVC check failed",
    );
    assert_eq!(w.guesses[&(MERCHANT.into(), "alice".into())].wrong, 2);
    // The third wrong answer blocks the card for this merchant, right answers included.
    declined(
        &mut w,
        &again(wrong_cvc.clone(), 3),
        reason::DECLINED_BY_ISSUER_466,
        "CVC",
    );
    let until = now() + chrono::Duration::minutes(30);
    assert_eq!(
        w.guesses[&(MERCHANT.into(), "alice".into())].blocked_until,
        Some(until)
    );
    declined(
        &mut w,
        &again(command(), 4),
        reason::PIN_TRIES_EXCEEDED,
        "until 2025-06-15T15:43:20Z",
    );
    // Once the block has passed, a right answer charges and clears the count.
    let mut later = again(command(), 5);
    later.now = until + chrono::Duration::seconds(1);
    later.token.expires_at = later.now + chrono::Duration::hours(1);
    charged(&mut w, &later);
    assert_eq!(
        w.guesses[&(MERCHANT.into(), "alice".into())],
        Default::default()
    );
}

#[test]
fn a_locked_card_is_declined_465() {
    let mut cmd = command();
    cmd.sender = pan("locked");
    declined(
        &mut world(),
        &cmd,
        reason::CARD_RESTRICTED,
        "sender card is blocked",
    );
    let mut cmd = command();
    cmd.receiver = pan("locked");
    declined(
        &mut world(),
        &cmd,
        reason::CARD_RESTRICTED,
        "receiver card is blocked",
    );
    let mut cmd = command();
    cmd.receiver = card_id("saved-locked");
    declined(
        &mut world(),
        &cmd,
        reason::CARD_RESTRICTED,
        "receiver card is blocked",
    );
}

#[test]
fn an_expired_card_is_declined_478_unless_its_issuer_waives_expiry() {
    let mut cmd = command();
    cmd.sender = pan("expired");
    if let SideInput::Pan(p) = &mut cmd.sender {
        p.expiry = Some(Expiry { month: 1, year: 24 });
    }
    declined(
        &mut world(),
        &cmd,
        reason::EXPIRED_CARD,
        "sender card has expired",
    );
    let mut w = world();
    w.network.get_mut("expired").unwrap().enforce_expiry = false;
    charged(&mut w, &cmd);
}

#[test]
fn a_card_number_failing_luhn_is_declined_472() {
    let mut cmd = command();
    if let SideInput::Pan(p) = &mut cmd.receiver {
        p.luhn_ok = false;
    }
    declined(
        &mut world(),
        &cmd,
        reason::INVALID_CARD_NUMBER,
        "receiver card number fails the check digit",
    );
}

#[test]
fn a_sender_card_unknown_to_the_network_is_declined_471() {
    let mut cmd = command();
    cmd.sender = pan("elsewhere");
    declined(
        &mut world(),
        &cmd,
        reason::NO_SUCH_CARD,
        "sender card is not known",
    );
    // A saved card of another issuer cannot pay either.
    let mut cmd = command();
    cmd.token.account_id = Some(CUSTOMER.into());
    cmd.sender = card_id("saved-elsewhere");
    declined(
        &mut world(),
        &cmd,
        reason::NO_SUCH_CARD,
        "sender card is not known",
    );
}

#[test]
fn the_same_card_on_both_sides_is_declined_469() {
    let mut cmd = command();
    cmd.receiver = pan("alice");
    declined(&mut world(), &cmd, reason::INVALID_TRANSACTION, "same card");
    let mut cmd = command();
    cmd.token.account_id = Some(CUSTOMER.into());
    cmd.sender = card_id("saved-alice");
    cmd.receiver = pan("alice");
    declined(&mut world(), &cmd, reason::INVALID_TRANSACTION, "same card");
}

#[test]
fn a_card_in_another_currency_is_declined_456() {
    let mut cmd = command();
    cmd.sender = pan("dollar");
    declined(
        &mut world(),
        &cmd,
        reason::CANNOT_PAY_WITH_CARD,
        "not in KZT",
    );
    let mut cmd = command();
    cmd.receiver = pan("dollar");
    declined(
        &mut world(),
        &cmd,
        reason::CANNOT_PAY_WITH_CARD,
        "not in KZT",
    );
}

#[test]
fn a_sender_without_amount_and_fee_is_declined_484() {
    let mut cmd = command();
    cmd.sender = pan("poor");
    cmd.order.amount = "1".into();
    let op = declined(
        &mut world(),
        &cmd,
        reason::INSUFFICIENT_FUNDS,
        "insufficient funds",
    );
    assert_eq!(
        op.fee,
        Money::from_minor(9_500),
        "the decline records the fee it needed"
    );
}
