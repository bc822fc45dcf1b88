//! `aqsha merchant list / disable / enable / rotate-secret / rotate-callback-secret` through
//! the real CLI, against the database of a running server, seen through its HTTP API.

use crate::common::receiver::Receiver;
use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

crate::tests! {
    both: [
        list_disable_and_enable_through_the_cli,
        rotate_secret_refuses_the_old_secret_within_a_second,
        rotate_callback_secret_signs_callbacks_with_the_new_secret,
    ],
}

/// How long an instance may keep a merchant's row (`MERCHANT_TTL`, 1 s), with a margin.
const MERCHANT_CACHE: Duration = Duration::from_millis(1200);

/// A disabled merchant's bearer calls are refused within the store's cache TTL (1 s); the
/// polls allow more.
const CACHE_BOUND: Duration = Duration::from_secs(4);

fn cli_json(out: std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn cli_text(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A token request with the merchant's credentials (and these extra fields).
async fn token_raw(
    s: &Server,
    client_id: &str,
    secret: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut all = vec![("client_id", client_id), ("client_secret", secret)];
    all.extend_from_slice(fields);
    s.token_raw(&all).await
}

/// A transfer body on the merchant's own terminal: the sandbox VISA pays the sandbox
/// MasterCard (the network is shared by every merchant).
fn body(invoice: &str, terminal: &str) -> Value {
    json!({
        "order": {"amount": 100, "currency": "KZT", "id": invoice, "terminalId": terminal},
        "card": {
            "sender": {"transferType": "TYPEPAN", "cardCred": VISA, "cvc": "815",
                       "expire": {"month": "01", "year": "25"}},
            "receiver": {"transferType": "TYPEPAN", "cardCred": MASTERCARD}
        }
    })
}

/// A transfer token of `merchant` bound to this invoice on its terminal.
async fn bound_token(s: &Server, merchant: &Value, invoice: &str) -> String {
    let (st, v) = token_raw(
        s,
        merchant["client_id"].as_str().unwrap(),
        merchant["client_secret"].as_str().unwrap(),
        &[
            ("invoiceID", invoice),
            ("amount", "100"),
            ("currency", "KZT"),
            ("terminal", merchant["terminal"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

/// Asks the status endpoint with `token` until it answers `want` (within [`CACHE_BOUND`]).
async fn status_until(s: &Server, token: &str, invoice: &str, want: StatusCode) -> Value {
    let deadline = tokio::time::Instant::now() + CACHE_BOUND;
    loop {
        let path = format!("/check-status/p2p/transaction/{invoice}");
        let (st, v) = s.get_json(&path, token).await;
        if st == want {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status still answers {st} {v}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sandbox_status(s: &Server, client_id: &str, secret: &str) -> StatusCode {
    s.http
        .get(s.path("/sandbox/callback-secret"))
        .basic_auth(client_id, Some(secret))
        .send()
        .await
        .unwrap()
        .status()
}

async fn list_disable_and_enable_through_the_cli(backend: Backend) {
    let s = Server::start(backend);
    // On PostgreSQL, a second instance shares the database and must refuse as well.
    let other =
        s.pg.as_ref()
            .map(|pg| Server::start_instance(&pg.url, TEST_MASTER_KEY, &[]));
    let shop = s.add_merchant("shop");
    let (secret, terminal) = (
        shop["client_secret"].as_str().unwrap(),
        shop["terminal"].as_str().unwrap(),
    );
    assert_eq!(
        shop["callback_secret"].as_str().unwrap().len(),
        40,
        "{shop}"
    );

    // The list: every merchant, its terminals and state, and never a secret.
    let list = cli_json(s.merchant_cli(&["list", "--json"]));
    let table = cli_text(s.merchant_cli(&["list"]));
    let entry = |list: &Value, id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|m| m["client_id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {list}"))
            .clone()
    };
    let listed = entry(&list, "shop");
    assert_eq!(listed["status"], "enabled");
    assert_eq!(
        listed["terminals"],
        json!([{"id": terminal, "currency": "KZT"}])
    );
    assert_eq!(
        entry(&list, CLIENT_ID)["terminals"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert!(table.contains("shop") && table.contains(terminal) && table.contains("enabled"));
    for out in [list.to_string(), table.clone()] {
        for secret in [
            secret,
            shop["callback_secret"].as_str().unwrap(),
            CLIENT_SECRET,
        ] {
            assert!(!out.contains(secret), "a secret is listed: {out}");
        }
        assert!(!out.to_lowercase().contains("secret"), "{out}");
    }

    // Tokens issued before the merchant is disabled: one spent now (which also puts the
    // merchant in the server's cache as active), one kept for later.
    let (spent_invoice, kept_invoice) = (invoice(), invoice());
    let spent = bound_token(&s, &shop, &spent_invoice).await;
    let kept = bound_token(&s, &shop, &kept_invoice).await;
    let (st, r) = s.transfer(&spent, &body(&spent_invoice, terminal)).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    status_until(&s, &spent, &spent_invoice, StatusCode::OK).await;
    if let Some(o) = &other {
        status_until(o, &spent, &spent_invoice, StatusCode::OK).await;
    }

    let out = cli_text(s.merchant_cli(&["disable", "--client-id", "shop"]));
    assert_eq!(out.trim(), "merchant shop disabled");
    assert_eq!(
        entry(&cli_json(s.merchant_cli(&["list", "--json"])), "shop")["status"],
        "disabled"
    );
    // Logins are refused within the documented bound (a second's cache), on every instance.
    tokio::time::sleep(MERCHANT_CACHE).await;
    for server in std::iter::once(&s).chain(other.as_ref()) {
        let (st, v) = token_raw(server, "shop", secret, &[("scope", "transfer")]).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
        assert_eq!(v["error"], "invalid_client");
        assert_eq!(v["error_description"], "this client is disabled");
        assert_eq!(
            sandbox_status(server, "shop", secret).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Tokens issued before are refused too, within the cache's bound, on every instance.
    for server in std::iter::once(&s).chain(other.as_ref()) {
        let v = status_until(server, &spent, &spent_invoice, StatusCode::UNAUTHORIZED).await;
        assert_eq!(v["code"], 464, "{v}");
    }
    let (st, r) = s.transfer(&kept, &body(&kept_invoice, terminal)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{r}");
    assert_eq!(r["code"], 464, "{r}");
    assert!(r["message"].as_str().unwrap().contains("disabled"), "{r}");
    // The other merchant is untouched.
    let (st, r) = s.pay(&seed_like_body(&invoice(), json!(100))).await;
    assert_eq!(st, StatusCode::OK, "{r}");

    let out = cli_text(s.merchant_cli(&["enable", "--client-id", "shop"]));
    assert_eq!(out.trim(), "merchant shop enabled");
    // Accepted again within the same documented bound.
    tokio::time::sleep(MERCHANT_CACHE).await;
    let (st, v) = token_raw(&s, "shop", secret, &[("scope", "transfer")]).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // The refused transfer was not recorded, and its token was not spent: it works now.
    let v = status_until(&s, &kept, &kept_invoice, StatusCode::OK).await;
    assert_eq!(v["resultCode"], "102", "{v}");
    let (st, r) = s.transfer(&kept, &body(&kept_invoice, terminal)).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "CHARGE");

    let out = s.merchant_cli(&["disable", "--client-id", "nobody"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody"));
}

async fn rotate_secret_refuses_the_old_secret_within_a_second(backend: Backend) {
    let s = Server::start(backend);
    let shop = s.add_merchant("shop");
    let old = shop["client_secret"].as_str().unwrap();
    // The old secret is in use (and so in any cache) before the rotation.
    let (st, _) = token_raw(&s, "shop", old, &[]).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(sandbox_status(&s, "shop", old).await, StatusCode::OK);

    let rotated = cli_json(s.merchant_cli(&["rotate-secret", "--client-id", "shop"]));
    assert_eq!(rotated["client_id"], "shop");
    let new = rotated["client_secret"].as_str().unwrap();
    assert_eq!(new.len(), 36);
    assert_ne!(new, old);

    // Refused within the documented bound: each instance keeps a merchant's row a second.
    tokio::time::sleep(MERCHANT_CACHE).await;
    let (st, v) = token_raw(&s, "shop", old, &[]).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["error"], "invalid_client");
    assert_eq!(
        sandbox_status(&s, "shop", old).await,
        StatusCode::UNAUTHORIZED
    );
    let (st, v) = token_raw(&s, "shop", new, &[]).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(sandbox_status(&s, "shop", new).await, StatusCode::OK);
    // The sandbox merchant is untouched.
    let (st, _) = s.token_raw(&[]).await;
    assert_eq!(st, StatusCode::OK);

    let out = s.merchant_cli(&["rotate-secret", "--client-id", "nobody"]);
    assert!(!out.status.success());
}

async fn rotate_callback_secret_signs_callbacks_with_the_new_secret(backend: Backend) {
    let s = Server::start_configured(backend, |c| c.callbacks.timeout = Duration::from_secs(2));
    let shop = s.add_merchant("shop");
    let (secret, old) = (
        shop["client_secret"].as_str().unwrap(),
        shop["callback_secret"].as_str().unwrap(),
    );
    let shown = |s: &Server| {
        let req = s
            .http
            .get(s.path("/sandbox/callback-secret"))
            .basic_auth("shop", Some(secret));
        async move {
            let v: Value = req.send().await.unwrap().json().await.unwrap();
            v["callbackSecret"].as_str().unwrap().to_string()
        }
    };
    // `add` printed the secret the server signs with.
    assert_eq!(shown(&s).await, old);

    let rotated = cli_json(s.merchant_cli(&["rotate-callback-secret", "--client-id", "shop"]));
    assert_eq!(rotated["client_id"], "shop");
    let new = rotated["callback_secret"].as_str().unwrap();
    assert_eq!(new.len(), 40);
    assert_ne!(new, old);
    assert_eq!(shown(&s).await, new);

    let r = Receiver::start(&[]).await;
    let inv = invoice();
    let token = bound_token(&s, &shop, &inv).await;
    let mut b = body(&inv, shop["terminal"].as_str().unwrap());
    b["order"]["postLink"] = json!(format!("{}/ok", r.url));
    let (st, resp) = s.transfer(&token, &b).await;
    assert_eq!(st, StatusCode::OK, "{resp}");
    let hit = r.wait_for(1, 30).await.remove(0);
    assert_eq!(hit.json()["invoiceId"], inv.as_str());
    let sig = hit.header("x-aqsha-signature");
    let now = chrono::Utc::now().timestamp();
    aqsha_wire::signature::verify(new, &sig, &hit.body, now, 300).unwrap();
    assert!(aqsha_wire::signature::verify(old, &sig, &hit.body, now, 300).is_err());
}
