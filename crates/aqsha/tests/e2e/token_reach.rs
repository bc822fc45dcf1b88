//! A token reaches its own order and customer only (issue 12, items 5 and 6): the order cannot
//! redirect the token's callbacks or its `secret_hash`, a per-order token cannot read other
//! invoices or manage saved cards, and a saved sender card pays only under a token issued for
//! its customer. `--customer-binding epay` restores ePay's looser behaviour.

use crate::common::receiver::Receiver;
use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

crate::tests! {
    both: [
        the_order_cannot_redirect_callbacks_or_the_secret_hash,
        a_per_order_token_reaches_its_own_order_only,
    ],
    sqlite: [
        epay_binding_restores_the_looser_behaviour,
    ],
}

/// A body that the issuer declines (wrong CVC), so a failure callback follows.
fn declined_body(inv: &str) -> Value {
    let mut b = seed_like_body(inv, json!(100));
    b["card"]["sender"]["cvc"] = json!("000");
    b
}

/// testUser1's saved card pays an external card.
fn from_saved_card(inv: &str) -> Value {
    let mut b = seed_like_body(inv, json!(100));
    b["card"]["sender"] = json!({"transferType": "TYPECARDID", "cardCred": SAVED_RECEIVER});
    b["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": "4111111111111111"});
    b
}

fn order_fields(b: &Value) -> Vec<(&'static str, String)> {
    let o = &b["order"];
    vec![
        ("invoiceID", o["id"].as_str().unwrap().to_string()),
        ("amount", o["amount"].to_string()),
        ("currency", "KZT".to_string()),
        ("terminal", o["terminalId"].as_str().unwrap().to_string()),
    ]
}

async fn token_with(
    s: &Server,
    mut fields: Vec<(&'static str, String)>,
    more: &[(&'static str, &str)],
) -> String {
    fields.extend(more.iter().map(|(k, v)| (*k, v.to_string())));
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s.token(&refs).await
}

async fn the_order_cannot_redirect_callbacks_or_the_secret_hash(backend: Backend) {
    let s = Server::start_configured(backend, |c| {
        c.callbacks.retry_schedule = vec![Duration::from_millis(300)];
    });
    let merchant = Receiver::start(&[]).await;
    let attacker = Receiver::start(&[]).await;

    // The reproduction: the token names the merchant's failurePostLink and a secret_hash; the
    // order names the attacker's listener and forces a decline. The order is refused as not
    // matching its token, and the failure callback goes to the merchant's link only.
    let inv = invoice();
    let mut b = declined_body(&inv);
    b["order"]["failurePostLink"] = json!(format!("{}/steal", attacker.url));
    let token = token_with(
        &s,
        order_fields(&b),
        &[
            ("failurePostLink", &format!("{}/fail", merchant.url)),
            ("secret_hash", "merchant-secret"),
        ],
    )
    .await;
    let (st, r) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], 469, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("failurePostLink"),
        "{r}"
    );
    let hits = merchant.wait_for(1, 30).await;
    assert_eq!(hits[0].path, "/fail");
    assert_eq!(hits[0].json()["secret_hash"], "merchant-secret");

    // A token without links but with a secret_hash: the order's own link still gets its
    // callback (ePay integrations put links in the order), but never the merchant's secret.
    let inv = invoice();
    let mut b = declined_body(&inv);
    b["order"]["failurePostLink"] = json!(format!("{}/steal", attacker.url));
    let token = token_with(&s, order_fields(&b), &[("secret_hash", "merchant-secret")]).await;
    let (st, r) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], 466, "{r}");
    let hits = attacker.wait_for(1, 30).await;
    assert_eq!(hits.len(), 1, "only the second order reached the listener");
    assert_eq!(hits[0].json()["invoiceId"], inv.as_str());
    assert_eq!(
        hits[0].json()["secret_hash"],
        "",
        "no secret_hash to an order's link"
    );

    // Links that match the token's are fine, and the secret_hash goes with them.
    let inv = invoice();
    let mut b = seed_like_body(&inv, json!(100));
    let ok = format!("{}/ok", merchant.url);
    b["order"]["postLink"] = json!(ok);
    let token = token_with(
        &s,
        order_fields(&b),
        &[("postLink", &ok), ("secret_hash", "merchant-secret")],
    )
    .await;
    let (st, r) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let hits = merchant.wait_for(2, 30).await;
    assert_eq!(hits[1].path, "/ok");
    assert_eq!(hits[1].json()["secret_hash"], "merchant-secret");
    // An absence cannot be awaited: a callback to the attacker would come within this window.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(attacker.hits().len(), 1);
}

