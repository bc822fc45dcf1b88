//! The operations search (`POST /p2p/operations`, issue 14 item 5) and the password grant it
//! needs: each method and filter field, paging and ordering, only the merchant's own
//! operations, and the login's refusals and lock.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::IpAddr;

crate::tests! {
    both: [
        the_password_grant_refuses_wrong_passwords_and_locks_the_login,
        the_search_filters_by_every_field_and_method,
        the_search_pages_orders_and_refuses_bad_requests,
    ],
    sqlite: [
        the_cli_lists_operations_as_a_table_or_json,
    ],
}

const LOGIN: &str = "epay@halykbank.kz";
const PASSWORD: &str = "XZG1E@Mm";

async fn login_from(s: &Server, from: [u8; 4], user: &str, password: &str) -> reqwest::Response {
    let http = reqwest::Client::builder()
        .local_address(IpAddr::from(from))
        .build()
        .unwrap();
    http.post(s.path("/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("scope", "transfer"),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

async fn login(s: &Server) -> String {
    let r = login_from(s, [127, 0, 0, 1], LOGIN, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

async fn search(s: &Server, token: &str, body: &Value) -> (StatusCode, Value) {
    let r = s
        .http
        .post(s.path("/p2p/operations"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

/// Today's operations (a window around now), with more conditions.
fn today(more: Value) -> Value {
    let now = chrono::Utc::now();
    let (from, to) = (
        now - chrono::Duration::days(1),
        now + chrono::Duration::days(1),
    );
    let mut params = vec![json!({"name": "created_at", "method": "between",
        "searchParameter": [from.to_rfc3339(), to.to_rfc3339()]})];
    params.extend(more.as_array().cloned().unwrap_or_default());
    json!({"paging": {"page": 0, "size": 100}, "searchParameters": params})
}

/// The invoices a search finds, in its order.
async fn invoices(s: &Server, token: &str, body: &Value) -> Vec<String> {
    let (st, r) = search(s, token, body).await;
    assert_eq!(st, StatusCode::OK, "{body} {r}");
    r["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["invoiceID"].as_str().unwrap().to_string())
        .collect()
}

async fn the_password_grant_refuses_wrong_passwords_and_locks_the_login(backend: Backend) {
    let s = Server::start_configured(backend, |c| {
        c.auth_throttle = aqsha_server::throttle::ThrottleSettings {
            per_client: 3,
            per_address: 50,
            window: std::time::Duration::from_secs(60),
        };
    });
    // The right login from the merchant's own address: a token, scope transfer.
    let r = login_from(&s, [127, 0, 0, 1], "EPAY@halykbank.kz", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["scope"], "transfer");

    // A wrong password and an unknown login: the OAuth error, alike.
    for (user, password) in [(LOGIN, "wrong"), ("nobody@example.com", PASSWORD)] {
        let r = login_from(&s, [127, 0, 0, 2], user, password).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_grant", "{v}");
    }
    // Two more failures lock the login for others, even with the right password...
    for _ in 0..2 {
        let r = login_from(&s, [127, 0, 0, 2], LOGIN, "wrong-again").await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
    let r = login_from(&s, [127, 0, 0, 2], LOGIN, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_grant");
    let r = login_from(&s, [127, 0, 0, 3], LOGIN, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // ... but not for the address that logged in as it before.
    assert_eq!(
        login_from(&s, [127, 0, 0, 1], LOGIN, PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );

    // A password token does not transfer, and a client-credentials token does not list.
    let token = login(&s).await;
    let (st, _) = s
        .transfer(&token, &seed_like_body(&invoice(), json!(100)))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, r) = search(&s, &s.token(&[]).await, &today(json!([]))).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("password grant"),
        "{r}"
    );
    // A password grant bound to an order is refused.
    let r = s
        .http
        .post(s.path("/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("scope", "transfer"),
            ("username", LOGIN),
            ("password", PASSWORD),
            ("invoiceID", "123456789"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// Six operations of the sandbox merchant: five charges of 100, 200, 300 (from the
/// Mastercard), 400 and 500 (on another terminal), and a decline of 2,000,000 (484, more than
/// the card holds); and one charge of another merchant. Returns
/// the sandbox merchant's invoices in the order they were made, and the first one's reference.
async fn operations(s: &Server) -> (Vec<String>, String) {
    let mut made = Vec::new();
    let mut reference = String::new();
    for (i, amount) in [100, 200, 300, 400, 500].into_iter().enumerate() {
        let mut b = seed_like_body(&invoice(), json!(amount));
        b["order"]["accountID"] = json!(format!("ops-customer-{}", i % 2));
        if amount == 500 {
            b["order"]["terminalId"] = json!(TERMINAL_3);
        }
        if amount == 300 {
            b["card"]["sender"]["cardCred"] = json!(MASTERCARD);
            b["card"]["sender"]["cvc"] = json!("525");
        }
        let (st, r) = s.pay(&b).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        if i == 0 {
            reference = r["reference"].as_str().unwrap().to_string();
        }
        made.push(b["order"]["id"].as_str().unwrap().to_string());
    }
    let b = seed_like_body(&invoice(), json!(2_000_000));
    let (st, r) = s.pay(&b).await;
    assert_eq!(
        (st, r["code"].as_u64()),
        (StatusCode::BAD_REQUEST, Some(484)),
        "{r}"
    );
    made.push(b["order"]["id"].as_str().unwrap().to_string());
    // Another merchant's charge, from the same public card.
    let other = s.add_merchant("shop-ops");
    let token = s.token_of(&other).await;
    let mut b = seed_like_body(&invoice(), json!(100));
    b["order"]["terminalId"] = other["terminal"].clone();
    b["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD});
    let (st, r) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    (made, reference)
}

async fn the_search_filters_by_every_field_and_method(backend: Backend) {
    let s = Server::start(backend);
    let (inv, reference) = operations(&s).await;
    let token = login(&s).await;
    let newest_first: Vec<String> = inv.iter().rev().cloned().collect();
    // Only the merchant's own operations, newest first.
    assert_eq!(invoices(&s, &token, &today(json!([]))).await, newest_first);
    let cases: Vec<(Value, Vec<usize>)> = vec![
        (
            json!([{"name": "invoice_id", "method": "=", "searchParameter": [inv[1]]}]),
            vec![1],
        ),
        (
            json!([{"name": "invoice_id", "method": "in", "searchParameter": [inv[0], inv[2]]}]),
            vec![2, 0],
        ),
        (
            json!([{"name": "invoice_id", "method": "like", "searchParameter": [format!("%{}", &inv[3][10..])]}]),
            vec![3],
        ),
        (
            json!([{"name": "account_id", "method": "=", "searchParameter": ["OPS-CUSTOMER-1"]}]),
            vec![],
        ),
        (
            json!([{"name": "account_id", "method": "like", "searchParameter": ["OPS-CUSTOMER-1"]}]),
            vec![3, 1],
        ),
        (
            json!([{"name": "status", "method": "=", "searchParameter": ["FAILED"]}]),
            vec![5],
        ),
        (
            json!([{"name": "status", "method": "in", "searchParameter": ["CHARGE"]}]),
            vec![4, 3, 2, 1, 0],
        ),
        (
            json!([{"name": "amount", "method": ">", "searchParameter": [400]}]),
            vec![5, 4],
        ),
        (
            json!([{"name": "amount", "method": ">=", "searchParameter": ["400"]}]),
            vec![5, 4, 3],
        ),
        (
            json!([{"name": "amount", "method": "<", "searchParameter": [200]}]),
            vec![0],
        ),
        (
            json!([{"name": "amount", "method": "<=", "searchParameter": [200]}]),
            vec![1, 0],
        ),
        (
            json!([{"name": "amount", "method": "=", "searchParameter": [300]}]),
            vec![2],
        ),
        (
            json!([{"name": "amount", "method": "between", "searchParameter": [200, 400]}]),
            vec![3, 2, 1],
        ),
        (
            json!([{"name": "amount", "method": "in", "searchParameter": [100, 500]}]),
            vec![4, 0],
        ),
        (
            json!([{"name": "card_mask", "method": "like", "searchParameter": ["%6736"]}]),
            vec![2],
        ),
        (
            json!([{"name": "card_mask", "method": "like", "searchParameter": ["%5096"]}]),
            vec![5, 4, 3, 1, 0],
        ),
        (
            json!([{"name": "card_mask", "method": "=", "searchParameter": ["440563...7622"]}]),
            vec![5, 4, 3, 2, 1, 0],
        ),
        (
            json!([{"name": "reference", "method": "=", "searchParameter": [reference]}]),
            vec![0],
        ),
        (
            json!([{"name": "terminal_id", "method": "=", "searchParameter": [TERMINAL_3]}]),
            vec![4],
        ),
        (
            json!([{"name": "terminal_id", "method": "in", "searchParameter": [TERMINAL_2, TERMINAL_3]},
                {"name": "amount", "method": "<", "searchParameter": [300]}]),
            vec![1, 0],
        ),
    ];
    for (conditions, expected) in cases {
        let want: Vec<String> = expected.iter().map(|i| inv[*i].clone()).collect();
        let got = invoices(&s, &token, &today(conditions.clone())).await;
        assert_eq!(got, want, "{conditions}");
    }
    // created_at's own methods.
    let at = |method: &str, when: chrono::DateTime<chrono::Utc>| {
        json!({"searchParameters": [{"name": "created_at", "method": method,
            "searchParameter": [when.to_rfc3339()]}]})
    };
    let now = chrono::Utc::now();
    let past = now - chrono::Duration::hours(1);
    let future = now + chrono::Duration::hours(1);
    assert_eq!(invoices(&s, &token, &at(">", past)).await.len(), 6);
    assert_eq!(invoices(&s, &token, &at(">=", past)).await.len(), 6);
    assert_eq!(invoices(&s, &token, &at("<", past)).await.len(), 0);
    assert_eq!(invoices(&s, &token, &at("<=", future)).await.len(), 6);
    assert_eq!(invoices(&s, &token, &at("=", past)).await.len(), 0);
    // Each answer is in the status API's shape.
    let (_, r) = search(
        &s,
        &token,
        &today(json!([{"name": "invoice_id", "method": "=",
        "searchParameter": [inv[0]]}])),
    )
    .await;
    let op = &r["data"][0];
    assert_eq!(op["amount"], 100);
    assert_eq!(op["statusName"], "CHARGE");
    assert_eq!(op["reference"], reference.as_str());
    assert_eq!(op["senderCardPAN"], "440563...5096");
}

async fn the_search_pages_orders_and_refuses_bad_requests(backend: Backend) {
    let s = Server::start(backend);
    let (inv, _) = operations(&s).await;
    let token = login(&s).await;
    // Pages of two by amount, ascending: 100 200 | 300 400 | 500 2,000,000.
    let mut seen = Vec::new();
    for page in 0..3 {
        let mut body = today(json!([]));
        body["paging"] = json!({"page": page, "size": 2});
        body["orderParameters"] = json!([{"field": "amount", "typeOrder": "ASC"}]);
        let (st, r) = search(&s, &token, &body).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        assert_eq!(
            r["paging"],
            json!({"page": page, "size": 2, "hasNext": page < 2})
        );
        seen.extend(invoices(&s, &token, &body).await);
    }
    assert_eq!(seen, inv);
    // Oldest first.
    let mut body = today(json!([]));
    body["orderParameters"] = json!([{"field": "created_at", "typeOrder": "ASC"}]);
    assert_eq!(invoices(&s, &token, &body).await, inv);

    // Bad requests: a clear 400 with the format-error code, naming what is wrong.
    let bad = [
        (json!({"searchParameters": []}), "must include created_at"),
        (
            today(json!([{"name": "pan", "method": "=", "searchParameter": ["1"]}])),
            "unknown field",
        ),
        (
            today(json!([{"name": "amount", "method": "~", "searchParameter": [1]}])),
            "unknown method",
        ),
        (
            today(json!([{"name": "amount", "method": "like", "searchParameter": ["1"]}])),
            "does not apply",
        ),
        (
            today(json!([{"name": "amount", "method": "between", "searchParameter": [1]}])),
            "takes 2",
        ),
        (json!({"searchParams": []}), "unknown field `searchParams`"),
        // serde would read the array as the paging object (page 0, size 20).
        (
            json!({"searchParameters": [], "paging": [0, 20]}),
            "paging is a JSON array",
        ),
        (
            json!({"searchParameters": [], "paging": {"page": 0, "size": 1000}}),
            "paging.size",
        ),
        (
            json!({"orderParameters": [{"field": "pan"}], "searchParameters": []}),
            "must include",
        ),
    ];
    for (body, says) in bad {
        let (st, r) = search(&s, &token, &body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body} {r}");
        assert_eq!(r["code"], 477, "{r}");
        assert!(r["message"].as_str().unwrap().contains(says), "{body}: {r}");
    }
    // Also under /api, and without a token: 401.
    let r = s
        .http
        .post(s.path("/api/p2p/operations"))
        .bearer_auth(&token)
        .json(&today(json!([])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = s
        .http
        .post(s.path("/p2p/operations"))
        .json(&today(json!([])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn the_cli_lists_operations_as_a_table_or_json(backend: Backend) {
    use crate::common::cli::{cli, run};
    let s = Server::start(backend);
    let (inv, _) = operations(&s).await;
    let login = ["--login", LOGIN, "--password", PASSWORD];
    let mut args = vec![
        "operations",
        "--since",
        "1h",
        "--status",
        "FAILED",
        "--json",
    ];
    args.extend(login);
    let out = run(&mut cli(&s), &args).await;
    let v = out.ok().json();
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["data"][0]["invoiceID"], inv[5].as_str());
    let mut args = vec!["operations", "--since", "1h", "--size", "2"];
    args.extend(login);
    let out = run(&mut cli(&s), &args).await;
    out.ok();
    assert!(
        out.stdout.contains(&inv[5]) && out.stdout.contains(&inv[4]),
        "{out:?}"
    );
    assert!(out.stdout.contains("(more: --page 1)"), "{out:?}");
    // A wrong password: the token error, and a failing exit code.
    let out = run(
        &mut cli(&s),
        &["operations", "--login", LOGIN, "--password", "nope"],
    )
    .await;
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("invalid_grant"), "{out:?}");
}
