//! Status, bad input, health, configuration, and what reaches the disk and the logs.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::tests! {
    both: [
        status_answers_for_the_tokens_terminal_only,
        bad_input_gets_a_clear_error_naming_the_problem,
        health_readiness_request_ids_and_the_sdk_profile_call,
        no_card_number_or_cvc_reaches_the_database_or_the_logs,
    ],
    sqlite: [
        the_sandbox_api_can_be_turned_off,
        production_mode_has_no_route_that_creates_money_or_cards,
        bad_configuration_fails_fast_with_a_clear_message,
    ],
}

async fn status_answers_for_the_tokens_terminal_only(backend: Backend) {
    let s = Server::start(backend);
    let inv = invoice();
    let (st, paid) = s.pay(&seed_like_body(&inv, json!(100))).await;
    assert_eq!(st, StatusCode::OK);
    let token = s.token(&[("terminal", TERMINAL_2)]).await;
    for path in [
        "/check-status/p2p/transaction",
        "/api/check-status/payment/transaction",
    ] {
        let (st, v) = s.get_json(&format!("{path}/{inv}"), &token).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["resultCode"], "100");
        assert_eq!(v["resultMessage"], "SUCCESS");
        let t = &v["transaction"];
        assert_eq!(t["id"], paid["id"]);
        assert_eq!(t["invoiceID"], inv.as_str());
        assert_eq!(t["amount"], json!(100));
        assert_eq!(t["statusName"], "CHARGE");
        assert_eq!(t["reasonCode"], "0");
        assert_eq!(t["reference"], paid["reference"]);
        assert_eq!(t["cardMask"], "440563...5096");
        assert_eq!(t["terminalID"], TERMINAL_2);
    }
    // Another terminal of the same merchant sees nothing.
    let other = s.token(&[("terminal", TERMINAL)]).await;
    let (_, v) = s
        .get_json(&format!("/check-status/p2p/transaction/{inv}"), &other)
        .await;
    assert_eq!(v["resultCode"], "102");
    assert!(v.get("transaction").is_none());
    // A token without a terminal.
    let bare = s.token(&[]).await;
    let (_, v) = s
        .get_json(&format!("/check-status/p2p/transaction/{inv}"), &bare)
        .await;
    assert_eq!(v["resultCode"], "104");
    // A token whose scope allows no service calls.
    let narrow = s
        .token(&[("scope", "statistics"), ("terminal", TERMINAL_2)])
        .await;
    let (st, v) = s
        .get_json(&format!("/check-status/p2p/transaction/{inv}"), &narrow)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["message"].as_str().unwrap().contains("scope"), "{v}");
    // Unknown invoice.
    let (_, v) = s
        .get_json("/check-status/p2p/transaction/999999999", &token)
        .await;
    assert_eq!(v["resultCode"], "102");
    // Another merchant's token never sees our invoice.
    let m = s.add_merchant("peer");
    let resp = s
        .http
        .post(s.path("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "payment"),
            ("client_id", "peer"),
            ("client_secret", m["client_secret"].as_str().unwrap()),
            ("terminal", m["terminal"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let t: Value = resp.json().await.unwrap();
    let (_, v) = s
        .get_json(
            &format!("/check-status/p2p/transaction/{inv}"),
            t["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(v["resultCode"], "102");
}

async fn bad_input(s: &Server, body: &str) -> String {
    let token = s.token(&[]).await;
    let (st, v) = s.transfer_text(&token, body).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body} -> {v}");
    assert_eq!(v["code"], 477, "{v}");
    // Bad input does not spend the token: it still works for a valid request.
    let good = seed_like_body(&invoice(), json!(1));
    let (st, v) = s.transfer(&token, &good).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (_, e) = s.transfer_text(&s.token(&[]).await, body).await;
    e["message"].as_str().unwrap().to_string()
}

async fn bad_input_gets_a_clear_error_naming_the_problem(backend: Backend) {
    let s = Server::process(backend);
    let good = seed_like_body(&invoice(), json!(100));
    let msg = bad_input(&s, "{\"order\": {\"amount\": 100,}").await;
    assert!(msg.contains("line 1 column"), "{msg}");

    let mut b = good.clone();
    b["order"].as_object_mut().unwrap().remove("amount");
    let msg = bad_input(&s, &b.to_string()).await;
    assert!(msg.contains("order") && msg.contains("amount"), "{msg}");

    let mut b = good.clone();
    b["order"]["currency"] = json!(5);
    let msg = bad_input(&s, &b.to_string()).await;
    assert!(msg.contains("order.currency"), "{msg}");

    let mut b = good.clone();
    b["card"]["sender"]["save"] = json!("yes");
    let msg = bad_input(&s, &b.to_string()).await;
    assert!(msg.contains("card.sender.save"), "{msg}");

    let mut b = good.clone();
    b["card"]["receiver"]["transferType"] = json!("TYPEWIRE");
    let msg = bad_input(&s, &b.to_string()).await;
    assert!(msg.contains("card.receiver.transferType"), "{msg}");

    for pan in [
        "4405 6397 0401 5096",
        "44056397O4015096",
        "4405-6397-0401-5096",
    ] {
        let mut b = good.clone();
        b["card"]["sender"]["cardCred"] = json!(pan);
        let msg = bad_input(&s, &b.to_string()).await;
        assert!(
            msg.contains("card.sender.cardCred") && msg.contains("digits only"),
            "{msg}"
        );
        assert!(!msg.contains(pan), "the error never echoes the number");
    }
    let mut b = good.clone();
    b["card"]["sender"].as_object_mut().unwrap().remove("cvc");
    let msg = bad_input(&s, &b.to_string()).await;
    assert!(msg.contains("card.sender.cvc"), "{msg}");

    let mut b = good.clone();
    b["card"]["sender"]["expire"] = json!({"month": "13", "year": "25"});
    let msg = bad_input(&s, &b.to_string()).await;
    assert!(msg.contains("card.sender.expire"), "{msg}");

    let mut b = good.clone();
    b["card"]["sender"]["save"] = json!(true);
    b["order"].as_object_mut().unwrap().remove("accountID");
    let msg = bad_input(&s, &b.to_string()).await;
    assert!(msg.contains("accountID"), "{msg}");

    let mut b = good.clone();
    b["order"]["postLink"] = json!("javascript:alert(1)");
    let msg = bad_input(&s, &b.to_string()).await;
    assert!(msg.contains("order.postLink"), "{msg}");

    let mut b = good.clone();
    b["card"]["sender"]["cvc"] = json!("81");
    let msg = bad_input(&s, &b.to_string()).await;
    assert!(
        msg.contains("card.sender.cvc must be 3 or 4 digits"),
        "{msg}"
    );

    // A wrong method: the error shape, not an empty body.
    let resp = s
        .http
        .get(s.path("/payments/cards/auth"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let v: Value = resp.json().await.unwrap();
    assert!(v["code"].is_u64() && v["message"].is_string());

    // Oversized body.
    let token = s.token(&[]).await;
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(200_000));
    let (st, v) = s.transfer_text(&token, &huge).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["code"], 477);
    // The rest of that body was never read: the server closes the connection and says so,
    // so the client does not send its next request down it.
    let resp = s
        .http
        .post(s.path("/payments/cards/auth"))
        .bearer_auth(&token)
        .body(huge.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.headers()["connection"], "close");
    // Unknown endpoint: JSON error, not an empty 404.
    let resp = s.http.get(s.path("/nope")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let v: Value = resp.json().await.unwrap();
    assert!(v["code"].is_u64());
    // Nothing above was a 500, and the server is still up.
    assert!(!s.log().contains("status=500"));
}

async fn health_readiness_request_ids_and_the_sdk_profile_call(backend: Backend) {
    let s = Server::process(backend);
    let r = s.http.get(s.path("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = s.http.get(s.path("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(id.len() >= 16);
    assert!(s.log().contains(&id), "the request id is in the log");
    let r = s
        .http
        .post(s.path("/public-profile"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({}));
    // The sandbox API needs the merchant's credentials.
    let r = s.http.get(s.path("/sandbox/cards")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s
        .http
        .get(s.path("/sandbox/ledger"))
        .basic_auth("test", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let cards = s.sandbox_get("/sandbox/cards").await;
    let cards = cards.as_array().unwrap();
    // The seed's six documented cards and its 3-D Secure enrolled one (docs/sandbox.md).
    assert_eq!(cards.len(), 7);
    for c in cards {
        for k in ["mask", "brand", "status", "balance", "currency"] {
            assert!(c.get(k).is_some(), "{c}");
        }
    }
    let visa = cards.iter().find(|c| c["mask"] == "440563...5096").unwrap();
    assert_eq!(
        (visa["status"].as_str(), visa["balance"].as_u64()),
        (Some("unlock"), Some(1_000_000))
    );
    let amex = cards.iter().find(|c| c["mask"] == "377514...4820").unwrap();
    assert_eq!(amex["status"], "lock");
}

async fn sandbox_cards_status(s: &Server) -> StatusCode {
    let r = s.sandbox(reqwest::Method::GET, "/sandbox/cards").send();
    r.await.unwrap().status()
}

async fn the_sandbox_api_can_be_turned_off(backend: Backend) {
    let s = Server::start_with(backend, &["--sandbox-api", "false"]);
    assert_eq!(sandbox_cards_status(&s).await, StatusCode::NOT_FOUND);
    // The ePay API is unaffected.
    let (st, _) = s.pay(&seed_like_body(&invoice(), json!(10))).await;
    assert_eq!(st, StatusCode::OK);
}

async fn production_mode_has_no_route_that_creates_money_or_cards(backend: Backend) {
    let s = Server::start_with(backend, &["--mode", "production"]);
    // No sandbox API at all, and no public test merchant to authenticate with.
    for path in [
        "/sandbox/cards",
        "/sandbox/terminals",
        "/sandbox/cards/x/topup",
    ] {
        let r = s
            .sandbox(reqwest::Method::POST, path)
            .json(&json!({"expire": "12/39", "cvc": "123", "balance": "1000", "amount": "1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (st, e) = s.token_raw(&[]).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{e}");
    let log = s.log();
    assert!(
        log.contains("mode=\"production\"") || log.contains("mode=production"),
        "{log}"
    );
    assert!(log.contains("sandbox_api=false"), "{log}");
    assert!(
        log.contains("callback_targets=\"public\"") || log.contains("callback_targets=public"),
        "{log}"
    );
    drop(s);

    // Asked for, the test merchant is seeded; the sandbox API stays off.
    let s = Server::start_with(backend, &["--mode", "production", "--seed-sandbox"]);
    let (st, r) = s.pay(&seed_like_body(&invoice(), json!(10))).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(sandbox_cards_status(&s).await, StatusCode::NOT_FOUND);
}

async fn bad_configuration_fails_fast_with_a_clear_message(_: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(run(&["--database", "mysql://x"]).contains("unsupported database URL"));
    assert!(run(&["--master-key", "abc"]).contains("64 hexadecimal"));
    assert!(run(&["--token-ttl", "0"]).contains("token-ttl"));
    assert!(run(&["--mode", "production", "--sandbox-api", "true"]).contains("--mode production"));
    assert!(run(&["--sandbox-funding-cap", "lots"]).contains("--sandbox-funding-cap"));
    assert!(run(&["--card-guess-limit", "0"]).contains("--card-guess-limit"));
    assert!(run(&["--instance-id", "two words"]).contains("--instance-id"));
    assert!(run(&["--instance-id", ""]).contains("--instance-id"));
    assert!(run(&["--lease-check-interval", "0s"]).contains("--lease-check-interval"));
    assert!(run(&["--database", "postgres://nobody@127.0.0.1:1/x"]).contains("--master-key"));
    let out = std::process::Command::new(bin())
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
    let out = std::process::Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("AQSHA_TOKEN_TTL", "-5")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "environment variables are read and checked too"
    );
}

async fn no_card_number_or_cvc_reaches_the_database_or_the_logs(backend: Backend) {
    let mut s = Server::process(backend);
    // Every kind of flow: success with saving, declines, bad input, replays.
    let mut b = seed_like_body(&invoice(), json!(100));
    b["card"]["sender"]["save"] = json!(true);
    b["card"]["receiver"] =
        json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD, "save": true});
    let (st, _) = s.pay(&b).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s.pay(&b).await;
    assert_eq!(st, StatusCode::OK);
    let mut bad = seed_like_body(&invoice(), json!(100));
    bad["card"]["sender"]["cvc"] = json!("525");
    s.pay(&bad).await;
    let mut amex = seed_like_body(&invoice(), json!(100));
    amex["card"]["sender"]["cardCred"] = json!(AMEX_LOCKED);
    amex["card"]["sender"]["cvc"] = json!("4169");
    s.pay(&amex).await;
    let mut spaced = seed_like_body(&invoice(), json!(100));
    spaced["card"]["sender"]["cardCred"] = json!("4405 6397 0401 5096");
    s.pay(&spaced).await;
    let garbage = format!("{{\"card\": \"{MASTERCARD}\", \"cvc\": \"815\"");
    s.transfer_text(&s.token(&[]).await, &garbage).await;
    // Stop cleanly so the WAL is checkpointed and everything is on disk.
    s.stop();

    let paid = b["order"]["id"].as_str().unwrap();
    let pans = [VISA, MASTERCARD, AMEX_LOCKED, "4405630000007622"];
    let cvcs = ["815", "525", "4169"];
    assert_no_card_data(&s, paid, &pans, &cvcs);
    // The log has the requests, by route template only.
    let log = s.log();
    assert!(log.contains("/payments/cards/auth"));
    assert!(!log.to_lowercase().contains("bearer"));
}
