//! postLink / failurePostLink delivery to real HTTP receivers on loopback.

use crate::common::receiver::{free_port, Answer, Receiver};
use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

crate::tests! {
    both: [
        success_and_failure_callbacks_carry_the_full_body_signed,
        callback_urls_from_the_token_are_used_when_the_order_has_none,
        failed_attempts_are_retried_until_accepted,
        a_receiver_that_is_down_at_first_still_gets_the_event,
        an_event_in_flight_when_the_server_is_killed_is_delivered_after_restart,
        a_slow_receiver_does_not_hold_back_another,
        production_setting_refuses_private_targets_even_by_name,
    ],
}

/// Fast retries so the tests run in seconds.
/// `--callback-retry-schedule 300ms --callback-timeout 2s`: retries within a test's patience.
const FAST: &[&str] = &[
    "--callback-retry-schedule",
    "300ms",
    "--callback-timeout",
    "2s",
];

/// [`FAST`] for an in-process server.
fn fast(c: &mut aqsha_server::Config) {
    c.callbacks.retry_schedule = vec![Duration::from_millis(300)];
    c.callbacks.timeout = Duration::from_secs(2);
}

pub(crate) async fn pay_with_links(
    s: &Server,
    body: &mut Value,
    ok: &str,
    fail: &str,
    secret_hash: &str,
) -> (StatusCode, Value) {
    body["order"]["postLink"] = json!(ok);
    body["order"]["failurePostLink"] = json!(fail);
    let o = &body["order"];
    let amount = o["amount"].to_string();
    let token = s
        .token(&[
            ("invoiceID", o["id"].as_str().unwrap()),
            ("amount", &amount),
            ("currency", "KZT"),
            ("terminal", o["terminalId"].as_str().unwrap()),
            ("postLink", ok),
            ("failurePostLink", fail),
            ("secret_hash", secret_hash),
        ])
        .await;
    s.transfer(&token, body).await
}

