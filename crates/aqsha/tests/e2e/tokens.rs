//! The token endpoint: body encodings, OAuth errors, single use, expiry.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::tests! {
    both: [
        token_accepts_json_urlencoded_and_bodies_without_content_type,
        token_errors_follow_oauth2,
        a_token_is_spent_by_one_transfer,
        missing_unknown_and_expired_tokens_are_refused_with_401,
    ],
    sqlite: [
        tokens_are_sealed_never_stored_and_tamper_evident,
    ],
}

async fn token_accepts_json_urlencoded_and_bodies_without_content_type(backend: Backend) {
    let s = Server::start(backend);
    // JSON with a numeric amount written as 100.0.
    let resp = s
        .http
        .post(s.path("/oauth2/token"))
        .json(&json!({"grant_type": "client_credentials", "scope": " transfer ", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "invoiceID": "000123456", "amount": 100.0,
            "currency": "KZT", "terminal": TERMINAL}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["scope"], "transfer");
    // Fields in any order, no Content-Type at all.
    let resp = s
        .http
        .post(s.path("/epay2/oauth2/token"))
        .body(format!(
            "amount=100.0&client_secret={CLIENT_SECRET}&scope=transfer&grant_type=client_credentials&client_id=test&invoiceID=000123457"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Client credentials in an Authorization: Basic header.
    let resp = s
        .http
        .post(s.path("/oauth2/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "payment")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn token_errors_follow_oauth2(backend: Backend) {
    let s = Server::start(backend);
    let (st, wrong) = s.token_raw(&[("client_secret", "not-the-secret")]).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong["error"], "invalid_client");
    let (st, unknown) = s.token_raw(&[("client_id", "nobody")]).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown, wrong,
        "unknown client and wrong secret look the same"
    );

    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("grant_type", "authorization_code")],
            "unsupported_grant_type",
        ),
        // The password grant (issue 14) needs the cabinet login.
        (&[("grant_type", "password")], "invalid_request"),
        (&[("scope", "transfer teleport")], "invalid_scope"),
        (&[("scope", "")], "invalid_scope"),
        (&[("invoiceID", "12345")], "invalid_request"),
        (&[("invoiceID", "12345678901234567")], "invalid_request"),
        (&[("invoiceID", "12345a7")], "invalid_request"),
        (&[("amount", "1.001")], "invalid_request"),
        (&[("amount", "-1")], "invalid_request"),
        (&[("currency", "EUR")], "invalid_request"),
        (
            &[("terminal", "00000000-0000-0000-0000-000000000000")],
            "invalid_request",
        ),
        (&[("postLink", "ftp://example/x")], "invalid_request"),
    ];
    for (fields, error) in cases {
        let (st, body) = s.token_raw(fields).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{fields:?}: {body}");
        assert_eq!(body["error"], *error, "{fields:?}: {body}");
        assert!(body["error_description"].as_str().unwrap().len() > 3);
    }
    let resp = s
        .http
        .post(s.path("/oauth2/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()["cache-control"], "no-store");
}

async fn a_token_is_spent_by_one_transfer(backend: Backend) {
    let s = Server::start(backend);
    let body = seed_like_body(&invoice(), json!(100));
    let token = s.token_for(&body["order"]).await;
    let (st, first) = s.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::OK);
    // Same token, another request: refused, nothing moves.
    let before = s.balance("440563...5096").await;
    let mut other = body.clone();
    other["order"]["description"] = json!("something else");
    let resp = s
        .http
        .post(s.path("/p2p/transfer"))
        .bearer_auth(&token)
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let e: Value = resp.json().await.unwrap();
    assert!(e["code"].is_u64() && e["message"].is_string(), "{e}");
    assert_eq!(s.balance("440563...5096").await, before);
    // A declined transfer spends its token too.
    let mut bad = seed_like_body(&invoice(), json!(100));
    bad["card"]["sender"]["cvc"] = json!("000");
    let t2 = s.token_for(&bad["order"]).await;
    let (st, declined) = s.transfer(&t2, &bad).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // The right CVC on the spent token: the request digest holds no card data, so this is the
    // same request, and its stored decline is replayed; nothing is paid.
    bad["card"]["sender"]["cvc"] = json!("815");
    let (st, replay) = s.transfer(&t2, &bad).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(replay, declined);
    bad["order"]["description"] = json!("another try");
    let (st, _) = s.transfer(&t2, &bad).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(s.balance("440563...5096").await, before);
    assert_eq!(first["status"], "CHARGE");
}

async fn missing_unknown_and_expired_tokens_are_refused_with_401(backend: Backend) {
    let s = Server::start_configured(backend, |c| c.token_ttl_secs = 1);
    let body = seed_like_body(&invoice(), json!(100));
    let resp = s
        .http
        .post(s.path("/payments/cards/auth"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (st, _) = s.transfer("NOT_A_TOKEN", &body).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, v) = s.token_raw(&[]).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["expires_in"], "1");
    let token = v["access_token"].as_str().unwrap().to_string();
    // Time is what is tested: the one-second token outlived, with a margin for clock rounding.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let before = s.balance("440563...5096").await;
    let (st, e) = s.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(e["message"].as_str().unwrap().contains("expired"), "{e}");
    let (st, _) = s.get_json("/cards/testUser1", &token).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(s.balance("440563...5096").await, before);
}

/// Tokens are sealed claims: the token text is never written anywhere, a changed character makes
/// it unknown, and a server with another master key cannot read it. (Tokens never reach the
/// store, so this holds on either backend; it runs on SQLite, whose files the test can read.)
async fn tokens_are_sealed_never_stored_and_tamper_evident(backend: Backend) {
    let s = Server::start(backend);
    let other = Server::start_with(backend, &["--master-key", &"ab".repeat(32)]);
    let inv = invoice();
    let token = s
        .token(&[
            ("invoiceID", inv.as_str()),
            ("postLink", "https://sealed.example/ok"),
            ("secret_hash", "sekret-value-42"),
        ])
        .await;
    assert!(!token.to_lowercase().contains("sekret") && !token.contains("sealed"));
    assert!(token
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));

    let body = seed_like_body(&inv, json!(100));
    // One character changed: unknown, and nothing is spent.
    let mut forged: Vec<char> = token.chars().collect();
    let i = forged.len() / 2;
    forged[i] = if forged[i] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let (st, e) = s.transfer(&forged, &body).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(
        e["message"].as_str().unwrap().contains("unknown token"),
        "{e}"
    );
    // Another master key: unknown there, for transfers and for service calls alike.
    let (st, _) = other.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = other.get_json("/cards/testUser1", &token).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // The genuine token works where it was issued, once.
    let (st, v) = s.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "CHARGE");
    let (st, _) = s
        .transfer(&token, &seed_like_body(&invoice(), json!(100)))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    for f in files_under(&s.data_dir()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token text is in {}",
            f.display()
        );
    }
}
