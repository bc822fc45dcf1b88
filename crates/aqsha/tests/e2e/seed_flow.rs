//! The seed's own requests, sent verbatim to a real server.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::tests! {
    both: [
        seed_token_request_succeeds_verbatim_on_both_paths,
        seed_transfer_succeeds_verbatim_and_returns_the_seed_fields,
        seed_body_with_its_trailing_comma_is_refused_with_the_position,
        all_four_pan_and_card_id_combinations_work_and_save_cards,
        receiver_outside_the_sandbox_is_paid_through_the_external_network,
    ],
}

/// The seed's transfer body, as printed, with only the trailing comma after the receiver's
/// `transferType` removed.
const SEED_BODY: &str = r#"{
"order": {
"amount": 100,
"currency": "KZT",
"description": "Test p2p payment",
"id": "8161284658529816",
"accountID": "testUser1",
"senderEmail": "dosbols@halykbank.kz",
"terminalId": "40a348cb-68a3-45d5-9002-a4836d79c3b5",
"backLink": "https://epay.homebank.kz/demo/success.html",
"failureBackLink": "https://epay.homebank.kz/demo/failure.html",
"postLink": "https://epay.homebank.kz/payform",
"failurePostLink": "https://testmerchant/order/1123/fail"
},
"card": {
"sender": {
"save": true,
"transferType": "TYPEPAN",
"cvc": "815",
"expire": {
"month": "01",
"year": "25"
},
"name": "Arman Ali",
"cardCred": "4405639704015096"
},
"receiver": {
"cardCred": "fcf69516-f7e8-9b14-e053-1d1a000aef2f",
"transferType": "TYPECARDID"
}
}
}"#;

fn seed_token_form(invoice: &str, terminal: &str) -> reqwest::multipart::Form {
    // "Body: form-data", exactly the seed's fields and values.
    reqwest::multipart::Form::new()
        .text("grant_type", "client_credentials")
        .text("scope", "transfer")
        .text("client_id", "test")
        .text("client_secret", "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG")
        .text("invoiceID", invoice.to_string())
        .text("amount", "100")
        .text("currency", "KZT")
        .text("terminal", terminal.to_string())
        .text("postLink", "")
        .text("failurePostLink", "")
}

async fn seed_token_request_succeeds_verbatim_on_both_paths(backend: Backend) {
    let s = Server::start(backend);
    for path in ["/epay2/oauth2/token", "/oauth2/token"] {
        let resp = s
            .http
            .post(s.path(path))
            .multipart(seed_token_form("000000001", TERMINAL_3))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let body: Value = resp.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap();
        assert!(
            token.len() >= 20
                && token
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        );
        assert_eq!(body["expires_in"], "7200");
        assert_eq!(body["refresh_token"], "");
        assert_eq!(body["scope"], "transfer");
        assert_eq!(body["token_type"], "Bearer");
    }
}

async fn seed_transfer_succeeds_verbatim_and_returns_the_seed_fields(backend: Backend) {
    let s = Server::start(backend);
    let before_sender = s.balance("440563...5096").await;
    let before_receiver = s.balance("440563...7622").await;
    let resp = s
        .http
        .post(s.path("/epay2/oauth2/token"))
        .multipart(seed_token_form("8161284658529816", TERMINAL_2))
        .send()
        .await
        .unwrap();
    let token: Value = resp.json().await.unwrap();
    let token = token["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{token}"));
    for path in ["/api/payments/cards/auth"] {
        let resp = s
            .http
            .post(s.path(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(SEED_BODY)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let r: Value = resp.json().await.unwrap();
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = vec![
            "id",
            "amount",
            "fee",
            "accountID",
            "currency",
            "email",
            "description",
            "reference",
            "orderID",
            "senderCardID",
            "senderCardPAN",
            "senderCardType",
            "senderTransferType",
            "receiverCardID",
            "receiverCardPAN",
            "receiverCardType",
            "receiverTransferType",
            "intReference",
            "terminalID",
            "status",
        ];
        let mut got = keys.clone();
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "exactly the seed's keys");
        assert_eq!(r["amount"], json!(100));
        assert_eq!(r["fee"], json!(95));
        assert_eq!(r["accountID"], "testUser1");
        assert_eq!(r["currency"], "KZT");
        assert_eq!(r["email"], "dosbols@halykbank.kz");
        assert_eq!(r["description"], "Test p2p payment");
        assert_eq!(r["orderID"], "8161284658529816");
        let reference = r["reference"].as_str().unwrap();
        assert!(
            reference.len() == 12 && reference.chars().all(|c| c.is_ascii_digit()),
            "{reference}"
        );
        let int_ref = r["intReference"].as_str().unwrap();
        assert!(
            int_ref.len() == 16 && int_ref.chars().all(|c| c.is_ascii_hexdigit()),
            "{int_ref}"
        );
        assert!(uuid_like(r["id"].as_str().unwrap()));
        assert!(
            uuid_like(r["senderCardID"].as_str().unwrap()),
            "saved sender card gets an id"
        );
        assert_eq!(r["senderCardPAN"], "440563...5096");
        assert_eq!(r["senderCardType"], "VISA");
        assert_eq!(r["senderTransferType"], "TYPEPAN");
        assert_eq!(r["receiverCardID"], SAVED_RECEIVER);
        assert_eq!(r["receiverCardPAN"], "440563...7622");
        assert_eq!(r["receiverCardType"], "VISA");
        assert_eq!(r["receiverTransferType"], "TYPECARDID");
        assert_eq!(r["terminalID"], TERMINAL_2);
        assert_eq!(r["status"], "CHARGE");
        assert!(r.get("code").is_none() && r.get("message").is_none());
    }
    // 100 to the receiver, 100 + 95 fee from the sender.
    assert_eq!(s.balance("440563...5096").await, before_sender - 19_500);
    assert_eq!(s.balance("440563...7622").await, before_receiver + 10_000);
    s.assert_ledger_balanced().await;
}

