//! Card data is never echoed, ambiguous bodies are refused, and nothing derived from a CVC is
//! kept (issue 12, items 8 and 9).

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::tests! {
    sqlite: [
        bad_fields_are_named_without_their_values,
        the_request_digest_holds_no_card_data,
    ],
}

/// A 400 with code 477 (bad input) whose message names `what`.
fn refused_naming(st: StatusCode, r: &Value, what: &str) {
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], 477, "{r}");
    assert!(r["message"].as_str().unwrap().contains(what), "{r}");
}

async fn bad_fields_are_named_without_their_values(backend: Backend) {
    let s = Server::start(backend);
    let order = seed_like_body(&invoice(), json!(100))["order"].clone();
    let token = s.token_for(&order).await;
    let fresh = || seed_like_body(order["id"].as_str().unwrap(), json!(100));

    // A card number and a CVC sent as JSON numbers: the field is named, the value is not.
    let mut b = fresh();
    b["card"]["sender"]["cardCred"] = json!(4405639704015096u64);
    let (st, r) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], 477);
    let m = r["message"].as_str().unwrap();
    assert!(m.contains("card.sender.cardCred"), "{m}");
    assert!(!m.contains("4405639704015096"), "{m}");
    let mut b = fresh();
    b["card"]["sender"]["cvc"] = json!(815);
    let (_, r) = s.transfer(&token, &b).await;
    let m = r["message"].as_str().unwrap();
    assert!(m.contains("card.sender.cvc") && !m.contains("815"), "{m}");
    // The sandbox API too.
    let resp = s
        .sandbox(reqwest::Method::POST, "/sandbox/cards")
        .json(&json!({"pan": 4000123412341234u64, "expire": "12/39", "cvc": "123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let m = resp.text().await.unwrap();
    assert!(!m.contains("4000123412341234"), "{m}");

    // Control characters in text fields are refused, naming the field.
    for (field, value) in [
        ("accountID", "user\n1"),
        ("description", "pay\u{0}ment"),
        ("senderEmail", "a@b\r\nX-Injected: 1"),
    ] {
        let mut b = fresh();
        b["order"][field] = json!(value);
        let (st, r) = s.transfer(&token, &b).await;
        refused_naming(st, &r, &format!("order.{field}"));
    }
    let mut b = fresh();
    b["card"]["sender"]["name"] = json!("Arman\tAli");
    let (_, r) = s.transfer(&token, &b).await;
    assert!(
        r["message"].as_str().unwrap().contains("card.sender.name"),
        "{r}"
    );

    // Callback links follow one rule wherever they are given: http(s), at most 2,048 characters.
    let mut b = fresh();
    b["order"]["postLink"] = json!(format!("https://shop.example/{}", "a".repeat(2100)));
    let (st, r) = s.transfer(&token, &b).await;
    refused_naming(st, &r, "order.postLink is longer than 2048");
    let long = format!("https://shop.example/{}", "a".repeat(2100));
    let (st, e) = s.token_raw(&[("postLink", long.as_str())]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("postLink is longer"),
        "{e}"
    );

    // A duplicated key: refused, not "the last one wins".
    let text = fresh()
        .to_string()
        .replacen("\"amount\":100", "\"amount\":100,\"amount\":5000", 1);
    assert!(text.contains("\"amount\":5000"));
    let (st, r) = s.transfer_text(&token, &text).await;
    refused_naming(st, &r, "duplicate key \"amount\"");
    // None of that spent the token: the right body still pays.
    let (st, r) = s.transfer(&token, &fresh()).await;
    assert_eq!(st, StatusCode::OK, "{r}");

    // The token form: a field given twice, or a control character, is refused.
    let resp = s
        .http
        .post(s.path("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&scope=transfer&client_id=test&client_secret={CLIENT_SECRET}&amount=100&amount=5000"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let e: serde_json::Value = resp.json().await.unwrap();
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("more than once"),
        "{e}"
    );
    let (st, e) = s.token_raw(&[("accountId", "a\u{1b}[31m")]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
}

async fn the_request_digest_holds_no_card_data(backend: Backend) {
    let s = Server::start(backend);
    let inv = invoice();
    let b = seed_like_body(&inv, json!(100));
    let token = s.token_for(&b["order"]).await;
    let (st, first) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    // The same request with another CVC and expiry is the same request to the digest (which
    // holds neither): its spent token replays the answer instead of being refused.
    let mut again = b.clone();
    again["card"]["sender"]["cvc"] = json!("999");
    again["card"]["sender"]["expire"] = json!({"month": "02", "year": "29"});
    let (st, replay) = s.transfer(&token, &again).await;
    assert_eq!(st, StatusCode::OK, "{replay}");
    assert_eq!(replay, first);
    // Another card number is another request.
    let mut other = b.clone();
    other["card"]["sender"]["cardCred"] = json!(MASTERCARD);
    let (st, r) = s.transfer(&token, &other).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{r}");
}
