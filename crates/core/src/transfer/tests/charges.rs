//! Charges by every combination of card number and saved card, fees, saved cards, callbacks,
//! and the token's own rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn card_number_to_card_number_charges_amount_and_fee() {
    let mut w = world();
    let body = charged(&mut w, &command());
    let expected = serde_json::json!({
        "id": "op-1", "amount": 100, "fee": 95, "accountID": CUSTOMER, "currency": "KZT",
        "email": "", "description": "", "reference": "000000000001", "orderID": "1000000001",
        "senderCardID": "", "senderCardPAN": "440563...alice", "senderCardType": "VISA",
        "senderTransferType": "TYPEPAN", "receiverCardID": "", "receiverCardPAN": "440563...bob",
        "receiverCardType": "VISA", "receiverTransferType": "TYPEPAN",
        "intReference": "00000000000000AB", "terminalID": TERMINAL, "status": "CHARGE",
    });
    assert_eq!(body, expected);
    assert_eq!(balance(&w, "card:alice"), 100_000 - 19_500);
    assert_eq!(balance(&w, "card:bob"), 10_000);
    assert_eq!(balance(&w, FEE_ACCOUNT), 9_500);
    assert_eq!(w.postings.len(), 3);
    assert!(w.callbacks.is_empty(), "no link, no callback");
}

#[test]
fn a_receiver_of_another_issuer_is_paid_through_the_external_account() {
    let mut w = world();
    let mut cmd = command();
    cmd.receiver = pan("elsewhere");
    charged(&mut w, &cmd);
    assert_eq!(balance(&w, &external_account(Currency::Kzt)), 10_000);
}

#[test]
fn every_combination_of_card_number_and_saved_card_charges() {
    let cases = [
        (
            pan("alice"),
            card_id("saved-bob"),
            ("", "TYPEPAN"),
            ("saved-bob", "TYPECARDID"),
        ),
        (
            card_id("saved-alice"),
            pan("bob"),
            ("saved-alice", "TYPECARDID"),
            ("", "TYPEPAN"),
        ),
        (
            card_id("saved-alice"),
            card_id("saved-bob"),
            ("saved-alice", "TYPECARDID"),
            ("saved-bob", "TYPECARDID"),
        ),
    ];
    for (sender, receiver, (sender_id, sender_type), (receiver_id, receiver_type)) in cases {
        let mut w = world();
        let mut cmd = command();
        cmd.token.account_id = Some(CUSTOMER.into());
        (cmd.sender, cmd.receiver) = (sender, receiver);
        let body = charged(&mut w, &cmd);
        assert_eq!(body["senderCardID"], sender_id);
        assert_eq!(body["senderTransferType"], sender_type);
        assert_eq!(body["receiverCardID"], receiver_id);
        assert_eq!(body["receiverTransferType"], receiver_type);
        assert_eq!(balance(&w, "card:bob"), 10_000);
        assert_eq!(balance(&w, "card:alice"), 100_000 - 19_500);
    }
}

#[test]
fn a_card_saved_on_a_charge_keeps_its_id_when_saved_again() {
    let mut w = world();
    let mut cmd = command();
    if let SideInput::Pan(p) = &mut cmd.sender {
        p.save = true;
        p.sealed = Some(crate::vault::SealedPan {
            key_id: "k".into(),
            blob: vec![9],
        });
    }
    cmd.order.account_id = Some("customer-3".into());
    let body = charged(&mut w, &cmd);
    assert_eq!(body["senderCardID"], "card-2");
    let card = &w.vault["card-2"];
    assert_eq!(
        (card.account_id.as_str(), card.fingerprint.as_str()),
        ("customer-3", "alice")
    );
    assert_eq!(
        (card.payer_name.as_str(), card.created_at),
        ("Arman Ali", now())
    );
    assert_eq!(card.reference, "000000000001");
    let mut next = again(cmd, 2);
    next.order.invoice_id = "1000000002".into();
    assert_eq!(charged(&mut w, &next)["senderCardID"], "card-2");
    assert_eq!(w.vault.len(), 7);
}

