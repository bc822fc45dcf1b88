//! The transfer rules against an in-memory [`Tx`]: every decline `execute` can answer, the
//! success paths and the token rules, with fixed ids and a fixed clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::memory::MemoryTx;
use super::*;
use crate::card::{Brand, Expiry};
use crate::fee::FeeSchedule;
use crate::money::Money;
use crate::records::{
    CallbackKind, NetworkCard, OperationRecord, OperationStatus, TerminalRecord, VaultCard,
};
use aqsha_wire::codes::{reason, ReasonCode};
use serde_json::Value;

const MERCHANT: &str = "merchant-1";
const OTHER_MERCHANT: &str = "merchant-2";
const TERMINAL: &str = "terminal-kzt";
const USD_TERMINAL: &str = "terminal-usd";
const FOREIGN_TERMINAL: &str = "terminal-of-merchant-2";
const CUSTOMER: &str = "customer-1";
const FEE_ACCOUNT: &str = "fee:merchant-1";

fn now() -> DateTime<Utc> {
    // 2025-06-15T15:13:20Z
    DateTime::from_timestamp(1_750_000_400, 0).unwrap()
}

/// Ids counted from 1, so every result is the same on every run.
#[derive(Default)]
struct FixedIds(u32);

impl FixedIds {
    fn next(&mut self, kind: &str) -> String {
        self.0 += 1;
        format!("{kind}-{}", self.0)
    }
}

impl Ids for FixedIds {
    fn operation_id(&mut self) -> String {
        self.next("op")
    }
    fn callback_id(&mut self) -> String {
        self.next("cb")
    }
    fn saved_card_id(&mut self) -> String {
        self.next("card")
    }
    fn int_reference(&mut self) -> String {
        "00000000000000AB".into()
    }
    fn approval_code(&mut self) -> String {
        "123456".into()
    }
}

fn terminal(id: &str, merchant: &str, currency: Currency) -> TerminalRecord {
    TerminalRecord {
        id: id.into(),
        merchant_id: merchant.into(),
        currency,
        fee: FeeSchedule::DEFAULT,
        fee_account: format!("fee:{merchant}"),
    }
}

/// A network card known by the fingerprint `name`, with account `card:name`.
fn card(name: &str, currency: Currency, balance: i64) -> (NetworkCard, i64) {
    let card = NetworkCard {
        id: name.into(),
        fingerprint: name.into(),
        mask: format!("440563...{name}"),
        brand: Brand::Visa,
        expiry: Expiry {
            month: 12,
            year: 29,
        },
        cvc_check: format!("cvc:{name}"),
        locked: false,
        enforce_expiry: true,
        account_id: format!("card:{name}"),
        currency,
        owner: None,
    };
    (card, balance)
}

fn saved(id: &str, merchant: &str, account: &str, fingerprint: &str, active: bool) -> VaultCard {
    VaultCard {
        id: id.into(),
        merchant_id: merchant.into(),
        account_id: account.into(),
        fingerprint: fingerprint.into(),
        sealed: crate::vault::SealedPan {
            key_id: "k".into(),
            blob: vec![1, 2, 3],
        },
        mask: format!("440563...{fingerprint}"),
        brand: Brand::Visa,
        payer_name: String::new(),
        active,
        created_at: now() - chrono::Duration::days(30),
        transaction_id: String::new(),
        reference: String::new(),
        int_reference: String::new(),
        terminal_id: TERMINAL.into(),
    }
}

/// Two merchants' terminals, six network cards, five saved cards and their accounts.
fn world() -> MemoryTx {
    let mut w = MemoryTx::default();
    for t in [
        terminal(TERMINAL, MERCHANT, Currency::Kzt),
        terminal(USD_TERMINAL, MERCHANT, Currency::Usd),
        terminal(FOREIGN_TERMINAL, OTHER_MERCHANT, Currency::Kzt),
    ] {
        w.balances.insert(t.fee_account.clone(), Money::ZERO);
        w.terminals.insert(t.id.clone(), t);
    }
    let (mut locked, _) = card("locked", Currency::Kzt, 100_000);
    locked.locked = true;
    let (mut expired, _) = card("expired", Currency::Kzt, 100_000);
    expired.expiry = Expiry { month: 1, year: 24 };
    for (c, balance) in [
        card("alice", Currency::Kzt, 100_000),
        card("bob", Currency::Kzt, 0),
        card("poor", Currency::Kzt, 150),
        card("dollar", Currency::Usd, 100_000),
        (locked, 100_000),
        (expired, 100_000),
    ] {
        w.balances
            .insert(c.account_id.clone(), Money::from_minor(balance));
        w.network.insert(c.fingerprint.clone(), c);
    }
    w.balances
        .insert(external_account(Currency::Kzt), Money::ZERO);
    for v in [
        saved("saved-alice", MERCHANT, CUSTOMER, "alice", true),
        saved("saved-bob", MERCHANT, "customer-2", "bob", true),
        saved("saved-foreign", OTHER_MERCHANT, CUSTOMER, "bob", true),
        saved("saved-off", MERCHANT, CUSTOMER, "bob", false),
        saved("saved-elsewhere", MERCHANT, CUSTOMER, "elsewhere", true),
        saved("saved-locked", MERCHANT, CUSTOMER, "locked", true),
    ] {
        w.vault.insert(v.id.clone(), v);
    }
    w
}