async fn events(s: &Server, invoice: &str) -> Vec<Value> {
    s.sandbox_get(&format!("/sandbox/callbacks?invoiceId={invoice}"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

async fn wait_status(s: &Server, invoice: &str, status: &str, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let ev = events(s, invoice).await;
        if let Some(e) = ev.iter().find(|e| e["status"] == status) {
            return e.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {status} event: {ev:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn success_and_failure_callbacks_carry_the_full_body_signed(backend: Backend) {
    let s = Server::start_configured(backend, fast);
    let r = Receiver::start(&[]).await;
    let secret: Value = s.sandbox_get("/sandbox/callback-secret").await;
    let secret = secret["callbackSecret"].as_str().unwrap().to_string();

    let inv = invoice();
    let mut body = seed_like_body(&inv, json!(100));
    body["card"]["sender"]["save"] = json!(true);
    let (st, paid) = pay_with_links(
        &s,
        &mut body,
        &format!("{}/ok", r.url),
        &format!("{}/fail", r.url),
        "my-hash: ÄÖ 1",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let hits = r.wait_for(1, 30).await;
    let hit = &hits[0];
    assert_eq!(hit.path, "/ok");
    let b = hit.json();
    assert_eq!(b["id"], paid["id"]);
    assert_eq!(b["invoiceId"], inv.as_str());
    assert_eq!(b["amount"], json!(100));
    assert_eq!(b["currency"], "KZT");
    assert_eq!(b["terminal"], TERMINAL_2);
    assert_eq!(b["accountId"], "testUser1");
    assert_eq!(b["description"], "Test p2p payment");
    assert_eq!(b["cardMask"], "440563...5096");
    assert_eq!(b["cardType"], "VISA");
    assert_eq!(b["reference"], paid["reference"]);
    assert_eq!(b["code"], "ok");
    assert_eq!(b["reasonCode"], json!(0));
    assert_eq!(b["name"], "Arman Ali");
    assert_eq!(b["email"], "dosbols@halykbank.kz");
    assert_eq!(b["cardId"], paid["senderCardID"]);
    assert_eq!(
        b["secret_hash"], "my-hash: ÄÖ 1",
        "secret_hash echoed exactly"
    );
    assert_eq!(b["approvalCode"].as_str().unwrap().len(), 6);
    for k in [
        "dateTime", "language", "issuer", "secure", "reason", "phone",
    ] {
        assert!(b.get(k).is_some(), "{k} missing");
    }
    // The signature verifies with the documented procedure, and not for a changed body.
    let sig = hit.header("x-aqsha-signature");
    let now = chrono::Utc::now().timestamp();
    aqsha_wire::signature::verify(&secret, &sig, &hit.body, now, 300).unwrap();
    let mut tampered = hit.body.to_vec();
    let pos = tampered.iter().position(|&c| c == b'1').unwrap();
    tampered[pos] = b'2';
    assert!(aqsha_wire::signature::verify(&secret, &sig, &tampered, now, 300).is_err());
    assert!(aqsha_wire::signature::verify("wrong-secret", &sig, &hit.body, now, 300).is_err());
    let event_id = hit.header("x-aqsha-event-id");
    assert_eq!(hit.header("x-aqsha-attempt"), "1");
    let ev = wait_status(&s, &inv, "delivered", 30).await;
    assert_eq!(ev["id"], event_id.as_str());
    assert_eq!(ev["kind"], "success");

    // A decline goes to failurePostLink.
    let inv2 = invoice();
    let mut body = seed_like_body(&inv2, json!(100));
    body["card"]["sender"]["cvc"] = json!("000");
    let (st, declined) = pay_with_links(
        &s,
        &mut body,
        &format!("{}/ok", r.url),
        &format!("{}/fail", r.url),
        "h2",
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let hits = r.wait_for(2, 30).await;
    let hit = &hits[1];
    assert_eq!(hit.path, "/fail");
    let b = hit.json();
    assert_eq!(b["code"], "error");
    assert_eq!(b["reasonCode"], declined["code"]);
    assert!(b["reasonCode"].is_u64());
    assert_eq!(b["reason"], declined["message"]);
    assert_eq!(b["invoiceId"], inv2.as_str());
    assert_eq!(b["secret_hash"], "h2");
    aqsha_wire::signature::verify(
        &secret,
        &hit.header("x-aqsha-signature"),
        &hit.body,
        now,
        300,
    )
    .unwrap();

    // No URL, no event.
    let inv3 = invoice();
    let (st, _) = s.pay(&seed_like_body(&inv3, json!(1))).await;
    assert_eq!(st, StatusCode::OK);
    assert!(events(&s, &inv3).await.is_empty());
}

async fn callback_urls_from_the_token_are_used_when_the_order_has_none(backend: Backend) {
    let s = Server::start_configured(backend, fast);
    let r = Receiver::start(&[]).await;
    let body = seed_like_body(&invoice(), json!(5));
    let o = &body["order"];
    let ok = format!("{}/from-token", r.url);
    let token = s
        .token(&[
            ("invoiceID", o["id"].as_str().unwrap()),
            ("terminal", TERMINAL_2),
            ("postLink", &ok),
        ])
        .await;
    let (st, _) = s.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(r.wait_for(1, 30).await[0].path, "/from-token");
}

async fn failed_attempts_are_retried_until_accepted(backend: Backend) {
    let s = Server::start_configured(backend, fast);
    let r = Receiver::start(&[Answer::Status(500), Answer::Status(500)]).await;
    let inv = invoice();
    let mut body = seed_like_body(&inv, json!(100));
    let (st, _) = pay_with_links(&s, &mut body, &r.url, &r.url, "x").await;
    assert_eq!(st, StatusCode::OK);
    let ev = wait_status(&s, &inv, "delivered", 30).await;
    let hits = r.hits();
    assert_eq!(hits.len(), 3, "three attempts, then accepted");
    let ids: Vec<String> = hits.iter().map(|h| h.header("x-aqsha-event-id")).collect();
    assert!(
        ids.iter().all(|i| i == &ids[0]),
        "a stable event id on every attempt"
    );
    let attempts: Vec<String> = hits.iter().map(|h| h.header("x-aqsha-attempt")).collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    let recorded = ev["attempts"].as_array().unwrap();
    let statuses: Vec<Value> = recorded.iter().map(|a| a["httpStatus"].clone()).collect();
    assert_eq!(statuses, [json!(500), json!(500), json!(200)]);
    assert!(recorded
        .iter()
        .all(|a| a["durationMs"].is_u64() && a["at"].is_string()));
    // Each attempt keeps the start of the answer and, but for the last, when the next was due.
    let excerpts: Vec<Value> = recorded
        .iter()
        .map(|a| a["responseExcerpt"].clone())
        .collect();
    assert_eq!(
        excerpts,
        [
            json!("answer 500"),
            json!("answer 500"),
            json!("answer 200")
        ]
    );
    let time = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert!(time(&recorded[0]["nextAttemptAt"]) <= time(&recorded[1]["at"]));
    assert!(recorded[2].get("nextAttemptAt").is_none());

    // Re-send on demand: the same event, once more.
    let resend = format!("/sandbox/callbacks/{}/resend", ev["id"].as_str().unwrap());
    let resp = s
        .sandbox(reqwest::Method::POST, &resend)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let hits = r.wait_for(4, 30).await;
    assert_eq!(hits[3].header("x-aqsha-event-id"), ids[0]);
    assert_eq!(hits[3].body, hits[0].body);
}

async fn a_receiver_that_is_down_at_first_still_gets_the_event(backend: Backend) {
    let s = Server::start_configured(backend, fast);
    let addr = free_port();
    let inv = invoice();
    let mut body = seed_like_body(&inv, json!(100));
    let url = format!("http://{addr}/late");
    let (st, _) = pay_with_links(&s, &mut body, &url, &url, "x").await;
    assert_eq!(st, StatusCode::OK);
    // Let a few attempts fail against the closed port.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ev = events(&s, &inv).await;
        if ev[0]["attempts"].as_array().unwrap().len() >= 2 {
            let err = ev[0]["attempts"][0]["error"].as_str().unwrap().to_string();
            assert!(err.contains("connection"), "{err}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = Receiver::start_at(addr, &[]).await;
    let hits = r.wait_for(1, 30).await;
    assert_eq!(hits[0].path, "/late");
    wait_status(&s, &inv, "delivered", 30).await;
}

async fn an_event_in_flight_when_the_server_is_killed_is_delivered_after_restart(backend: Backend) {
    let mut s = Server::start_with(backend, FAST);
    // The first attempt hangs: the server is killed while it is in flight.
    let r = Receiver::start(&[Answer::Hang(Duration::from_secs(60))]).await;
    let inv = invoice();
    let mut body = seed_like_body(&inv, json!(100));
    let (st, _) = pay_with_links(&s, &mut body, &r.url, &r.url, "x").await;
    assert_eq!(st, StatusCode::OK, "the transfer was acknowledged");
    r.wait_for(1, 30).await;
    s.crash();
    s.restart();
    // The restarted instance releases the killed attempt's lease (same data directory, same
    // instance id) and the event is delivered again (`lease_reclaim` has the details).
    let hits = r.wait_for(2, 30).await;
    assert_eq!(
        hits[0].header("x-aqsha-event-id"),
        hits[1].header("x-aqsha-event-id")
    );
    wait_status(&s, &inv, "delivered", 30).await;
}

async fn a_slow_receiver_does_not_hold_back_another(backend: Backend) {
    let s = Server::start_configured(backend, |c| {
        c.callbacks.retry_schedule = vec![Duration::from_secs(3600)];
        c.callbacks.timeout = Duration::from_secs(3);
    });
    let slow = Receiver::start(&[Answer::Hang(Duration::from_secs(60))]).await;
    let fast = Receiver::start(&[]).await;
    let slow_inv = invoice();
    let mut body = seed_like_body(&slow_inv, json!(100));
    pay_with_links(&s, &mut body, &slow.url, &slow.url, "x").await;
    slow.wait_for(1, 30).await;
    let fast_inv = invoice();
    let mut body = seed_like_body(&fast_inv, json!(100));
    pay_with_links(&s, &mut body, &fast.url, &fast.url, "x").await;
    fast.wait_for(1, 30).await;
    wait_status(&s, &fast_inv, "delivered", 30).await;
    // The slow event's first attempt was still running when the fast one was delivered.
    let slow_ev = events(&s, &slow_inv).await;
    assert_eq!(slow_ev[0]["status"], "pending");
    assert!(
        slow_ev[0]["attempts"].as_array().unwrap().is_empty(),
        "{slow_ev:?}"
    );
    // Then it times out and is scheduled for a retry.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ev = events(&s, &slow_inv).await;
        if let Some(a) = ev[0]["attempts"].as_array().unwrap().first() {
            assert!(a["error"].as_str().unwrap().contains("timed out"), "{a}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn production_setting_refuses_private_targets_even_by_name(backend: Backend) {
    let s = Server::start_configured(backend, |c| {
        c.callbacks.public_only = true;
        c.callbacks.retry_schedule = vec![Duration::from_millis(300)];
    });
    let r = Receiver::start(&[]).await;
    let port = r.url.rsplit(':').next().unwrap().to_string();
    for host in ["127.0.0.1", "localhost"] {
        let inv = invoice();
        let mut body = seed_like_body(&inv, json!(1));
        let url = format!("http://{host}:{port}/x");
        let (st, _) = pay_with_links(&s, &mut body, &url, &url, "x").await;
        assert_eq!(st, StatusCode::OK);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ev = events(&s, &inv).await;
            if let Some(a) = ev[0]["attempts"].as_array().unwrap().first() {
                let err = a["error"].as_str().unwrap();
                assert!(err.contains("public"), "{host}: {err}");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(r.hits().is_empty(), "nothing reached the loopback receiver");
    // Non-http URLs are refused when the token is issued.
    let (st, e) = s.token_raw(&[("postLink", "file:///etc/passwd")]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"], "invalid_request");
}
