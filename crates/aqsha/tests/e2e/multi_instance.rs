//! Two real `aqsha serve` processes sharing one PostgreSQL, as behind a load balancer.

use crate::common::receiver::Receiver;
use crate::common::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

crate::tests! {
    postgres: [
        two_instances_share_tokens_balances_and_callbacks,
        one_token_raced_on_two_instances_is_spent_once,
    ],
}

const KEY: &str = "6b1f0e2d3c4a59687766554433221100ffeeddccbbaa99887766554433221100";

async fn two_instances_share_tokens_balances_and_callbacks(_: Backend) {
    let pg = crate::common::pg::PgDb::create();
    let fast = [
        "--callback-retry-schedule",
        "300ms",
        "--callback-timeout",
        "2s",
    ];
    let a = Server::start_instance(&pg.url, KEY, &fast);
    let b = Server::start_instance(&pg.url, KEY, &fast);

    // A token issued by one instance works at the other.
    let body = seed_like_body(&invoice(), json!(100));
    let token = a.token_for(&body["order"]).await;
    let (st, r) = b.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    // ... and is spent for both.
    let (st, _) = a
        .transfer(
            &token,
            &json!({"order": body["order"], "card": body["card"], "x": 1}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Transfers racing on one card from both instances never overdraw it. 2,000 KZT; each
    // transfer costs 100 + 95 fee, so exactly ten fit.
    let pan = a.issue_card("12/39", "555", "2000", false).await;
    let mask = format!("{}...{}", &pan[..6], &pan[pan.len() - 4..]);
    let r = Receiver::start(&[]).await;
    let mut bodies = Vec::new();
    for _ in 0..60 {
        let mut b = seed_like_body(&invoice(), json!(100));
        b["card"]["sender"] = json!({"transferType": "TYPEPAN", "cardCred": pan, "cvc": "555",
            "expire": {"month": "12", "year": "39"}});
        b["order"]["postLink"] = json!(format!("{}/ok", r.url));
        b["order"]["failurePostLink"] = json!(format!("{}/fail", r.url));
        bodies.push(b);
    }
    let tokens = join_all(bodies.iter().enumerate().map(|(i, body)| {
        let s = if i % 2 == 0 { &a } else { &b };
        s.token_for(&body["order"])
    }))
    .await;
    let results = join_all(
        bodies
            .iter()
            .zip(&tokens)
            .enumerate()
            .map(|(i, (body, t))| {
                // Each request goes to the instance that did not issue its token.
                let s = if i % 2 == 0 { &b } else { &a };
                s.transfer(t, body)
            }),
    )
    .await;
    let (ok, declined) = charged_and_declined(&results, 484);
    assert_eq!((ok, declined), (10, 50), "{results:?}");
    assert_eq!(a.balance(&mask).await, 200_000 - 10 * 19_500);
    b.assert_ledger_balanced().await;

    // Every one of the 60 events is delivered once: each is dispatched by one instance at a time.
    let hits = r.wait_for(60, 30).await;
    // An absence cannot be awaited: a second delivery would come within this quiet window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hits_after = r.hits();
    assert_eq!(hits_after.len(), 60, "no event was sent twice");
    let ids: HashSet<String> = hits.iter().map(|h| h.header("x-aqsha-event-id")).collect();
    assert_eq!(ids.len(), 60);
    let ok_hits = hits.iter().filter(|h| h.path == "/ok").count();
    assert_eq!(ok_hits, 10);
    let events: Value = a.sandbox_get("/sandbox/callbacks").await;
    let delivered = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "delivered" && e["attempts"].as_array().unwrap().len() == 1)
        .count();
    assert!(delivered >= 60, "{delivered}");
}

/// One token sent to both instances at the same moment is spent once: with the same body, both
/// answers are the one charge; with two bodies (two invoices, two sender cards, so nothing
/// else serialises them), one is charged and the other refused.
async fn one_token_raced_on_two_instances_is_spent_once(_: Backend) {
    let pg = crate::common::pg::PgDb::create();
    let a = Server::start_instance(&pg.url, KEY, &[]);
    let b = Server::start_instance(&pg.url, KEY, &[]);
    let first = a.issue_card("12/39", "111", "1000000", false).await;
    let second = a.issue_card("12/39", "222", "1000000", false).await;
    let with_sender = |pan: &str, cvc: &str| {
        let mut body = seed_like_body(&invoice(), json!(100));
        body["card"]["sender"] = json!({"transferType": "TYPEPAN", "cardCred": pan, "cvc": cvc,
            "expire": {"month": "12", "year": "39"}});
        body
    };

    // The same request under one token, to both instances at once.
    for _ in 0..10 {
        let body = with_sender(&first, "111");
        let token = a.token(&[]).await;
        let (ra, rb) = tokio::join!(a.transfer(&token, &body), b.transfer(&token, &body));
        assert_eq!(
            (ra.0, rb.0),
            (StatusCode::OK, StatusCode::OK),
            "{ra:?} {rb:?}"
        );
        assert_eq!(
            ra.1["reference"], rb.1["reference"],
            "one charge, answered twice"
        );
    }
    // Two requests under one token, one to each instance.
    for _ in 0..10 {
        let token = a.token(&[]).await;
        let (one, two) = (with_sender(&first, "111"), with_sender(&second, "222"));
        let (ra, rb) = tokio::join!(a.transfer(&token, &one), b.transfer(&token, &two));
        let statuses = [ra.0, rb.0];
        assert!(
            statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::UNAUTHORIZED),
            "{ra:?} {rb:?}"
        );
    }
    let spent = (1_000_000 * 100 - a.balance(&mask(&first)).await)
        + (1_000_000 * 100 - a.balance(&mask(&second)).await);
    // Twenty tokens, twenty charges of 100 + 95 fee.
    assert_eq!(spent, 20 * 19_500, "each token charged once");
    b.assert_ledger_balanced().await;
}

fn mask(pan: &str) -> String {
    format!("{}...{}", &pan[..6], &pan[pan.len() - 4..])
}
