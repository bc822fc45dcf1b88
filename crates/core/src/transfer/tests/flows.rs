//! AFT and OCT (the merchant's settlement account as one side) and transfers to a phone
//! number, against the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::records::{OperationKind, PhoneEntry, TransferType};

const SETTLEMENT: &str = "settlement:merchant-1:KZT";

/// The world with the merchant's KZT settlement account holding `minor`, and a public phone
/// entry for bob's card (phone key "phone-bob", IIN check "iin-bob").
fn flows_world(minor: i64) -> MemoryTx {
    let mut w = world();
    w.balances
        .insert(SETTLEMENT.into(), Money::from_minor(minor));
    let entry = PhoneEntry {
        card_fingerprint: "bob".into(),
        iin_check: "iin-bob".into(),
    };
    w.phones.insert((String::new(), "phone-bob".into()), entry);
    w
}

fn phone(key: &str, iin: &str) -> SideInput {
    SideInput::Phone(PhoneSide {
        phone_key: key.into(),
        iin_check: iin.into(),
    })
}

#[test]
fn an_aft_moves_money_from_the_card_to_the_settlement_account() {
    let mut w = flows_world(0);
    let mut cmd = command();
    cmd.receiver = SideInput::Merchant;
    assert_eq!(cmd.kind(), OperationKind::Aft);
    let body = charged(&mut w, &cmd);
    assert_eq!(body["senderCardPAN"], "440563...alice");
    assert_eq!(body["receiverCardPAN"], "");
    assert_eq!(body["receiverTransferType"], "");
    assert_eq!(balance(&w, "card:alice"), 100_000 - 19_500);
    assert_eq!(balance(&w, SETTLEMENT), 10_000);
    assert_eq!(balance(&w, FEE_ACCOUNT), 9_500);
    let op = w.operations.last().unwrap();
    assert_eq!(op.kind, OperationKind::Aft);
    assert_eq!(op.card().mask, "440563...alice");
}

#[test]
fn an_oct_pays_the_card_from_the_settlement_account() {
    let mut w = flows_world(50_000);
    let mut cmd = command();
    cmd.sender = SideInput::Merchant;
    assert_eq!(cmd.kind(), OperationKind::Oct);
    assert_eq!(cmd.lock_keys().settlement.as_deref(), Some(SETTLEMENT));
    let body = charged(&mut w, &cmd);
    assert_eq!(body["senderCardPAN"], "");
    assert_eq!(body["receiverCardPAN"], "440563...bob");
    assert_eq!(balance(&w, SETTLEMENT), 50_000 - 19_500);
    assert_eq!(balance(&w, "card:bob"), 10_000);
    assert_eq!(balance(&w, FEE_ACCOUNT), 9_500);
    let op = w.operations.last().unwrap();
    assert_eq!(op.kind, OperationKind::Oct);
    // ePay's single card fields show the card paid.
    assert_eq!(op.card().mask, "440563...bob");
}

#[test]
fn an_oct_the_settlement_balance_cannot_cover_is_declined_484() {
    // 100 KZT and its 95 KZT fee need 19 500; one tiyn short.
    let mut w = flows_world(19_499);
    let mut cmd = command();
    cmd.sender = SideInput::Merchant;
    let op = declined(
        &mut w,
        &cmd,
        reason::INSUFFICIENT_FUNDS,
        "merchant's settlement balance",
    );
    assert_eq!(op.kind, OperationKind::Oct);
    assert_eq!(op.fee, Money::from_minor(9_500));
    assert_eq!(op.receiver.mask, "440563...bob");
}

#[test]
fn a_p2p_command_locks_no_settlement_account() {
    assert_eq!(command().lock_keys().settlement, None);
    let mut aft = command();
    aft.receiver = SideInput::Merchant;
    assert_eq!(aft.lock_keys().settlement, None);
}

