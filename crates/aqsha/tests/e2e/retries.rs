//! Orders and retries: replays, refused re-use of an invoice, racing duplicates, and many
//! transfers racing on one card's balance.

use crate::common::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::tests! {
    both: [
        one_token_raced_with_different_bodies_is_spent_once,
        racing_invoices_with_one_tail_charge_once,
        a_retried_transfer_replays_its_stored_response_and_moves_nothing,
        invoice_tail_must_be_unique_on_a_terminal_per_day,
        identical_requests_racing_each_other_charge_once,
        fifty_concurrent_transfers_never_overdraw_one_card,
        an_acknowledged_transfer_survives_a_crash,
    ],
}

async fn a_retried_transfer_replays_its_stored_response_and_moves_nothing(backend: Backend) {
    let s = Server::start(backend);
    let body = seed_like_body(&invoice(), json!(100));
    let token = s.token_for(&body["order"]).await;
    let (st, first) = s.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::OK);
    let after_first = s.balance("440563...5096").await;
    // Same token, same body (keys in another order): the stored answer.
    let reordered: serde_json::Value = serde_json::from_str(&body.to_string()).unwrap();
    let (st, again) = s.transfer(&token, &reordered).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(again, first);
    // A new token for the same invoice and body: still the same answer, no second charge.
    let token2 = s.token_for(&body["order"]).await;
    let (st, third) = s.transfer(&token2, &body).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(third, first);
    assert_eq!(s.balance("440563...5096").await, after_first);
    // The same invoice with a different body is refused.
    let mut changed = body.clone();
    changed["order"]["description"] = json!("changed");
    let token3 = s.token_for(&changed["order"]).await;
    let (st, e) = s.transfer(&token3, &changed).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(e["code"], 469);
    assert_eq!(s.balance("440563...5096").await, after_first);
    // A declined transfer is replayed as the same decline.
    let mut bad = seed_like_body(&invoice(), json!(100));
    bad["card"]["sender"]["cvc"] = json!("999");
    let t = s.token_for(&bad["order"]).await;
    let (st1, d1) = s.transfer(&t, &bad).await;
    let (st2, d2) = s.transfer(&t, &bad).await;
    assert_eq!(
        (st1, st2),
        (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST)
    );
    assert_eq!(d1, d2);
    s.assert_ledger_balanced().await;
}

async fn invoice_tail_must_be_unique_on_a_terminal_per_day(backend: Backend) {
    let s = Server::start(backend);
    let (st, _) = s.pay(&seed_like_body("1000123456", json!(10))).await;
    assert_eq!(st, StatusCode::OK);
    let b = seed_like_body("2000123456", json!(10));
    let token = s.token_for(&b["order"]).await;
    let (st, e) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(e["code"], 469, "{e}");
    // On another terminal the same tail is fine.
    let mut b = seed_like_body("3000123456", json!(10));
    b["order"]["terminalId"] = json!(TERMINAL_3);
    let (st, _) = s.pay(&b).await;
    assert_eq!(st, StatusCode::OK);
}

/// Asserts that exactly one of the answers is a charge (200); returns the others.
fn refused_but_one(results: &[(StatusCode, Value)]) -> Vec<&(StatusCode, Value)> {
    let (charged, refused): (Vec<_>, Vec<_>) =
        results.iter().partition(|(st, _)| *st == StatusCode::OK);
    assert_eq!(charged.len(), 1, "{results:?}");
    refused
}

/// Transfers of one batch see each other's charges before anything is written: twenty
/// invoices with the same last six digits, sent at once, charge once.
async fn racing_invoices_with_one_tail_charge_once(backend: Backend) {
    let s = Server::start(backend);
    let tail = &invoice()[9..];
    let mut bodies = Vec::new();
    for n in 0..20 {
        let body = seed_like_body(&format!("{:04}{tail}", 1000 + n), json!(10));
        let token = s.token_for(&body["order"]).await;
        bodies.push((token, body));
    }
    let before = s.balance("440563...5096").await;
    let results = join_all(bodies.iter().map(|(t, b)| s.transfer(t, b))).await;
    for (st, r) in refused_but_one(&results) {
        assert_eq!(*st, StatusCode::BAD_REQUEST);
        assert_eq!(r["code"], 469, "{r}");
        assert!(
            r["message"].as_str().unwrap().contains("last 6 digits"),
            "{r}"
        );
    }
    // 10 plus the minimum fee of 95, once.
    assert_eq!(s.balance("440563...5096").await, before - 10_500);
    s.assert_ledger_balanced().await;
}

