//! Every issuer decision and validation decline, with its reason code; nothing moves, the failed
//! operation is recorded and visible through the status endpoint.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::tests! {
    both: [
        issuer_declines_cards_with_the_fitting_codes,
        expired_and_underfunded_cards_are_declined,
        invalid_amounts_are_declined_with_470,
        order_not_matching_its_token_is_declined_with_469,
        terminals_and_saved_cards_of_other_merchants_are_refused,
        deactivated_saved_card_can_no_longer_be_used,
        a_saved_card_pays_only_for_its_own_customer,
    ],
}

/// Sends a transfer expected to be declined with `code`; checks that no balance moved, that
/// the ledger balances, and that status shows the failed operation with the same code.
async fn assert_declined(s: &Server, token: &str, body: &Value, code: u64) -> Value {
    let before = s.sandbox_get("/sandbox/cards").await;
    let (status, r) = s.transfer(token, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], code, "{r}");
    assert!(r["message"].as_str().unwrap().len() > 5);
    assert_eq!(r["invoiceId"], body["order"]["id"]);
    assert_eq!(r["reference"], "");
    assert!(r.get("status").is_none());
    assert_eq!(
        s.sandbox_get("/sandbox/cards").await,
        before,
        "a decline moves nothing"
    );
    s.assert_ledger_balanced().await;
    // The failed operation is recorded: status shows it with its reason code.
    let terminal = body["order"]["terminalId"].as_str().unwrap_or(TERMINAL_2);
    if ![TERMINAL, TERMINAL_2, TERMINAL_3].contains(&terminal) {
        // Another merchant's or an unknown terminal: no status token can be bound to it.
        return r;
    }
    let status_token = s.token(&[("terminal", terminal)]).await;
    let inv = body["order"]["id"].as_str().unwrap();
    let (_, st) = s
        .get_json(
            &format!("/check-status/p2p/transaction/{inv}"),
            &status_token,
        )
        .await;
    assert_eq!(st["resultCode"], "101", "{st}");
    assert_eq!(st["transaction"]["statusName"], "FAILED");
    assert_eq!(st["transaction"]["reasonCode"], code.to_string());
    r
}

async fn decline_case(s: &Server, body: Value, code: u64) -> Value {
    let token = s.token_for(&body["order"]).await;
    assert_declined(s, &token, &body, code).await
}

async fn issuer_declines_cards_with_the_fitting_codes(backend: Backend) {
    let s = Server::start(backend);
    // Locked card (the seed's AMEX, "lock").
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["sender"]["cardCred"] = json!(AMEX_LOCKED);
    b["card"]["sender"]["cvc"] = json!("4169");
    decline_case(&s, b, 465).await;
    // The seed's locked cards with past dates.
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["sender"]["cardCred"] = json!("4003032704547597");
    b["card"]["sender"]["cvc"] = json!("170");
    b["card"]["sender"]["expire"] = json!({"month": "09", "year": "20"});
    decline_case(&s, b, 465).await;
    // Wrong CVC.
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["sender"]["cvc"] = json!("816");
    let r = decline_case(&s, b, 466).await;
    assert!(!r["message"].as_str().unwrap().contains("816"));
    // Wrong expiry.
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["sender"]["expire"] = json!({"month": "02", "year": "25"});
    decline_case(&s, b, 457).await;
    // Sender card the network does not know (Luhn-valid).
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["sender"]["cardCred"] = json!("4111111111111111");
    decline_case(&s, b, 471).await;
    // Invalid card number (Luhn), on either side.
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["sender"]["cardCred"] = json!("4405639704015097");
    decline_case(&s, b, 472).await;
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": "5522042705066737"});
    decline_case(&s, b, 472).await;
    // Locked receiver card.
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": AMEX_LOCKED});
    decline_case(&s, b, 465).await;
    // Same card on both sides.
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": VISA});
    decline_case(&s, b, 469).await;
}

