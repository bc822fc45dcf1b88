//! The transfer rules against an in-memory [`Tx`], with fixed ids and a fixed clock: every
//! decline `execute` can answer (`declines`), the success paths and the token rules
//! (`charges`). This file holds the world they run in and the checks they share.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attempts;
mod charges;
mod declines;
mod flows;
mod limits;
mod scenarios;
mod secure3d;

use super::memory::MemoryTx;
use super::*;
use crate::card::{Brand, Expiry};
use crate::fee::FeeSchedule;
use crate::limits::TerminalLimits;
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
        number: String::new(),
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
        scenario: Default::default(),
        secure3d: false,
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
            login: None,
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
        attempt: None,
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

/// Runs `cmd`, which must record an operation: (response, operation id, charged).
fn recorded(w: &mut MemoryTx, cmd: &TransferCommand) -> (StoredResponse, String, bool) {
    let (response, operation_id, kind) = recorded_as(w, cmd);
    (response, operation_id, kind == Recorded::Charged)
}

/// [`recorded`], with what was recorded as the server counts it.
fn recorded_as(w: &mut MemoryTx, cmd: &TransferCommand) -> (StoredResponse, String, Recorded) {
    match run(w, cmd) {
        TransferOutcome::Done {
            response,
            operation_id,
            kind,
            ..
        } => (response, operation_id, kind),
        other => panic!("expected a recorded operation, got {other:?}"),
    }
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
    let (response, operation_id, kind) = recorded_as(w, cmd);
    assert_eq!(kind, Recorded::Declined(code.code), "expected a decline");
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
    assert_eq!(w.spent.get(&cmd.spend_key()), Some(&operation_id));
    op
}

/// Runs `cmd`, which must be charged; returns the answer's body.
fn charged(w: &mut MemoryTx, cmd: &TransferCommand) -> Value {
    let (response, operation_id, kind) = recorded_as(w, cmd);
    let body = json(&response.body);
    assert_eq!(kind, Recorded::Charged, "{body}");
    assert_eq!(response.http_status, 200);
    assert_eq!(body["status"], "CHARGE");
    assert_eq!(body["id"], operation_id.as_str());
    assert_eq!(w.spent.get(&cmd.spend_key()), Some(&operation_id));
    let op = w.operations.last().unwrap();
    assert!(op.charged() && op.response_body == response.body);
    body
}

fn balance(w: &MemoryTx, account: &str) -> i64 {
    w.balances[account].minor()
}
