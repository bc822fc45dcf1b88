//! Every outcome on demand (`docs/sandbox.md`, "Outcome table"): scenario cards and magic
//! amounts produce each code of the table with the natural decline's answer, status and
//! callback; non-final codes stay pending and resolve later, also across a restart; a late
//! issuer answers late without holding up other transfers.

use crate::common::receiver::{Hit, Receiver};
use crate::common::*;
use aqsha_wire::codes::{self, ReasonCode};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

crate::tests! {
    both: [
        every_code_of_the_table_answers_as_asked,
        magic_amounts_answer_on_any_card,
        pending_charge_resolves_across_a_restart,
        pending_failure_resolves_across_a_restart,
        a_late_issuer_answers_late_and_holds_up_nothing,
        scenario_fields_are_checked_and_shown,
    ],
    sqlite: [cli_issues_a_scenario_card],
    postgres: [two_instances_resolve_each_pending_transfer_once],
}

/// `POST /sandbox/cards` with these fields besides a valid expiry and CVC.
async fn issue_raw(s: &Server, fields: Value) -> (StatusCode, Value) {
    let mut body = json!({"expire": "12/39", "cvc": "123", "balance": "100000"});
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    s.sandbox_post("/sandbox/cards", &body).await
}

/// Issues a scenario card; returns its number.
pub(crate) async fn issue(s: &Server, fields: Value) -> String {
    let (status, card) = issue_raw(s, fields).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    card["pan"].as_str().unwrap().to_string()
}

/// A transfer from `pan` (CVC 123, 12/39) to the seed's saved card, with both callback links
/// of `r` bound in its token.
pub(crate) fn body_from(pan: &str, amount: &str) -> Value {
    let mut b = seed_like_body(&invoice(), json!(amount.parse::<f64>().unwrap()));
    b["card"]["sender"]["cardCred"] = json!(pan);
    b["card"]["sender"]["cvc"] = json!("123");
    b["card"]["sender"]["expire"] = json!({"month": "12", "year": "39"});
    b
}

/// A token for `body`'s order, with the receiver's links as postLink and failurePostLink.
pub(crate) async fn token_with_links(s: &Server, body: &Value, r: &Receiver) -> String {
    let o = &body["order"];
    let amount = o["amount"].to_string();
    let (ok, fail) = (format!("{}/ok", r.url), format!("{}/fail", r.url));
    s.token(&[
        ("invoiceID", o["id"].as_str().unwrap()),
        ("amount", &amount),
        ("currency", "KZT"),
        ("terminal", o["terminalId"].as_str().unwrap()),
        ("postLink", &ok),
        ("failurePostLink", &fail),
    ])
    .await
}