async fn expired_and_underfunded_cards_are_declined(backend: Backend) {
    let s = Server::start(backend);
    // A card outside the documented set whose expiry has passed.
    let expired = s.issue_card("01/20", "123", "5000", false).await;
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["sender"] = json!({"transferType": "TYPEPAN", "cardCred": expired, "cvc": "123",
        "expire": {"month": "01", "year": "20"}});
    decline_case(&s, b, 478).await;
    // An expired receiver is declined too.
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": expired});
    decline_case(&s, b, 478).await;
    // The same merchant cannot issue one number twice (a clear 400, on both databases).
    let twice = json!({"pan": expired, "expire": "01/20", "cvc": "123"});
    let (status, e) = s.sandbox_post("/sandbox/cards", &twice).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("already issued"),
        "{e}"
    );
    // Insufficient funds: 100 + 95 fee > 150.
    let poor = s.issue_card("12/39", "321", "150", false).await;
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["sender"] = json!({"transferType": "TYPEPAN", "cardCred": poor, "cvc": "321",
        "expire": {"month": "12", "year": "39"}});
    decline_case(&s, b.clone(), 484).await;
    // 50 + 95 = 145 fits.
    let mut ok = b.clone();
    ok["order"]["id"] = json!(invoice());
    ok["order"]["amount"] = json!(50);
    let (status, r) = s.pay(&ok).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        s.balance(&format!("{}...{}", &poor[..6], &poor[12..]))
            .await,
        500
    );
}

async fn invalid_amounts_are_declined_with_470(backend: Backend) {
    let s = Server::start(backend);
    for amount in [json!(0), json!(-5), json!(1.005), json!("12.345")] {
        let b = seed_like_body(&invoice(), amount);
        // An unbound token: the amount check is the transfer's own.
        let token = s.token(&[("terminal", TERMINAL_2)]).await;
        assert_declined(&s, &token, &b, 470).await;
    }
}

async fn order_not_matching_its_token_is_declined_with_469(backend: Backend) {
    let s = Server::start(backend);
    let b = seed_like_body(&invoice(), json!(100));
    let o = &b["order"];
    let inv = o["id"].as_str().unwrap();
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("invoiceID", "123456789"),
            ("amount", "100"),
            ("currency", "KZT"),
            ("terminal", TERMINAL_2),
        ],
        vec![
            ("invoiceID", inv),
            ("amount", "101"),
            ("currency", "KZT"),
            ("terminal", TERMINAL_2),
        ],
        vec![
            ("invoiceID", inv),
            ("amount", "100"),
            ("currency", "USD"),
            ("terminal", TERMINAL_2),
        ],
        vec![
            ("invoiceID", inv),
            ("amount", "100"),
            ("currency", "KZT"),
            ("terminal", TERMINAL),
        ],
    ];
    for fields in cases {
        let mut body = b.clone();
        body["order"]["id"] = json!(invoice());
        let mut fields = fields.clone();
        let fresh = body["order"]["id"].as_str().unwrap().to_string();
        for f in fields.iter_mut() {
            if f.0 == "invoiceID" && f.1 == inv {
                f.1 = &fresh;
            }
        }
        let token = s.token(&fields).await;
        assert_declined(&s, &token, &body, 469).await;
    }
}