#[test]
fn callbacks_go_to_the_outcomes_link_with_secret_hash_only_for_the_tokens_links() {
    let mut w = world();
    let mut cmd = command();
    cmd.token.post_link = Some("https://merchant.example/ok".into());
    cmd.token.secret_hash = Some("s3cret".into());
    cmd.order.failure_post_link = Some("https://merchant.example/fail".into());
    charged(&mut w, &cmd);
    let event = w.callbacks.last().unwrap().clone();
    assert_eq!(
        (event.id.as_str(), event.kind),
        ("cb-2", CallbackKind::Success)
    );
    assert_eq!(event.url, "https://merchant.example/ok");
    let body = json(&event.body);
    assert_eq!(
        (body["code"].as_str(), body["secret_hash"].as_str()),
        (Some("ok"), Some("s3cret"))
    );
    assert_eq!(body["approvalCode"], "123456");
    let mut poor = again(cmd, 2);
    poor.sender = pan("poor");
    poor.order.invoice_id = "1000000002".into();
    declined(&mut w, &poor, reason::INSUFFICIENT_FUNDS, "");
    let event = w.callbacks.last().unwrap();
    assert_eq!(
        (event.kind, event.url.as_str()),
        (CallbackKind::Failure, "https://merchant.example/fail")
    );
    let body = json(&event.body);
    assert_eq!(
        (body["code"].as_str(), body["reasonCode"].as_u64()),
        (Some("error"), Some(484))
    );
    assert_eq!(
        body["secret_hash"], "",
        "a link from the order never gets the secret"
    );
}

#[test]
fn a_spent_token_replays_its_answer_to_the_same_request_only() {
    let mut w = world();
    let first = charged(&mut w, &command());
    let TransferOutcome::Replay(stored) = run(&mut w, &command()) else {
        panic!("expected a replay");
    };
    assert_eq!(json(&stored.body), first);
    let mut other = command();
    other.request_digest = "digest-other".into();
    let TransferOutcome::Refused(Refusal::Token(why)) = run(&mut w, &other) else {
        panic!("expected a refusal");
    };
    assert!(why.contains("already used"), "{why}");
    assert_eq!((w.operations.len(), w.postings.len()), (1, 3));
}

#[test]
fn expired_or_out_of_scope_tokens_and_bad_input_are_refused_without_a_record() {
    let mut expired = command();
    expired.token.expires_at = now();
    let mut no_scope = command();
    no_scope.token.scope = "webapi".into();
    let mut bad_invoice = command();
    bad_invoice.order.invoice_id = "12345".into();
    let mut save_without_customer = command();
    save_without_customer.order.account_id = None;
    if let SideInput::Pan(p) = &mut save_without_customer.receiver {
        p.save = true;
    }
    for (cmd, refusal) in [
        (expired, Refusal::Token("token expired".into())),
        (
            no_scope,
            Refusal::Token("token scope does not allow transfers".into()),
        ),
        (
            bad_invoice,
            Refusal::Input("order.id must be 6 to 16 digits".into()),
        ),
        (
            save_without_customer,
            Refusal::Input(
                "order.accountID is required when a card is to be saved (save: true)".into(),
            ),
        ),
    ] {
        let mut w = world();
        assert_eq!(run(&mut w, &cmd), TransferOutcome::Refused(refusal));
        assert!(w.operations.is_empty() && w.spent.is_empty() && w.callbacks.is_empty());
    }
    let mut payment = command();
    payment.token.scope = "webapi payment".into();
    charged(&mut world(), &payment);
}

#[test]
fn lock_keys_name_what_the_transfer_reads() {
    let mut cmd = command();
    cmd.receiver = card_id("saved-bob");
    let keys = cmd.lock_keys();
    assert_eq!(keys.fingerprints, ["alice"]);
    assert_eq!(keys.saved_cards, ["saved-bob"]);
    assert_eq!(keys.token.as_deref(), Some("token-1"));
    assert_eq!(keys.invoice, Some((MERCHANT.into(), "1000000001".into())));
    assert_eq!(keys.guesses, Some((MERCHANT.into(), "alice".into())));
    assert_eq!(
        keys.tail,
        Some((TERMINAL.into(), "2025-06-15".into(), "000001".into()))
    );
    // The order's terminal wins; a six-digit invoice has no tail; no terminal, no tail.
    cmd.order.terminal_id = Some(USD_TERMINAL.into());
    assert_eq!(cmd.lock_keys().tail.map(|t| t.0), Some(USD_TERMINAL.into()));
    cmd.order.invoice_id = "123456".into();
    assert_eq!(cmd.lock_keys().tail, None);
    cmd.order.invoice_id = "1000000001".into();
    (cmd.order.terminal_id, cmd.token.terminal_id) = (None, None);
    assert_eq!(cmd.lock_keys().tail, None);
    cmd.sender = card_id("saved-alice");
    assert_eq!(cmd.lock_keys().guesses, None);
}