pub(crate) async fn status_of(s: &Server, invoice: &str) -> Value {
    let token = s.token(&[("terminal", TERMINAL_2)]).await;
    let path = format!("/check-status/p2p/transaction/{invoice}");
    let (st, v) = s.get_json(&path, &token).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

/// The answer of a transfer the network answered with `code`: the natural decline's shape
/// (HTTP 400, code, "meaning: detail", nothing referenced), or a charge for code 0.
fn check_answer(code: ReasonCode, status: StatusCode, r: &Value, body: &Value) {
    let c = code.code;
    if c == 0 {
        assert_eq!(
            (status, &r["status"]),
            (StatusCode::OK, &json!("CHARGE")),
            "{c}: {r}"
        );
        return;
    }
    assert_eq!(status, StatusCode::BAD_REQUEST, "{c}: {r}");
    assert_eq!(r["code"], c, "{c}: {r}");
    let message = r["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("{}: ", code.message)),
        "{c}: {message}"
    );
    assert_eq!(r["invoiceId"], body["order"]["id"], "{c}");
    assert_eq!(r["reference"], "", "{c}");
    assert!(
        r["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{c}: {r}"
    );
}

/// What the status API says of an invoice whose final answer was `code` (0: charged).
fn check_final_status(code: u32, st: &Value) {
    let t = &st["transaction"];
    if code == 0 {
        assert_eq!(
            (&st["resultCode"], &t["statusName"]),
            (&json!("100"), &json!("CHARGE")),
            "{code}: {st}"
        );
    } else {
        assert_eq!(
            (&st["resultCode"], &t["statusName"]),
            (&json!("101"), &json!("FAILED")),
            "{code}: {st}"
        );
    }
    assert_eq!(t["reasonCode"], code.to_string(), "{code}: {st}");
}

/// The one callback of an invoice, with its outcome `code` (0: success).
fn check_callback(code: u32, hits: &[Hit], invoice: &str) {
    let mine: Vec<Value> = hits
        .iter()
        .map(Hit::json)
        .filter(|h| h["invoiceId"] == invoice)
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "{code}: one callback for {invoice}: {mine:?}"
    );
    let cb = &mine[0];
    assert_eq!(cb["reasonCode"], code, "{code}: {cb}");
    assert_eq!(
        cb["code"],
        if code == 0 { "ok" } else { "error" },
        "{code}: {cb}"
    );
    let path = hits
        .iter()
        .find(|h| h.json()["invoiceId"] == invoice)
        .map(|h| h.path.clone());
    let want = if code == 0 { "/ok" } else { "/fail" };
    assert_eq!(path.as_deref(), Some(want), "{code}");
}

/// One scenario card per code of the table, one transfer each: the answer, the status while
/// pending and once final, the callback; then the ledger.
async fn every_code_of_the_table_answers_as_asked(backend: Backend) {
    let s = Server::start(backend);
    let r = Receiver::start(&[]).await;
    let mut sent = Vec::new();
    for code in codes::ALL {
        let mut fields = json!({"outcome": code.code});
        if !code.is_final {
            fields["resolve_after_ms"] = json!(1_000);
        }
        let pan = issue(&s, fields).await;
        let body = body_from(&pan, "100");
        let token = token_with_links(&s, &body, &r).await;
        let (status, answer) = s.transfer(&token, &body).await;
        check_answer(*code, status, &answer, &body);
        let invoice = body["order"]["id"].as_str().unwrap().to_string();
        let st = status_of(&s, &invoice).await;
        if code.is_final {
            check_final_status(code.code, &st);
        } else {
            // Pending: "in progress", ePay's name for an unfinished operation, the poll code.
            assert_eq!(st["resultCode"], "107", "{}: {st}", code.code);
            assert_eq!(st["transaction"]["statusName"], "NEW", "{}", code.code);
            assert_eq!(st["transaction"]["reasonCode"], code.code.to_string());
        }
        sent.push((*code, invoice));
    }
    // Every operation ends with one callback: at once for a final code, on resolution (to
    // CHARGE, the default) for a non-final one.
    let hits = r.wait_for(sent.len(), 60).await;
    for (code, invoice) in &sent {
        let outcome = if code.is_final { code.code } else { 0 };
        check_final_status(outcome, &status_of(&s, invoice).await);
        check_callback(outcome, &hits, invoice);
    }
    s.assert_ledger_balanced().await;
}

/// Amounts `C.01` and `C.02` on the seed's own card.
async fn magic_amounts_answer_on_any_card(backend: Backend) {
    let s = Server::start(backend);
    let r = Receiver::start(&[]).await;
    let before = s.balance("440563...5096").await;
    let mut cases = Vec::new();
    for (amount, answered, resolved) in [
        ("465.01", 465, 465),
        ("454.01", 454, 0),
        ("454.02", 454, 462),
    ] {
        let body = seed_like_body(&invoice(), json!(amount.parse::<f64>().unwrap()));
        let token = token_with_links(&s, &body, &r).await;
        let (status, answer) = s.transfer(&token, &body).await;
        check_answer(codes::lookup(answered).unwrap(), status, &answer, &body);
        assert!(
            answer["message"].as_str().unwrap().contains("magic amount"),
            "{answer}"
        );
        cases.push((resolved, body["order"]["id"].as_str().unwrap().to_string()));
    }
    let hits = r.wait_for(3, 30).await;
    for (code, invoice) in &cases {
        check_final_status(*code, &status_of(&s, invoice).await);
        check_callback(*code, &hits, invoice);
    }
    // Only 454.01 moved money: 454.01 and its fee.
    let spent = before - s.balance("440563...5096").await;
    assert!(spent > 45_401, "{spent}");
    s.assert_ledger_balanced().await;
}

async fn pending_charge_resolves_across_a_restart(backend: Backend) {
    pending_across_a_restart(backend, json!("CHARGE"), 0).await;
}

async fn pending_failure_resolves_across_a_restart(backend: Backend) {
    pending_across_a_restart(backend, json!(462), 462).await;
}

/// A 454 card resolving after 3 s: pending, the server restarted (the process), then resolved
/// exactly once, with one callback, the replay answering the resolved answer.
async fn pending_across_a_restart(backend: Backend, resolve_to: Value, code: u32) {
    let mut s = Server::process(backend);
    let r = Receiver::start(&[]).await;
    let fields = json!({"outcome": 454, "resolve_to": resolve_to, "resolve_after_ms": 3_000});
    let pan = issue(&s, fields).await;
    let before = s.balance(&mask_of(&pan)).await;
    let body = body_from(&pan, "1000");
    let invoice = body["order"]["id"].as_str().unwrap().to_string();
    let token = token_with_links(&s, &body, &r).await;
    let (status, pending) = s.transfer(&token, &body).await;
    check_answer(codes::reason::AMOUNT_MAY_BE_HELD, status, &pending, &body);
    assert_eq!(status_of(&s, &invoice).await["resultCode"], "107");
    // The same request while pending answers the pending answer.
    assert_eq!(s.transfer(&token, &body).await.1, pending);
    s.restart();
    let st = eventually("the pending transfer resolves", EVENTUALLY, || {
        let s = &s;
        let invoice = &invoice;
        async move {
            let st = status_of(s, invoice).await;
            (st["resultCode"] != "107").then_some(st)
        }
    })
    .await;
    check_final_status(code, &st);
    let hits = r.wait_for(1, 30).await;
    check_callback(code, &hits, &invoice);
    // Once resolved, the same request answers the resolved answer.
    let (status, again) = s.transfer(&token, &body).await;
    let moved = before - s.balance(&mask_of(&pan)).await;
    if code == 0 {
        assert_eq!(
            (status, &again["status"]),
            (StatusCode::OK, &json!("CHARGE")),
            "{again}"
        );
        assert_eq!(moved, 100_000 + to_minor(&again["fee"]));
    } else {
        assert_eq!(
            (status, &again["code"]),
            (StatusCode::BAD_REQUEST, &json!(code)),
            "{again}"
        );
        assert_eq!(moved, 0);
    }
    // Nothing resolves twice: still one callback a while later, and the ledger balances.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(r.hits().len(), 1);
    s.assert_ledger_balanced().await;
}

fn mask_of(pan: &str) -> String {
    format!("{}...{}", &pan[..6], &pan[pan.len() - 4..])
}

/// A card whose issuer answers after 1.5 s: its transfer takes that long, and a transfer of
/// another card sent meanwhile is answered at once (the writer is not held).
async fn a_late_issuer_answers_late_and_holds_up_nothing(backend: Backend) {
    let s = Server::start(backend);
    let late = issue(&s, json!({"outcome": 465, "delay_ms": 1_500})).await;
    let slow_approval = issue(&s, json!({"delay_ms": 1_000})).await;
    let body = body_from(&late, "100");
    let token = s.token_for(&body["order"]).await;
    let started = Instant::now();
    let slow = {
        let (s, token, body) = (&s, token.clone(), body.clone());
        async move { s.transfer(&token, &body).await }
    };
    let quick = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t = Instant::now();
        let (status, r) = s.pay(&seed_like_body(&invoice(), json!(100))).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        t.elapsed()
    };
    let ((status, r), quick_took) = tokio::join!(slow, quick);
    let slow_took = started.elapsed();
    check_answer(codes::reason::CARD_RESTRICTED, status, &r, &body);
    assert!(slow_took >= Duration::from_millis(1_500), "{slow_took:?}");
    assert!(quick_took < Duration::from_millis(1_000), "{quick_took:?}");
    // A delay without an outcome: the natural answer (a charge), late.
    let started = Instant::now();
    let (status, r) = s.pay(&body_from(&slow_approval, "100")).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert!(started.elapsed() >= Duration::from_millis(1_000));
    s.assert_ledger_balanced().await;
}

