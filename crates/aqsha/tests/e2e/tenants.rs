//! Merchants are tenants of the sandbox network (issue 12, items 1–3): a card one merchant
//! issues belongs to it, money it creates comes from its own capped funding account, and card
//! hashes differ between merchants.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::tests! {
    both: [
        a_card_belongs_to_the_merchant_that_issued_it,
        money_comes_from_the_merchants_capped_funding_account,
    ],
    sqlite: [
        card_hashes_differ_between_merchants,
    ],
}

const SHARED_NUMBER: &str = "4111111111111111";

/// POST a sandbox request as the merchant `m` (`{"client_id", "client_secret"}`).
async fn sandbox_post(s: &Server, m: &Value, path: &str, body: Value) -> (StatusCode, Value) {
    let resp = s
        .sandbox_as(m, reqwest::Method::POST, path)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn cards_of(s: &Server, m: &Value) -> Vec<Value> {
    let resp = s
        .sandbox_as(m, reqwest::Method::GET, "/sandbox/cards")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json::<Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn seed_merchant() -> Value {
    json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
}

fn body(invoice: &str, terminal: &str, sender: Value, receiver: Value, account: &str) -> Value {
    json!({
        "order": {"amount": 500, "currency": "KZT", "id": invoice, "terminalId": terminal,
                  "accountID": account, "description": "tenants"},
        "card": {"sender": sender, "receiver": receiver}
    })
}

fn pan_side(pan: &str, cvc: &str, expire: &str) -> Value {
    let (m, y) = expire.split_once('/').unwrap();
    json!({"transferType": "TYPEPAN", "cardCred": pan, "cvc": cvc,
           "expire": {"month": m, "year": y}, "name": "T"})
}

/// A fresh order for customer `u1` from a card by number (`(pan, cvc, expire)`) to one.
fn card_to_card(terminal: &str, from: (&str, &str, &str), to: &str) -> Value {
    let (pan, cvc, expire) = from;
    body(
        &invoice(),
        terminal,
        pan_side(pan, cvc, expire),
        json!({"transferType": "TYPEPAN", "cardCred": to}),
        "u1",
    )
}

fn balance_of(cards: &[Value], id: &str) -> i64 {
    to_minor(&cards.iter().find(|c| c["id"] == id).unwrap()["balance"])
}

async fn a_card_belongs_to_the_merchant_that_issued_it(backend: Backend) {
    let s = Server::start(backend);
    let a = seed_merchant();
    let b = s.add_merchant("shop-b");
    let b_terminal = b["terminal"].as_str().unwrap();

    // B registers a number with its own CVC; the answer is B's card.
    let (st, issued) = sandbox_post(
        &s,
        &b,
        "/sandbox/cards",
        json!({"pan": SHARED_NUMBER, "expire": "12/39", "cvc": "999", "balance": "10000"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{issued}");
    let b_card = issued["id"].as_str().unwrap().to_string();

    // The listing: A sees the public cards only, B sees them and its own.
    let public = cards_of(&s, &a).await;
    assert!(public.iter().all(|c| c["id"] != b_card.as_str()));
    let b_cards = cards_of(&s, &b).await;
    assert_eq!(b_cards.len(), public.len() + 1);
    assert!(b_cards.iter().any(|c| c["id"] == b_card.as_str()));

    // A pays 500 "to an external card" with that number: the money leaves to the external
    // network, B's card is untouched.
    let pay = card_to_card(TERMINAL_2, (VISA, "815", "01/25"), SHARED_NUMBER);
    let (st, r) = s.pay(&pay).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(balance_of(&cards_of(&s, &b).await, &b_card), 1_000_000);
    s.assert_ledger_balanced().await;

    // A cannot debit B's card, even with B's CVC and expiry: in A's world the number is a
    // card of another issuer.
    let steal = card_to_card(TERMINAL_2, (SHARED_NUMBER, "999", "12/39"), MASTERCARD);
    let (st, r) = s.pay(&steal).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], 471, "{r}");

    // B itself can pay from its card (its own world knows it).
    let token_b = s.token_of(&b).await;
    let own = card_to_card(b_terminal, (SHARED_NUMBER, "999", "12/39"), MASTERCARD);
    let (st, r) = s.transfer(&token_b, &own).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["senderCardPAN"], "411111...1111");

    // A registering the same number neither fails nor says anything of B's card: A gets a
    // card of its own, and A's transfers to that number now credit A's card, not B's.
    let (st, mine) = sandbox_post(
        &s,
        &a,
        "/sandbox/cards",
        json!({"pan": SHARED_NUMBER, "expire": "01/38", "cvc": "111", "balance": "0"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{mine}");
    let a_card = mine["id"].as_str().unwrap().to_string();
    assert_ne!(a_card, b_card);
    let b_before = balance_of(&cards_of(&s, &b).await, &b_card);
    let (st, r) = s
        .pay(&card_to_card(
            TERMINAL_2,
            (VISA, "815", "01/25"),
            SHARED_NUMBER,
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(balance_of(&cards_of(&s, &a).await, &a_card), 50_000);
    assert_eq!(balance_of(&cards_of(&s, &b).await, &b_card), b_before);
    // Registering it twice in one's own world is one's own business, and says so.
    let (st, again) = sandbox_post(
        &s,
        &a,
        "/sandbox/cards",
        json!({"pan": SHARED_NUMBER, "expire": "01/38", "cvc": "111"}),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{again}");
    assert!(again["message"]
        .as_str()
        .unwrap()
        .contains("already issued"));

    // The documented public cards stay shared: nobody can issue one again.
    let (st, r) = sandbox_post(
        &s,
        &b,
        "/sandbox/cards",
        json!({"pan": VISA, "expire": "01/25", "cvc": "000", "balance": "5"}),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("public test card"),
        "{r}"
    );
    s.assert_ledger_balanced().await;
}

async fn money_comes_from_the_merchants_capped_funding_account(backend: Backend) {
    // The default cap refuses ten billion at once, with a clear error.
    let s = Server::start(backend);
    let a = seed_merchant();
    let (st, r) = sandbox_post(
        &s,
        &a,
        "/sandbox/cards",
        json!({"expire": "12/39", "cvc": "123", "balance": "10000000000"}),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], 477, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("funding cap"),
        "{r}"
    );
    drop(s);

    // A small cap: opening balances and top-ups count against it, per merchant.
    let s = Server::start_configured(backend, |c| {
        c.funding_cap = aqsha_core::money::Money::parse_positive("1000").unwrap();
    });
    let b = s.add_merchant("shop-b");
    let issue = |m: Value, balance: &'static str| {
        let s = &s;
        async move {
            sandbox_post(
                s,
                &m,
                "/sandbox/cards",
                json!({"expire": "12/39", "cvc": "123", "balance": balance}),
            )
            .await
        }
    };
    let (st, card) = issue(a.clone(), "600").await;
    assert_eq!(st, StatusCode::CREATED, "{card}");
    let card_id = card["id"].as_str().unwrap().to_string();
    let (st, r) = issue(a.clone(), "600").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("created 600"),
        "{r}"
    );
    // Another merchant has a cap of its own.
    let (st, r) = issue(b.clone(), "1000").await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    let b_card = r["id"].as_str().unwrap().to_string();

    let top_up = |m: Value, id: String, amount: &'static str| {
        let s = &s;
        async move {
            sandbox_post(
                s,
                &m,
                &format!("/sandbox/cards/{id}/topup"),
                json!({ "amount": amount }),
            )
            .await
        }
    };
    let (st, r) = top_up(a.clone(), card_id.clone(), "400").await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["balance"], 1000);
    let (st, r) = top_up(a.clone(), card_id.clone(), "0.01").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("funding cap"),
        "{r}"
    );
    // Another merchant's card and a public card are not the caller's to top up.
    let (st, r) = top_up(a.clone(), b_card.clone(), "1").await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{r}");
    let public_id = cards_of(&s, &a).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, r) = top_up(b.clone(), public_id, "1").await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{r}");

    // The ledger balances: the money came from the merchants' funding accounts.
    s.assert_ledger_balanced().await;
    assert_eq!(balance_of(&cards_of(&s, &a).await, &card_id), 100_000);
    assert_eq!(balance_of(&cards_of(&s, &b).await, &b_card), 100_000);
    if backend == Backend::Sqlite {
        let db = rusqlite::Connection::open(s.data_dir().join("aqsha.db")).unwrap();
        let funding: Vec<(String, i64)> = db
            .prepare(
                "SELECT a.id, a.balance + COALESCE((SELECT SUM(s.balance) FROM balance_shards s
                 WHERE s.account_id = a.id), 0) FROM accounts a
                 WHERE a.kind = 'funding' AND a.id LIKE 'funding:%:KZT' ORDER BY 2",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(funding.len(), 2, "{funding:?}");
        assert!(funding.iter().all(|(_, b)| *b == -100_000), "{funding:?}");
    }
}