async fn seed_body_with_its_trailing_comma_is_refused_with_the_position(backend: Backend) {
    let s = Server::start(backend);
    let with_comma = SEED_BODY.replace(
        "\"transferType\": \"TYPECARDID\"\n}",
        "\"transferType\": \"TYPECARDID\",\n}",
    );
    assert_ne!(with_comma, SEED_BODY);
    let token = s.token(&[]).await;
    let (status, body) = s.transfer_text(&token, &with_comma).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], 477);
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("trailing comma at line 30 column 1"), "{msg}");
    // A malformed body does not spend the token.
    let (status, _) = s.transfer_text(&token, SEED_BODY).await;
    assert_ne!(status, StatusCode::UNAUTHORIZED);
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|&c| c == '-').count() == 4
}

async fn all_four_pan_and_card_id_combinations_work_and_save_cards(backend: Backend) {
    let s = Server::start(backend);
    let account = "combo-user";
    // 1. PAN -> PAN, saving both cards.
    let inv = invoice();
    let mut body = seed_like_body(&inv, json!(1000));
    body["order"]["accountID"] = json!(account);
    body["card"]["sender"]["save"] = json!(true);
    body["card"]["receiver"] =
        json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD, "save": true});
    let (status, r) = s.pay(&body).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let visa_id = r["senderCardID"].as_str().unwrap().to_string();
    let mc_id = r["receiverCardID"].as_str().unwrap().to_string();
    assert!(uuid_like(&visa_id) && uuid_like(&mc_id) && visa_id != mc_id);
    assert_eq!(r["receiverCardPAN"], "552204...6736");
    assert_eq!(r["receiverCardType"], "MasterCard");
    assert_eq!(r["fee"], json!(95));

    // 2. CARDID -> PAN.
    let mut body = seed_like_body(&invoice(), json!(12.5));
    body["order"]["accountID"] = json!(account);
    body["card"]["sender"] = json!({"transferType": "TYPECARDID", "cardCred": visa_id});
    body["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD});
    let (status, r) = s.pay(&body).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["senderCardID"], visa_id.as_str());
    assert_eq!(r["senderTransferType"], "TYPECARDID");
    assert_eq!(r["receiverCardID"], "");
    assert_eq!(r["amount"], json!(12.5));

    // 3. CARDID -> CARDID.
    let mut body = seed_like_body(&invoice(), json!(20000.55));
    body["order"]["accountID"] = json!(account);
    body["card"]["sender"] = json!({"transferType": "TYPECARDID", "cardCred": mc_id});
    body["card"]["receiver"] = json!({"transferType": "TYPECARDID", "cardCred": visa_id});
    let (status, r) = s.pay(&body).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["amount"], json!(20000.55));
    // 0.95 % of 20,000.55 = 190.005225, rounded half up to 190.01.
    assert_eq!(r["fee"], json!(190.01));

    // 4. PAN -> CARDID, saving the sender again: the same card keeps its id.
    let mut body = seed_like_body(&invoice(), json!(1));
    body["order"]["accountID"] = json!(account);
    body["card"]["sender"]["save"] = json!(true);
    body["card"]["receiver"] = json!({"transferType": "TYPECARDID", "cardCred": mc_id});
    let (status, r) = s.pay(&body).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        r["senderCardID"],
        visa_id.as_str(),
        "saving one card twice yields one id"
    );

    // A token issued for this customer lists the customer's cards.
    let token = s.token(&[("accountId", account)]).await;
    let (status, cards) = s.get_json(&format!("/cards/{account}"), &token).await;
    assert_eq!(status, StatusCode::OK, "{cards}");
    let cards = cards.as_array().unwrap();
    assert_eq!(cards.len(), 2, "{cards:?}");
    s.assert_ledger_balanced().await;
}

async fn receiver_outside_the_sandbox_is_paid_through_the_external_network(backend: Backend) {
    let s = Server::start(backend);
    let before = s.balance("440563...5096").await;
    let mut body = seed_like_body(&invoice(), json!(500));
    // A valid VISA test number that the sandbox did not issue.
    body["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": "4111111111111111"});
    let (status, r) = s.pay(&body).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["receiverCardPAN"], "411111...1111");
    assert_eq!(s.balance("440563...5096").await, before - 50_000 - 9_500);
    s.assert_ledger_balanced().await;
}