async fn scenario_fields_are_checked_and_shown(backend: Backend) {
    let s = Server::start(backend);
    for bad in [
        json!({"outcome": 9999}),
        json!({"outcome": 465, "delay_ms": 25_001}),
        json!({"outcome": 465, "resolve_to": "CHARGE"}),
        json!({"outcome": 454, "resolve_to": 454}),
        json!({"outcome": 454, "resolve_to": "SOMETIME"}),
        json!({"outcome": 454, "resolve_after_ms": 10}),
        json!({"outcome": -1}),
    ] {
        let (status, r) = issue_raw(&s, bad.clone()).await;
        assert_eq!(
            (status, &r["code"]),
            (StatusCode::BAD_REQUEST, &json!(477)),
            "{bad}: {r}"
        );
    }
    let (_, card) = issue_raw(&s, json!({"outcome": 454, "resolve_to": 484})).await;
    let want = json!({"outcome": 454, "delay_ms": 0, "resolve_to": 484, "resolve_after_ms": 5000});
    assert_eq!(card["scenario"], want);
    let listed = s.sandbox_get("/sandbox/cards").await;
    let shown = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == card["id"])
        .unwrap();
    assert_eq!(shown["scenario"], want);
    // An ordinary card shows none.
    assert!(listed[0].get("scenario").is_none(), "{}", listed[0]);
}

