//! Guessing a CVC or an expiry date is stopped (issue 12, item 7): wrong answers are counted per
//! card and merchant in the database, and a card with too many is refused (492) to that merchant
//! for a while, across restarts and instances; other merchants keep using a public test card.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

crate::tests! {
    both: [
        wrong_answers_block_the_card_for_the_merchant_that_guessed,
    ],
    sqlite: [
        a_block_ends_after_its_time,
        wrong_client_secrets_are_limited_per_client_and_per_address,
    ],
    postgres: [
        two_instances_share_one_count,
    ],
}

/// One transfer from the seed's VISA with this CVC and expiry; returns (status, body).
async fn try_card(s: &Server, cvc: &str, month: &str) -> (StatusCode, Value) {
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["sender"]["cvc"] = json!(cvc);
    b["card"]["sender"]["expire"]["month"] = json!(month);
    s.pay(&b).await
}

async fn wrong_answers_block_the_card_for_the_merchant_that_guessed(backend: Backend) {
    let mut s = Server::start(backend);
    // A right answer clears the count: two wrong, one right, two wrong is not a block.
    for (cvc, month, code) in [("100", "01", 466), ("815", "02", 457)] {
        let (st, r) = try_card(&s, cvc, month).await;
        assert_eq!(
            (st, r["code"].as_u64()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{r}"
        );
    }
    let (st, r) = try_card(&s, "815", "01").await;
    assert_eq!(st, StatusCode::OK, "{r}");
    for cvc in ["101", "102"] {
        let (_, r) = try_card(&s, cvc, "01").await;
        assert_eq!(r["code"], 466, "{r}");
    }
    // The third wrong answer in a row is still answered as wrong; from then on the card is
    // blocked, even with the right CVC.
    let (_, r) = try_card(&s, "103", "01").await;
    assert_eq!(r["code"], 466, "{r}");
    let (st, r) = try_card(&s, "815", "01").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], 492, "{r}");
    assert!(r["message"].as_str().unwrap().contains("until"), "{r}");

    // The block is in the database: a restart keeps it.
    s.restart();
    let (_, r) = try_card(&s, "815", "01").await;
    assert_eq!(r["code"], 492, "{r}");

    // Another merchant still uses the public test card: one merchant cannot block a
    // documented card for everyone.
    let b = s.add_merchant("shop-b");
    let token_b = s.token_of(&b).await;
    let mut body = seed_like_body(&invoice(), json!(100));
    body["order"]["terminalId"] = b["terminal"].clone();
    body["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD});
    let (st, r) = s.transfer(&token_b, &body).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    s.assert_ledger_balanced().await;
}

async fn a_block_ends_after_its_time(backend: Backend) {
    let s = Server::start_with(
        backend,
        &["--card-guess-limit", "1", "--card-guess-block", "2s"],
    );
    let (_, r) = try_card(&s, "000", "01").await;
    assert_eq!(r["code"], 466, "{r}");
    let (_, r) = try_card(&s, "815", "01").await;
    assert_eq!(r["code"], 492, "{r}");
    // Time is what is tested: the 2 s block, and a margin.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (st, r) = try_card(&s, "815", "01").await;
    assert_eq!(st, StatusCode::OK, "{r}");
}

async fn two_instances_share_one_count(_: Backend) {
    let pg = crate::common::pg::PgDb::create();
    let a = Server::start_instance(&pg.url, TEST_MASTER_KEY, &[]);
    let b = Server::start_instance(&pg.url, TEST_MASTER_KEY, &[]);
    // Guesses alternate between the instances behind a balancer; the count is one.
    for (s, cvc) in [(&a, "201"), (&b, "202"), (&a, "203")] {
        let (_, r) = try_card(s, cvc, "01").await;
        assert_eq!(r["code"], 466, "{r}");
    }
    let (_, r) = try_card(&b, "815", "01").await;
    assert_eq!(r["code"], 492, "{r}");
}

/// A token request for client `test` with this secret, sent from this loopback address.
async fn token_from(s: &Server, from: [u8; 4], secret: &str) -> reqwest::Response {
    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(from))
        .build()
        .unwrap();
    http.post(s.path("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "transfer"),
            ("client_id", CLIENT_ID),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
}

async fn wrong_client_secrets_are_limited_per_client_and_per_address(backend: Backend) {
    let s = Server::start_with(
        backend,
        &[
            "--auth-failures-per-client",
            "3",
            "--auth-failures-per-address",
            "5",
        ],
    );
    // The merchant's own server (127.0.0.1) has authenticated before.
    assert_eq!(
        token_from(&s, [127, 0, 0, 1], CLIENT_SECRET).await.status(),
        200
    );
    // A guesser at 127.0.0.2 fails three times; then even the right secret is refused to it,
    // with Retry-After, while the merchant's server carries on.
    for n in 0..3 {
        let r = token_from(&s, [127, 0, 0, 2], &format!("guess-{n}")).await;
        assert_eq!(r.status(), 401);
    }
    let r = token_from(&s, [127, 0, 0, 2], CLIENT_SECRET).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(
        token_from(&s, [127, 0, 0, 1], CLIENT_SECRET).await.status(),
        200
    );
    // The sandbox API's Basic authentication counts the same way.
    let r = s
        .http
        .get(s.path("/sandbox/cards"))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // An address failing for many clients is refused for all of them.
    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 3]))
        .build()
        .unwrap();
    for n in 0..5 {
        let r = http
            .post(s.path("/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "transfer"),
                ("client_id", format!("nobody-{n}").as_str()),
                ("client_secret", "x"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    assert_eq!(
        token_from(&s, [127, 0, 0, 3], CLIENT_SECRET).await.status(),
        429
    );

    // Failures are logged with the client id, never the secret.
    let log = s.log();
    assert!(log.contains("client authentication failed"), "{log}");
    assert!(log.contains("nobody-1") && log.contains("127.0.0.3"));
    assert!(!log.contains("guess-1"), "a secret reached the log");
}