async fn terminals_and_saved_cards_of_other_merchants_are_refused(backend: Backend) {
    let s = Server::start(backend);
    let other = s.add_merchant("other-shop");
    let other_terminal = other["terminal"].as_str().unwrap();
    // Our token, another merchant's terminal: 464.
    let mut b = seed_like_body(&invoice(), json!(100));
    b["order"]["terminalId"] = json!(other_terminal);
    let token = s.token(&[]).await;
    assert_declined(&s, &token, &b, 464).await;
    // Unknown terminal: 464 too.
    let mut b = seed_like_body(&invoice(), json!(100));
    b["order"]["terminalId"] = json!("00000000-0000-0000-0000-000000000000");
    let token = s.token(&[]).await;
    assert_declined(&s, &token, &b, 464).await;
    // A token cannot even be bound to another merchant's terminal.
    let (status, e) = s.token_raw(&[("terminal", other_terminal)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"], "invalid_request");

    // The other merchant saves a card; we may not use it (487), nor an unknown id.
    let other_token = s.token_of(&other).await;
    let mut b = seed_like_body(&invoice(), json!(10));
    b["order"]["terminalId"] = json!(other_terminal);
    b["order"]["accountID"] = json!("their-user");
    b["card"]["sender"]["save"] = json!(true);
    b["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD});
    let (status, r) = s.transfer(&other_token, &b).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let their_card = r["senderCardID"].as_str().unwrap().to_string();

    for card in [their_card.as_str(), "11111111-2222-3333-4444-555555555555"] {
        let mut b = seed_like_body(&invoice(), json!(100));
        b["card"]["sender"] = json!({"transferType": "TYPECARDID", "cardCred": card});
        decline_case(&s, b, 487).await;
        let mut b = seed_like_body(&invoice(), json!(100));
        b["card"]["receiver"] = json!({"transferType": "TYPECARDID", "cardCred": card});
        decline_case(&s, b, 487).await;
    }
}

async fn deactivated_saved_card_can_no_longer_be_used(backend: Backend) {
    let s = Server::start(backend);
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["sender"]["save"] = json!(true);
    b["order"]["accountID"] = json!("deact-user");
    let (status, r) = s.pay(&b).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let card = r["senderCardID"].as_str().unwrap().to_string();

    let token = s
        .token(&[(
            "scope",
            "webapi usermanagement email_send verification statement statistics payment",
        )])
        .await;
    let (status, list) = s.get_json("/cards/deact-user", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["ID"], card.as_str());
    assert_eq!(list[0]["CardMask"], "440563...5096");
    assert_eq!(list[0]["AccountID"], "deact-user");
    assert_eq!(list[0]["PayerName"], "Arman Ali");
    assert_eq!(list[0]["PaymentAvailable"], true);

    let resp = s
        .http
        .post(s.path(&format!("/api/card/deactivate/{card}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v, json!({"status": "card successfully deactivated"}));
    // Twice: no longer an active card.
    let resp = s
        .http
        .post(s.path(&format!("/card/deactivate/{card}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let (status, none) = s.get_json("/api/cards/deact-user", &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(none["code"], 1373);

    let mut b = seed_like_body(&invoice(), json!(100));
    b["order"]["accountID"] = json!("deact-user");
    b["card"]["sender"] = json!({"transferType": "TYPECARDID", "cardCred": card});
    decline_case(&s, b, 487).await;
}

async fn a_saved_card_pays_only_for_its_own_customer(backend: Backend) {
    let s = Server::start(backend);
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["sender"]["save"] = json!(true);
    b["order"]["accountID"] = json!("alice");
    let (status, r) = s.pay(&b).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let alices = r["senderCardID"].as_str().unwrap().to_string();
    // Another customer of the same merchant cannot pay with Alice's card (no CVC is asked).
    let mut b = seed_like_body(&invoice(), json!(100));
    b["order"]["accountID"] = json!("mallory");
    b["card"]["sender"] = json!({"transferType": "TYPECARDID", "cardCred": alices});
    decline_case(&s, b, 487).await;
    // Alice can; and anyone may send *to* her saved card.
    let mut b = seed_like_body(&invoice(), json!(100));
    b["order"]["accountID"] = json!("alice");
    b["card"]["sender"] = json!({"transferType": "TYPECARDID", "cardCred": alices});
    b["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD});
    let (status, r) = s.pay(&b).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let mut b = seed_like_body(&invoice(), json!(100));
    b["order"]["accountID"] = json!("bob");
    b["card"]["sender"]["cardCred"] = json!(MASTERCARD);
    b["card"]["sender"]["cvc"] = json!("525");
    b["card"]["receiver"] = json!({"transferType": "TYPECARDID", "cardCred": alices});
    let (status, r) = s.pay(&b).await;
    assert_eq!(status, StatusCode::OK, "{r}");
}
