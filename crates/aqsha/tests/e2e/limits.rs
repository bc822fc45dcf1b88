//! Transfer limits (issue 14, item 3): the sandbox API that sets them, each limit's code, and
//! transfers racing at a limit's edge, on one server and on two instances sharing PostgreSQL.

use crate::common::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::tests! {
    both: [
        limits_show_defaults_and_change_only_for_their_merchant,
        each_limit_declines_with_its_code_and_moves_nothing,
        racing_transfers_at_a_limit_charge_exactly_as_many_as_fit,
    ],
    postgres: [
        two_instances_keep_one_limit_together,
    ],
}

const CVC: &str = "123";
const KEY: &str = "6b1f0e2d3c4a59687766554433221100ffeeddccbbaa99887766554433221100";

/// A fresh terminal of the sandbox merchant, so no other test's transfers count on it.
async fn new_terminal(s: &Server) -> String {
    let (status, v) = s
        .sandbox_post("/sandbox/terminals", &json!({"currency": "KZT"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn limits_call(
    s: &Server,
    method: reqwest::Method,
    terminal: &str,
    who: (&str, &str),
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s
        .http
        .request(
            method,
            s.path(&format!("/sandbox/terminals/{terminal}/limits")),
        )
        .basic_auth(who.0, Some(who.1));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn set_limits(s: &Server, terminal: &str, body: Value) -> Value {
    let me = (CLIENT_ID, CLIENT_SECRET);
    let (st, v) = limits_call(s, reqwest::Method::PUT, terminal, me, Some(body)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

/// A transfer body of `amount` KZT from one sandbox card to another, by card number.
fn body(terminal: &str, from: &str, to: &str, amount: u64) -> Value {
    json!({
        "order": {"amount": amount, "currency": "KZT", "id": invoice(), "terminalId": terminal,
            "description": "limits"},
        "card": {
            "sender": {"transferType": "TYPEPAN", "cardCred": from, "cvc": CVC,
                "expire": {"month": "12", "year": "39"}},
            "receiver": {"transferType": "TYPEPAN", "cardCred": to}
        }
    })
}

async fn cards(s: &Server, n: usize) -> Vec<String> {
    join_all((0..n).map(|_| s.issue_card("12/39", CVC, "100000", false))).await
}

/// Sends a transfer that must be declined with `code`: nothing moved, and the status API
/// shows the failed operation with that code.
async fn declined(s: &Server, body: &Value, code: u64) {
    let before = s.sandbox_get("/sandbox/cards").await;
    let (st, r) = s.pay(body).await;
    assert_eq!(
        (st, r["code"].as_u64()),
        (StatusCode::BAD_REQUEST, Some(code)),
        "{r}"
    );
    assert_eq!(
        s.sandbox_get("/sandbox/cards").await,
        before,
        "a decline moves nothing"
    );
    let token = s
        .token(&[("terminal", body["order"]["terminalId"].as_str().unwrap())])
        .await;
    let inv = body["order"]["id"].as_str().unwrap();
    let (_, status) = s
        .get_json(&format!("/check-status/p2p/transaction/{inv}"), &token)
        .await;
    assert_eq!(
        status["transaction"]["reasonCode"],
        code.to_string(),
        "{status}"
    );
}

async fn charged(s: &Server, body: &Value) {
    let (st, r) = s.pay(body).await;
    assert_eq!(st, StatusCode::OK, "{r}");
}

async fn limits_show_defaults_and_change_only_for_their_merchant(backend: Backend) {
    let s = Server::start(backend);
    let t = new_terminal(&s).await;
    let me = (CLIENT_ID, CLIENT_SECRET);
    let (st, v) = limits_call(&s, reqwest::Method::GET, &t, me, None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["per_transfer"], 10_000_000);
    assert_eq!(v["sender_daily_transfers"], 1_000_000);
    assert_eq!(v["defaults"].as_array().unwrap().len(), 5, "{v}");

    let v = set_limits(
        &s,
        &t,
        json!({"per_transfer": 150.5, "terminal_daily": "1000"}),
    )
    .await;
    assert_eq!(v["per_transfer"], 150.5);
    assert_eq!(v["terminal_daily"], 1000);
    assert_eq!(
        v["defaults"],
        json!(["sender_daily_transfers", "receiver_daily", "terminal_total"])
    );
    let (_, again) = limits_call(&s, reqwest::Method::GET, &t, me, None).await;
    assert_eq!(again, v, "the settings are stored");

    // Bad input is refused with a clear 400, and changes nothing.
    for bad in [
        json!({"per_transfer": -1}),
        json!({"per_transfer": 1.234}),
        json!({"sender_daily_transfers": -1}),
        json!({"per_transfr": 10}),
    ] {
        let (st, r) = limits_call(&s, reqwest::Method::PUT, &t, me, Some(bad.clone())).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad} {r}");
        assert!(r["message"].as_str().unwrap().len() > 10, "{r}");
    }
    let (_, unchanged) = limits_call(&s, reqwest::Method::GET, &t, me, None).await;
    assert_eq!(unchanged, v);

    // Another merchant can neither read nor change them; nor can anyone without credentials.
    let other = s.add_merchant("shop-limits");
    let them = (
        other["client_id"].as_str().unwrap(),
        other["client_secret"].as_str().unwrap(),
    );
    let (st, _) = limits_call(&s, reqwest::Method::GET, &t, them, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let put = Some(json!({"per_transfer": 1}));
    let (st, _) = limits_call(&s, reqwest::Method::PUT, &t, them, put).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = limits_call(&s, reqwest::Method::GET, &t, (CLIENT_ID, "wrong"), None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = limits_call(&s, reqwest::Method::GET, "no-such", me, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, mine) = limits_call(&s, reqwest::Method::GET, &t, me, None).await;
    assert_eq!(mine, v, "the other merchant changed nothing");

    // An empty PUT puts every limit back to its default.
    let v = set_limits(&s, &t, json!({})).await;
    assert_eq!(v["defaults"].as_array().unwrap().len(), 5, "{v}");
}

async fn each_limit_declines_with_its_code_and_moves_nothing(backend: Backend) {
    let s = Server::start(backend);
    let c = cards(&s, 6).await;

    // 488: the amount of one transfer; at the limit it is charged.
    let t = new_terminal(&s).await;
    set_limits(&s, &t, json!({"per_transfer": 150})).await;
    declined(&s, &body(&t, &c[0], &c[1], 151), 488).await;
    charged(&s, &body(&t, &c[0], &c[1], 150)).await;

    // 491: transfers from one sender card in a day; another card still may.
    let t = new_terminal(&s).await;
    set_limits(&s, &t, json!({"sender_daily_transfers": 2})).await;
    charged(&s, &body(&t, &c[2], &c[1], 10)).await;
    charged(&s, &body(&t, &c[2], &c[3], 10)).await;
    declined(&s, &body(&t, &c[2], &c[1], 10), 491).await;
    charged(&s, &body(&t, &c[3], &c[1], 10)).await;

    // 528: what one receiver card is credited in a day.
    let t = new_terminal(&s).await;
    set_limits(&s, &t, json!({"receiver_daily": 300})).await;
    charged(&s, &body(&t, &c[0], &c[4], 200)).await;
    declined(&s, &body(&t, &c[1], &c[4], 101), 528).await;
    charged(&s, &body(&t, &c[1], &c[4], 100)).await;

    // 529: what the terminal charges in a day.
    let t = new_terminal(&s).await;
    set_limits(&s, &t, json!({"terminal_daily": 250})).await;
    charged(&s, &body(&t, &c[0], &c[1], 200)).await;
    declined(&s, &body(&t, &c[2], &c[3], 60), 529).await;

    // 2678: what the terminal charges overall.
    let t = new_terminal(&s).await;
    set_limits(&s, &t, json!({"terminal_total": 100})).await;
    charged(&s, &body(&t, &c[0], &c[5], 100)).await;
    declined(&s, &body(&t, &c[1], &c[5], 1), 2678).await;
    // Raising the limit lets transfers through again at once.
    set_limits(&s, &t, json!({"terminal_total": 101})).await;
    charged(&s, &body(&t, &c[1], &c[5], 1)).await;

    // The seed's terminal has the defaults, and the seed's transfer goes through.
    let (st, r) = s.pay(&seed_like_body(&invoice(), json!(100))).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    s.assert_ledger_balanced().await;
}

/// Sends every body at once, half to `a` and half to `b` (which may be the same server);
/// returns how many were charged and how many were declined with `code`.
async fn race(a: &Server, b: &Server, bodies: &[Value], code: u64) -> (usize, usize) {
    let tokens = join_all(bodies.iter().map(|x| a.token_for(&x["order"]))).await;
    let results = join_all(bodies.iter().zip(&tokens).enumerate().map(|(i, (x, t))| {
        let s = if i % 2 == 0 { a } else { b };
        s.transfer(t, x)
    }))
    .await;
    let (ok, declined) = charged_and_declined(&results, code);
    assert_eq!(ok + declined, bodies.len(), "{results:?}");
    (ok, declined)
}

async fn racing_transfers_at_a_limit_charge_exactly_as_many_as_fit(backend: Backend) {
    let s = Server::start(backend);
    let c = cards(&s, 21).await;
    // Twenty senders, one terminal whose day allows five transfers of 100.
    let t = new_terminal(&s).await;
    set_limits(&s, &t, json!({"terminal_daily": 500})).await;
    let bodies: Vec<Value> = (0..20).map(|i| body(&t, &c[i], &c[20], 100)).collect();
    assert_eq!(race(&s, &s, &bodies, 529).await, (5, 15));
    // One sender card allowed three transfers a day, twenty at once.
    let t = new_terminal(&s).await;
    set_limits(&s, &t, json!({"sender_daily_transfers": 3})).await;
    let bodies: Vec<Value> = (0..20).map(|i| body(&t, &c[20], &c[i], 10)).collect();
    assert_eq!(race(&s, &s, &bodies, 491).await, (3, 17));
    s.assert_ledger_balanced().await;
}

async fn two_instances_keep_one_limit_together(_: Backend) {
    let pg = crate::common::pg::PgDb::create();
    let a = Server::start_instance(&pg.url, KEY, &[]);
    let b = Server::start_instance(&pg.url, KEY, &[]);
    let c = cards(&a, 22).await;
    // The terminal's day: seven transfers of 100 fit, from twenty senders on two instances.
    let t = new_terminal(&a).await;
    set_limits(&a, &t, json!({"terminal_daily": 700})).await;
    let bodies: Vec<Value> = (0..20).map(|i| body(&t, &c[i], &c[20], 100)).collect();
    assert_eq!(race(&a, &b, &bodies, 529).await, (7, 13));
    // One receiver card's day across both: four credits of 100 fit (a fresh receiver: the
    // counter is the card's, on every terminal of the merchant).
    let t = new_terminal(&b).await;
    set_limits(&b, &t, json!({"receiver_daily": 400})).await;
    let bodies: Vec<Value> = (0..20).map(|i| body(&t, &c[i], &c[21], 100)).collect();
    assert_eq!(race(&a, &b, &bodies, 528).await, (4, 16));
    // One sender card's count across both.
    let t = new_terminal(&a).await;
    set_limits(&a, &t, json!({"sender_daily_transfers": 6})).await;
    let bodies: Vec<Value> = (0..20).map(|i| body(&t, &c[20], &c[i], 1)).collect();
    assert_eq!(race(&a, &b, &bodies, 491).await, (6, 14));
    a.assert_ledger_balanced().await;
}