/// A card number side; `name` is its fingerprint, and it answers its card's CVC and expiry.
fn pan(name: &str) -> SideInput {
    SideInput::Pan(PanSide {
        fingerprint: name.into(),
        mask: format!("440563...{name}"),
        brand: Brand::Visa,
        luhn_ok: true,
        sealed: None,
        cvc_check: Some(format!("cvc:{name}")),
        expiry: Some(Expiry {
            month: 12,
            year: 29,
        }),
        name: Some("Arman Ali".into()),
        save: false,
    })
}

fn card_id(id: &str) -> SideInput {
    SideInput::CardId {
        id: id.into(),
        save: false,
    }
}

/// 100 KZT from alice to bob on the KZT terminal, with a token bound to that terminal.
fn command() -> TransferCommand {
    TransferCommand {
        token: TokenClaims {
            id: "token-1".into(),
            merchant_id: MERCHANT.into(),
            scope: "transfer".into(),
            invoice_id: None,
            amount: None,
            currency: None,
            terminal_id: Some(TERMINAL.into()),
            post_link: None,
            failure_post_link: None,
            secret_hash: None,
            expires_at: now() + chrono::Duration::hours(1),
            account_id: None,
        },
        request_digest: "digest-1".into(),
        now: now(),
        order: OrderInput {
            amount: "100".into(),
            currency: "KZT".into(),
            invoice_id: "1000000001".into(),
            account_id: Some(CUSTOMER.into()),
            ..Default::default()
        },
        sender: pan("alice"),
        receiver: pan("bob"),
        rules: TransferRules::default(),
    }
}

/// The same command under a fresh token and digest, as a new request.
fn again(mut cmd: TransferCommand, n: u32) -> TransferCommand {
    cmd.token.id = format!("token-{n}");
    cmd.request_digest = format!("digest-{n}");
    cmd
}

fn run(w: &mut MemoryTx, cmd: &TransferCommand) -> TransferOutcome {
    execute_with(w, cmd, &mut FixedIds::default()).unwrap()
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

/// Runs `cmd`, which must be declined with `code` and a message containing `detail`; checks
/// the answer's fields, that nothing moved, and that the decline was recorded and the token
/// spent on it.
fn declined(
    w: &mut MemoryTx,
    cmd: &TransferCommand,
    code: ReasonCode,
    detail: &str,
) -> OperationRecord {
    let (balances, postings) = (w.balances.clone(), w.postings.len());
    let TransferOutcome::Done {
        response,
        operation_id,
        charged,
    } = run(w, cmd)
    else {
        panic!("expected a recorded decline {}", code.code);
    };
    assert!(!charged);
    assert_eq!(response.http_status, 400);
    let body = json(&response.body);
    assert_eq!(body["code"], code.code, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("{}: ", code.message)) && message.contains(detail),
        "{message}"
    );
    assert_eq!(body["invoiceId"], cmd.order.invoice_id.as_str());
    assert_eq!(body["id"], operation_id.as_str());
    assert_eq!(body["reference"], "");
    assert_eq!(
        body["accountId"],
        cmd.order.account_id.as_deref().unwrap_or("")
    );
    assert_eq!(w.postings.len(), postings, "a decline posts nothing");
    assert_eq!(w.balances, balances, "a decline moves no money");
    let op = w.operations.last().unwrap().clone();
    assert_eq!(op.id, operation_id);
    assert_eq!(op.status, OperationStatus::Failed);
    assert_eq!(op.reason_code, code.code);
    assert_eq!(op.reason, message);
    assert_eq!(op.response_body, response.body);
    assert_eq!(w.spent.get(&cmd.token.id), Some(&operation_id));
    op
}

/// Runs `cmd`, which must be charged; returns the answer's body.
fn charged(w: &mut MemoryTx, cmd: &TransferCommand) -> Value {
    let TransferOutcome::Done {
        response,
        operation_id,
        charged,
    } = run(w, cmd)
    else {
        panic!("expected a charge");
    };
    let body = json(&response.body);
    assert!(charged, "{body}");
    assert_eq!(response.http_status, 200);
    assert_eq!(body["status"], "CHARGE");
    assert_eq!(body["id"], operation_id.as_str());
    assert_eq!(w.spent.get(&cmd.token.id), Some(&operation_id));
    let op = w.operations.last().unwrap();
    assert!(op.charged() && op.response_body == response.body);
    body
}

fn balance(w: &MemoryTx, account: &str) -> i64 {
    w.balances[account].minor()
}

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