/// One unbound token and twenty different requests at once: one is charged, the others are
/// refused as a used token, and nothing else moves.
async fn one_token_raced_with_different_bodies_is_spent_once(backend: Backend) {
    let s = Server::start(backend);
    let token = s.token(&[("scope", "transfer")]).await;
    let bodies: Vec<Value> = (0..20)
        .map(|_| seed_like_body(&invoice(), json!(10)))
        .collect();
    let before = s.balance("440563...5096").await;
    let results = join_all(bodies.iter().map(|b| s.transfer(&token, b))).await;
    for (st, r) in refused_but_one(&results) {
        assert_eq!(*st, StatusCode::UNAUTHORIZED, "{r}");
    }
    assert_eq!(s.balance("440563...5096").await, before - 10_500);
    s.assert_ledger_balanced().await;
}

async fn identical_requests_racing_each_other_charge_once(backend: Backend) {
    let s = Server::start(backend);
    let before = s.balance("440563...5096").await;
    // Twenty copies under one token, and twenty under twenty tokens for the same invoice.
    let body = seed_like_body(&invoice(), json!(100));
    let token = s.token_for(&body["order"]).await;
    let mut tokens = vec![token; 20];
    for _ in 0..20 {
        tokens.push(s.token_for(&body["order"]).await);
    }
    let results = join_all(tokens.iter().map(|t| s.transfer(t, &body))).await;
    let ids: std::collections::HashSet<String> = results
        .iter()
        .map(|(st, r)| {
            assert_eq!(*st, StatusCode::OK, "{r}");
            r["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one operation");
    assert_eq!(s.balance("440563...5096").await, before - 19_500);
    s.assert_ledger_balanced().await;
}

async fn fifty_concurrent_transfers_never_overdraw_one_card(backend: Backend) {
    let s = Server::start(backend);
    // 1,000 KZT; each transfer costs 100 + 95 fee, so exactly five fit.
    let pan = s.issue_card("12/39", "555", "1000", false).await;
    let mask = format!("{}...{}", &pan[..6], &pan[pan.len() - 4..]);
    let mut bodies = Vec::new();
    for _ in 0..50 {
        let mut b = seed_like_body(&invoice(), json!(100));
        b["card"]["sender"] = json!({"transferType": "TYPEPAN", "cardCred": pan, "cvc": "555",
            "expire": {"month": "12", "year": "39"}});
        bodies.push(b);
    }
    let tokens = join_all(bodies.iter().map(|b| s.token_for(&b["order"]))).await;
    let results = join_all(bodies.iter().zip(&tokens).map(|(b, t)| s.transfer(t, b))).await;
    let (ok, declined) = charged_and_declined(&results, 484);
    assert_eq!((ok, declined), (5, 45), "{results:?}");
    assert_eq!(s.balance(&mask).await, 100_000 - 5 * 19_500);
    s.assert_ledger_balanced().await;
}

async fn an_acknowledged_transfer_survives_a_crash(backend: Backend) {
    let mut s = Server::process(backend);
    let before = s.balance("440563...5096").await;
    let mut acknowledged = Vec::new();
    for _ in 0..5 {
        let body = seed_like_body(&invoice(), json!(100));
        let (st, r) = s.pay(&body).await;
        assert_eq!(st, StatusCode::OK);
        acknowledged.push((body, r));
    }
    s.crash();
    s.restart();
    assert_eq!(s.balance("440563...5096").await, before - 5 * 19_500);
    let token = s.token(&[("terminal", TERMINAL_2)]).await;
    for (body, r) in &acknowledged {
        let inv = body["order"]["id"].as_str().unwrap();
        let (_, st) = s
            .get_json(&format!("/check-status/p2p/transaction/{inv}"), &token)
            .await;
        assert_eq!(st["resultCode"], "100");
        assert_eq!(st["transaction"]["id"], r["id"]);
    }
    s.assert_ledger_balanced().await;
}
