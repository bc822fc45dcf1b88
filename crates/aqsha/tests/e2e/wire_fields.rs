//! ePay's status and callback fields that client libraries read (issue 14, item 6), each
//! decoded with the type ePay sends it in: strings as strings, amounts and coordinates as
//! numbers. A field of the wrong JSON type fails to decode here, as it would in a typed client.

use crate::common::receiver::Receiver;
use crate::common::*;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

crate::tests! {
    both: [
        the_status_carries_epays_fields_with_their_types,
        the_callback_carries_epays_fields_with_their_types,
        a_decline_by_a_known_cards_issuer_shows_the_card,
    ],
}

/// The status `transaction` fields added for ePay's clients, with ePay's types.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct EpayTransaction {
    created_date: String,
    terminal: String,
    approval_code: String,
    issuer: String,
    secure: String,
    language: String,
    name: String,
    email: String,
    phone: String,
    #[serde(rename = "cardID")]
    card_id: String,
    #[serde(rename = "statusID")]
    status_id: String,
    amount_bonus: f64,
    payout_amount: f64,
    org_amount: f64,
    data: String,
    #[serde(flatten)]
    ip: EpayIp,
}

/// The callback fields added for ePay's clients.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct EpayCallback {
    invoice_id_alt: String,
    secure_details: String,
    token_recipient: String,
    language: String,
    #[serde(flatten)]
    ip: EpayIp,
}

/// Where the payer was, as both bodies carry it: place names as strings, coordinates as
/// numbers.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct EpayIp {
    ip: String,
    ip_country: String,
    ip_city: String,
    ip_region: String,
    ip_district: String,
    ip_latitude: f64,
    ip_longitude: f64,
}

/// `2022-11-15T03:52:17.289853+06:00`: microseconds and Almaty's offset (UTC+5 since
/// 2024-03-01, UTC+6 before).
fn is_epay_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 32
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
        && b[19] == b'.'
        && (s.ends_with("+05:00") || s.ends_with("+06:00"))
}

async fn status(s: &Server, inv: &str, token: &str) -> Value {
    let (st, v) = s
        .get_json(&format!("/check-status/p2p/transaction/{inv}"), token)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["transaction"].clone()
}

async fn the_status_carries_epays_fields_with_their_types(backend: Backend) {
    let s = Server::start(backend);
    let inv = invoice();
    let mut body = seed_like_body(&inv, json!(150));
    body["order"]["language"] = json!("kaz");
    let token = s.token_for(&body["order"]).await;
    let (st, paid) = s.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::OK, "{paid}");
    let raw = status(&s, &inv, &token).await;
    let t: EpayTransaction =
        serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{e}: {raw}"));
    assert!(is_epay_time(&t.created_date), "{}", t.created_date);
    // The seed's second terminal has the seed's second number.
    assert_eq!(t.terminal, "10000002");
    assert_eq!(t.approval_code.len(), 6);
    assert!(t.approval_code.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(t.language, "kaz");
    assert_eq!(t.email, "dosbols@halykbank.kz");
    assert_eq!(t.card_id, "");
    assert_eq!(t.secure, "No");
    assert_eq!(
        (t.amount_bonus, t.payout_amount, t.org_amount),
        (0.0, 0.0, 150.0)
    );
    assert_eq!(
        (t.ip.ip.as_str(), t.ip.ip_latitude, t.ip.ip_longitude),
        ("", 0.0, 0.0)
    );
    assert_eq!(raw["operationKind"], "P2P");
    // The fields the status had before keep their types.
    assert!(
        raw["amount"].is_number() && raw["reasonCode"].is_string(),
        "{raw}"
    );

    // A terminal added later gets the next free number, also digits.
    let resp = s
        .sandbox(reqwest::Method::POST, "/sandbox/terminals")
        .send()
        .await
        .unwrap();
    let added: Value = resp.json().await.unwrap();
    let terminal = added["id"].as_str().unwrap();
    let inv = invoice();
    let mut body = seed_like_body(&inv, json!(150));
    body["order"]["terminalId"] = json!(terminal);
    let token = s.token_for(&body["order"]).await;
    let (st, paid) = s.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::OK, "{paid}");
    let t = status(&s, &inv, &token).await;
    let number: u64 = t["terminal"].as_str().unwrap().parse().unwrap();
    assert!(number > 10_000_100, "{t}");
}

async fn the_callback_carries_epays_fields_with_their_types(backend: Backend) {
    let s = Server::start(backend);
    let r = Receiver::start(&[]).await;
    let inv = invoice();
    let mut body = seed_like_body(&inv, json!(150));
    body["order"]["postLink"] = json!(format!("{}/ok", r.url));
    let (st, paid) = s.pay(&body).await;
    assert_eq!(st, StatusCode::OK, "{paid}");
    let hit = r.wait_for(1, 30).await[0].json();
    let c: EpayCallback =
        serde_json::from_value(hit.clone()).unwrap_or_else(|e| panic!("{e}: {hit}"));
    assert_eq!(c.language, "rus", "the order named none");
    assert_eq!(c.invoice_id_alt, "");
    assert_eq!((c.ip.ip_latitude, c.ip.ip_longitude), (0.0, 0.0));
    assert!(
        hit["reasonCode"].is_number() && hit["amount"].is_number(),
        "{hit}"
    );
}

async fn a_decline_by_a_known_cards_issuer_shows_the_card(backend: Backend) {
    let s = Server::start(backend);
    let r = Receiver::start(&[]).await;
    let inv = invoice();
    let mut body = seed_like_body(&inv, json!(150));
    body["card"]["sender"]["cvc"] = json!("000");
    body["order"]["failurePostLink"] = json!(format!("{}/fail", r.url));
    let token = s.token_for(&body["order"]).await;
    let (st, v) = s.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let t = status(&s, &inv, &token).await;
    assert_eq!(t["cardMask"], "440563...5096");
    assert_eq!(t["cardType"], "VISA");
    assert_eq!(t["senderCardPAN"], "440563...5096");
    let hit = r.wait_for(1, 30).await[0].json();
    assert_eq!(hit["code"], "error");
    assert_eq!(hit["cardMask"], "440563...5096");
    assert_eq!(hit["cardType"], "VISA");
}