async fn a_per_order_token_reaches_its_own_order_only(backend: Backend) {
    let s = Server::start(backend);
    // Another order's outcome, to try to read.
    let other = invoice();
    let (st, _) = s.pay(&seed_like_body(&other, json!(100))).await;
    assert_eq!(st, StatusCode::OK);

    // A customer pays; the token (bound to the order) is spent.
    let inv = invoice();
    let b = seed_like_body(&inv, json!(100));
    let token = token_with(&s, order_fields(&b), &[]).await;
    let (st, r) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::OK, "{r}");

    // Its own invoice's status: yes.
    let (st, own) = s
        .get_json(&format!("/check-status/p2p/transaction/{inv}"), &token)
        .await;
    assert_eq!(st, StatusCode::OK, "{own}");
    assert_eq!(own["resultCode"], "100");
    // Anything else: no.
    let (st, e) = s
        .get_json(&format!("/check-status/p2p/transaction/{other}"), &token)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{e}");
    let (st, e) = s.get_json("/cards/testUser1", &token).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{e}");
    assert!(e["message"].as_str().unwrap().contains("per-order"), "{e}");
    let resp = s
        .http
        .post(s.path(&format!("/card/deactivate/{SAVED_RECEIVER}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // The reproduction: a token issued for one order pays from testUser1's saved card to an
    // external card. It is declined 487: paying from a saved card needs a token issued for
    // that customer.
    let inv = invoice();
    let mut b = from_saved_card(&inv);
    let token = token_with(&s, order_fields(&b), &[]).await;
    let (st, r) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], 487, "{r}");
    // Issued for testUser1, it pays.
    let inv = invoice();
    b["order"]["id"] = json!(inv);
    let token = token_with(&s, order_fields(&b), &[("accountId", "testUser1")]).await;
    let (st, r) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    // A token issued for testUser1 cannot carry an order for someone else.
    let inv = invoice();
    b["order"]["id"] = json!(inv);
    b["order"]["accountID"] = json!("mallory");
    let token = token_with(&s, order_fields(&b), &[("accountId", "testUser1")]).await;
    let (st, r) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], 469, "{r}");

    // A customer's token manages that customer's cards only; a service token any.
    let customer = s.token(&[("accountId", "testUser1")]).await;
    let (st, cards) = s.get_json("/cards/testUser1", &customer).await;
    assert_eq!(st, StatusCode::OK, "{cards}");
    let (st, e) = s.get_json("/cards/someoneElse", &customer).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{e}");
    let plain = s.token(&[]).await;
    let (st, e) = s.get_json("/cards/testUser1", &plain).await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "a transfer token is no service token: {e}"
    );
    let service = s.token(&[("scope", "webapi")]).await;
    let (st, cards) = s.get_json("/cards/testUser1", &service).await;
    assert_eq!(st, StatusCode::OK, "{cards}");
}

async fn epay_binding_restores_the_looser_behaviour(backend: Backend) {
    let s = Server::start_configured(backend, |c| {
        c.rules.binding = aqsha_core::token::CustomerBinding::Epay;
    });
    let other = invoice();
    let (st, _) = s.pay(&seed_like_body(&other, json!(100))).await;
    assert_eq!(st, StatusCode::OK);
    let inv = invoice();
    let b = from_saved_card(&inv);
    let token = token_with(&s, order_fields(&b), &[]).await;
    let (st, r) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let (st, cards) = s.get_json("/cards/testUser1", &token).await;
    assert_eq!(st, StatusCode::OK, "{cards}");
    let (st, status) = s
        .get_json(&format!("/check-status/p2p/transaction/{other}"), &token)
        .await;
    assert_eq!(st, StatusCode::OK, "{status}");
}