async fn cli_issues_a_scenario_card(backend: Backend) {
    let s = Server::start(backend);
    let issue = |args: &'static str| {
        let s = &s;
        async move {
            let args: Vec<&str> = args.split(' ').collect();
            cli::run(&mut cli::cli(s), &args).await
        }
    };
    let out = issue("sandbox card issue --outcome 465 --balance 500 --expire 12/39 --json").await;
    let card = out.ok().json();
    assert_eq!(card["scenario"]["outcome"], 465, "{card}");
    let (status, r) = s
        .pay(&body_from(card["pan"].as_str().unwrap(), "100"))
        .await;
    assert_eq!(
        (status, &r["code"]),
        (StatusCode::BAD_REQUEST, &json!(465)),
        "{r}"
    );
    let out = issue("sandbox card issue --outcome 454 --resolve-to CHARGE --delay-ms 10").await;
    assert!(out.ok().stdout.contains("\"outcome\":454"), "{out:?}");
}

/// Two instances on one PostgreSQL database, both resolving: twenty pending transfers sent to
/// either resolve once each (one charge, one callback), and the ledger balances.
async fn two_instances_resolve_each_pending_transfer_once(_: Backend) {
    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let pg = crate::common::pg::PgDb::create();
    let a = Server::start_instance(&pg.url, KEY, &[]);
    let b = Server::start_instance(&pg.url, KEY, &[]);
    let r = Receiver::start(&[]).await;
    let pan = issue(&a, json!({"outcome": 454, "resolve_after_ms": 1_000})).await;
    let before = a.balance(&mask_of(&pan)).await;
    let mut invoices = Vec::new();
    for i in 0..20 {
        let s = if i % 2 == 0 { &a } else { &b };
        let body = body_from(&pan, "100");
        let token = token_with_links(s, &body, &r).await;
        let (status, answer) = s.transfer(&token, &body).await;
        check_answer(codes::reason::AMOUNT_MAY_BE_HELD, status, &answer, &body);
        invoices.push(body["order"]["id"].as_str().unwrap().to_string());
    }
    let hits = r.wait_for(invoices.len(), 60).await;
    for invoice in &invoices {
        check_final_status(0, &status_of(&b, invoice).await);
        check_callback(0, &hits, invoice);
    }
    // 20 × (100 + the minimum fee of 95), once each.
    assert_eq!(before - a.balance(&mask_of(&pan)).await, 20 * 19_500);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(r.hits().len(), invoices.len());
    a.assert_ledger_balanced().await;
}