async fn card_hashes_differ_between_merchants(backend: Backend) {
    let s = Server::start(backend);
    let b = s.add_merchant("shop-b");
    // Both merchants save the same public card (as a receiver) for a customer of theirs.
    let (st, issued) = sandbox_post(
        &s,
        &b,
        "/sandbox/cards",
        json!({"expire": "12/39", "cvc": "321", "balance": "10000"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let b_pan = issued["pan"].as_str().unwrap();
    let receiver = json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD, "save": true});
    let inv = invoice();
    let (st, r) = s
        .pay(&body(
            &inv,
            TERMINAL_2,
            pan_side(VISA, "815", "01/25"),
            receiver.clone(),
            "cust",
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let inv = invoice();
    let token_b = s.token_of(&b).await;
    let (st, r) = s
        .transfer(
            &token_b,
            &body(
                &inv,
                b["terminal"].as_str().unwrap(),
                pan_side(b_pan, "321", "12/39"),
                receiver,
                "cust",
            ),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let hash = |token: String| {
        let s = &s;
        async move {
            let (st, cards) = s.get_json("/cards/cust", &token).await;
            assert_eq!(st, StatusCode::OK, "{cards}");
            cards[0]["CardHash"].as_str().unwrap().to_string()
        }
    };
    let a_hash = hash(s.token(&[("scope", "webapi")]).await).await;
    let b_hash = hash(s.token_of_scoped(&b, "webapi").await).await;
    assert_eq!(a_hash.len(), 64);
    assert_ne!(a_hash, b_hash, "one card, two merchants, two hashes");
}