#[test]
fn a_phone_transfer_pays_the_card_the_phone_is_bound_to() {
    let mut w = flows_world(0);
    let mut cmd = command();
    cmd.receiver = phone("phone-bob", "iin-bob");
    let body = charged(&mut w, &cmd);
    assert_eq!(body["receiverCardPAN"], "440563...bob");
    assert_eq!(body["receiverCardType"], "VISA");
    assert_eq!(body["receiverTransferType"], "TYPEPHONE");
    assert_eq!(balance(&w, "card:bob"), 10_000);
    let op = w.operations.last().unwrap();
    assert_eq!(op.receiver.transfer_type, Some(TransferType::Phone));
}

#[test]
fn a_merchants_own_phone_entry_wins_over_the_public_one() {
    let mut w = flows_world(0);
    let own = PhoneEntry {
        card_fingerprint: "elsewhere-not-a-card".into(),
        iin_check: "iin-own".into(),
    };
    w.phones.insert((MERCHANT.into(), "phone-bob".into()), own);
    let mut cmd = command();
    cmd.receiver = phone("phone-bob", "iin-bob");
    // The merchant's entry has another IIN, so the public one is not consulted.
    declined(&mut w, &cmd, reason::IIN_PHONE_MISMATCH, "IIN");
}

#[test]
fn a_phone_with_no_card_is_declined_471_and_a_wrong_iin_2357() {
    let mut w = flows_world(0);
    let mut cmd = command();
    cmd.receiver = phone("phone-nobody", "iin-bob");
    let op = declined(&mut w, &cmd, reason::NO_SUCH_CARD, "phone number");
    assert_eq!(op.receiver.transfer_type, Some(TransferType::Phone));
    let mut cmd = again(command(), 2);
    cmd.receiver = phone("phone-bob", "iin-someone-else");
    let op = declined(&mut w, &cmd, reason::IIN_PHONE_MISMATCH, "IIN");
    assert_eq!(op.receiver.mask, "", "a mismatch shows no card");
}

#[test]
fn a_phone_cannot_send_and_the_merchant_cannot_pay_itself() {
    let mut w = flows_world(0);
    for (sender, receiver) in [
        (phone("phone-bob", "iin-bob"), pan("bob")),
        (SideInput::Merchant, SideInput::Merchant),
    ] {
        let mut cmd = command();
        cmd.sender = sender;
        cmd.receiver = receiver;
        assert!(matches!(
            run(&mut w, &cmd),
            TransferOutcome::Refused(Refusal::Input(_))
        ));
    }
}

#[test]
fn a_decline_by_the_senders_issuer_records_the_card_presented() {
    let mut w = world();
    let mut cmd = command();
    cmd.order.failure_post_link = Some("https://merchant.example/fail".into());
    if let SideInput::Pan(p) = &mut cmd.sender {
        p.cvc_check = Some("wrong".into());
    }
    let op = declined(&mut w, &cmd, reason::DECLINED_BY_ISSUER_466, "CVC");
    assert_eq!(op.sender.mask, "440563...alice");
    assert_eq!(op.sender.brand, Some(Brand::Visa));
    let body = json(&w.callbacks.last().unwrap().body);
    assert_eq!(body["cardMask"], "440563...alice");
    assert_eq!(body["cardType"], "VISA");
    assert_eq!(body["language"], "rus");
    for empty in [
        "invoiceIdAlt",
        "secureDetails",
        "tokenRecipient",
        "ip",
        "ipCountry",
    ] {
        assert_eq!(body[empty], "", "{empty}");
    }
    assert_eq!(body["ipLatitude"], 0.0);
}

#[test]
fn the_order_language_is_kept_and_an_unknown_one_refused() {
    let mut w = world();
    let mut cmd = command();
    cmd.order.language = Some("KZ".into());
    charged(&mut w, &cmd);
    assert_eq!(w.operations.last().unwrap().language, "kaz");
    let mut cmd = again(command(), 2);
    cmd.order.invoice_id = "1000000002".into();
    cmd.order.language = Some("de".into());
    assert!(matches!(
        run(&mut w, &cmd),
        TransferOutcome::Refused(Refusal::Input(_))
    ));
    let mut cmd = again(command(), 3);
    cmd.order.invoice_id = "1000000003".into();
    charged(&mut w, &cmd);
    assert_eq!(w.operations.last().unwrap().language, "rus");
}
