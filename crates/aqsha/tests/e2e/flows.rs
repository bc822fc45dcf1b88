//! AFT (`/chdebit/transfer`), OCT (`/chpayment/transfer`) and transfers to a phone number
//! (`TYPEPHONE`), with the sandbox API's settlement balance, funding and phone directory.

use crate::common::receiver::Receiver;
use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::tests! {
    both: [
        aft_credits_the_merchant_and_oct_pays_out_of_its_settlement,
        aft_and_oct_replay_and_call_back_like_a_transfer,
        the_sandbox_funds_the_settlement_account_within_the_cap,
        one_sided_bodies_carry_their_own_side_only,
        a_phone_transfer_pays_the_card_the_phone_is_bound_to,
        a_phone_with_no_card_and_a_wrong_iin_are_declined,
        a_merchants_own_phone_entries_are_its_own,
    ],
    sqlite: [phone_numbers_and_iins_are_not_stored_in_plain_text],
    postgres: [payouts_racing_on_two_instances_never_overdraw_the_settlement],
}

/// The seed's public phone directory (docs/sandbox.md): this phone is bound to MASTERCARD.
const PHONE: &str = "77010000002";
const PHONE_IIN: &str = "900101300002";

fn order(inv: &str, amount: i64) -> Value {
    json!({
        "amount": amount, "currency": "KZT", "id": inv, "terminalId": TERMINAL_2,
        "description": "flows",
    })
}

fn visa_sender() -> Value {
    json!({
        "transferType": "TYPEPAN", "cardCred": VISA, "cvc": "815",
        "expire": {"month": "01", "year": "25"}, "name": "Arman Ali",
    })
}

/// An AFT body: `card.sender` only.
fn aft(inv: &str, amount: i64) -> Value {
    json!({"order": order(inv, amount), "card": {"sender": visa_sender()}})
}

/// An OCT body: `card.receiver` only.
fn oct(inv: &str, amount: i64, receiver: Value) -> Value {
    json!({"order": order(inv, amount), "card": {"receiver": receiver}})
}

fn mastercard() -> Value {
    json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD})
}

fn phone(number: &str, iin: &str) -> Value {
    json!({"transferType": "TYPEPHONE", "phone": number, "iin": iin})
}

/// POSTs `body` to `path` with `token`.
pub async fn post(s: &Server, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    let resp = s
        .http
        .post(s.path(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

/// The merchant's KZT settlement balance, in minor units.
pub async fn settlement(s: &Server) -> i64 {
    let b = s.sandbox_get("/sandbox/merchant/balance").await;
    let kzt = b["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "KZT")
        .unwrap_or_else(|| panic!("no KZT settlement account: {b}"));
    to_minor(&kzt["balance"])
}

/// `POST /sandbox/merchant/fund` with `{"amount": amount}`.
pub async fn fund(s: &Server, amount: Value) -> (StatusCode, Value) {
    s.sandbox_post("/sandbox/merchant/fund", &json!({"amount": amount}))
        .await
}

async fn status_of(s: &Server, inv: &str, token: &str) -> Value {
    let (st, v) = s
        .get_json(&format!("/check-status/p2p/transaction/{inv}"), token)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v
}

async fn aft_credits_the_merchant_and_oct_pays_out_of_its_settlement(backend: Backend) {
    let s = Server::start(backend);
    assert_eq!(settlement(&s).await, 0);
    let (visa, mc) = (
        s.balance("440563...5096").await,
        s.balance("552204...6736").await,
    );

    let inv = invoice();
    let body = aft(&inv, 1000);
    let token = s.token_for(&body["order"]).await;
    let (st, paid) = post(&s, "/chdebit/transfer", &token, &body).await;
    assert_eq!(st, StatusCode::OK, "{paid}");
    assert_eq!(paid["status"], "CHARGE");
    assert_eq!(paid["fee"], json!(95));
    assert_eq!(paid["senderCardPAN"], "440563...5096");
    assert_eq!(paid["receiverCardPAN"], "");
    assert_eq!(s.balance("440563...5096").await, visa - 109_500);
    assert_eq!(settlement(&s).await, 100_000);
    let st = status_of(&s, &inv, &token).await;
    assert_eq!(st["transaction"]["operationKind"], "AFT");
    assert_eq!(st["transaction"]["cardMask"], "440563...5096");

    let inv = invoice();
    let body = oct(&inv, 500, mastercard());
    let token = s.token_for(&body["order"]).await;
    let (st, paid) = post(&s, "/api/chpayment/transfer", &token, &body).await;
    assert_eq!(st, StatusCode::OK, "{paid}");
    assert_eq!(paid["senderCardPAN"], "");
    assert_eq!(paid["receiverCardPAN"], "552204...6736");
    assert_eq!(s.balance("552204...6736").await, mc + 50_000);
    // 1000 in, 500 and its 95 fee out.
    assert_eq!(settlement(&s).await, 40_500);
    let st = status_of(&s, &inv, &token).await;
    assert_eq!(st["transaction"]["operationKind"], "OCT");
    assert_eq!(st["transaction"]["cardMask"], "552204...6736");
    assert_eq!(st["transaction"]["payoutAmount"], json!(500));

    // 405 left: a payout of 311 needs 311 + 95 = 406.
    let inv = invoice();
    let body = oct(&inv, 311, mastercard());
    let token = s.token_for(&body["order"]).await;
    let (st, declined) = post(&s, "/chpayment/transfer", &token, &body).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{declined}");
    assert_eq!(declined["code"], 484);
    assert!(declined["message"]
        .as_str()
        .unwrap()
        .contains("settlement balance"));
    assert_eq!(settlement(&s).await, 40_500);
    assert_eq!(s.balance("552204...6736").await, mc + 50_000);
    let st = status_of(&s, &inv, &token).await;
    assert_eq!(st["resultCode"], "101");
    assert_eq!(st["transaction"]["reasonCode"], "484");
    s.assert_ledger_balanced().await;
}

async fn aft_and_oct_replay_and_call_back_like_a_transfer(backend: Backend) {
    let s = Server::start(backend);
    let r = Receiver::start(&[]).await;
    let (ok, fail) = (format!("{}/ok", r.url), format!("{}/fail", r.url));

    let inv = invoice();
    let mut body = aft(&inv, 200);
    body["order"]["postLink"] = json!(ok);
    body["order"]["failurePostLink"] = json!(fail);
    let token = s.token_for(&body["order"]).await;
    let (st, first) = post(&s, "/chdebit/transfer", &token, &body).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    // The same request with the same token is answered as before; nothing moves again.
    let (st, again) = post(&s, "/chdebit/transfer", &token, &body).await;
    assert_eq!((st, &again), (StatusCode::OK, &first));
    assert_eq!(settlement(&s).await, 20_000);
    let hits = r.wait_for(1, 30).await;
    assert_eq!(hits[0].path, "/ok");
    let cb = hits[0].json();
    assert_eq!(cb["invoiceId"], inv.as_str());
    assert_eq!(cb["code"], "ok");
    assert_eq!(cb["cardMask"], "440563...5096");

    // A payout the settlement cannot cover: its failure callback names the card it was for.
    let inv = invoice();
    let mut body = oct(&inv, 10_000, mastercard());
    body["order"]["postLink"] = json!(ok);
    body["order"]["failurePostLink"] = json!(fail);
    let token = s.token_for(&body["order"]).await;
    let (st, declined) = post(&s, "/chpayment/transfer", &token, &body).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{declined}");
    let (st, again) = post(&s, "/chpayment/transfer", &token, &body).await;
    assert_eq!((st, &again), (StatusCode::BAD_REQUEST, &declined));
    let hits = r.wait_for(2, 30).await;
    let cb = hits.iter().find(|h| h.path == "/fail").unwrap().json();
    assert_eq!(cb["code"], "error");
    assert_eq!(cb["reasonCode"], json!(484));
    assert_eq!(cb["cardMask"], "552204...6736");
    assert_eq!(cb["cardType"], "MasterCard");
    s.assert_ledger_balanced().await;
}

async fn the_sandbox_funds_the_settlement_account_within_the_cap(backend: Backend) {
    let s = Server::start(backend);
    let (st, v) = fund(&s, json!(5000)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"currency": "KZT", "balance": 5000}));
    assert_eq!(settlement(&s).await, 500_000);
    // Far past the default cap: refused, nothing moved.
    let (st, v) = fund(&s, json!(1_000_000_000)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("funding cap"),
        "{v}"
    );
    assert_eq!(settlement(&s).await, 500_000);
    let (st, v) = fund(&s, json!(-5)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");

    let inv = invoice();
    let body = oct(&inv, 4000, mastercard());
    let token = s.token_for(&body["order"]).await;
    let (st, paid) = post(&s, "/chpayment/transfer", &token, &body).await;
    assert_eq!(st, StatusCode::OK, "{paid}");
    s.assert_ledger_balanced().await;
}

async fn one_sided_bodies_carry_their_own_side_only(backend: Backend) {
    let s = Server::start(backend);
    let inv = invoice();
    let mut body = aft(&inv, 100);
    body["card"]["receiver"] = mastercard();
    let token = s.token_for(&body["order"]).await;
    let (st, v) = post(&s, "/chdebit/transfer", &token, &body).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("card.sender"),
        "{v}"
    );
    let body = oct(&inv, 100, json!(null));
    let (st, v) = post(&s, "/chpayment/transfer", &token, &body).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("card.receiver"),
        "{v}"
    );
    // Neither spent the token: the right body still goes through.
    let (st, v) = post(&s, "/chdebit/transfer", &token, &aft(&inv, 100)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

async fn a_phone_transfer_pays_the_card_the_phone_is_bound_to(backend: Backend) {
    let s = Server::start(backend);
    let mc = s.balance("552204...6736").await;
    let mut body = seed_like_body(&invoice(), json!(300));
    body["card"]["receiver"] = phone(PHONE, PHONE_IIN);
    let (st, paid) = s.pay(&body).await;
    assert_eq!(st, StatusCode::OK, "{paid}");
    assert_eq!(paid["receiverCardPAN"], "552204...6736");
    assert_eq!(paid["receiverCardType"], "MasterCard");
    assert_eq!(paid["receiverTransferType"], "TYPEPHONE");
    assert_eq!(paid["receiverCardID"], "");
    assert_eq!(s.balance("552204...6736").await, mc + 30_000);
    s.assert_ledger_balanced().await;
}

async fn a_phone_with_no_card_and_a_wrong_iin_are_declined(backend: Backend) {
    let s = Server::start(backend);
    let visa = s.balance("440563...5096").await;
    for (number, iin, code) in [
        ("77019999990", PHONE_IIN, 471),
        (PHONE, "900101300001", 2357),
    ] {
        let mut body = seed_like_body(&invoice(), json!(300));
        body["card"]["receiver"] = phone(number, iin);
        let (st, v) = s.pay(&body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["code"], code, "{v}");
    }
    // Malformed numbers are refused as format errors, without a token being spent.
    let mut body = seed_like_body(&invoice(), json!(300));
    body["card"]["receiver"] = phone("87010000002", PHONE_IIN);
    let token = s.token_for(&body["order"]).await;
    let (st, v) = s.transfer(&token, &body).await;
    assert_eq!(
        (st, v["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(477))
    );
    assert!(!v.to_string().contains("87010000002"), "{v}");
    body["card"]["receiver"] = phone(PHONE, PHONE_IIN);
    let (st, v) = s.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(s.balance("440563...5096").await, visa - 30_000 - 9_500);
}

async fn a_merchants_own_phone_entries_are_its_own(backend: Backend) {
    let s = Server::start(backend);
    let pan = s.issue_card("12/30", "123", "0", false).await;
    let cards = s.sandbox_get("/sandbox/cards").await;
    let mask = aqsha_wire::card::mask(&pan);
    let card = cards
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["mask"] == mask.as_str())
        .unwrap()
        .clone();
    let add = |body: Value| {
        s.sandbox(reqwest::Method::POST, "/sandbox/phones")
            .json(&body)
            .send()
    };
    let entry = json!({"phone": "77055550001", "iin": "850505400123", "cardId": card["id"]});
    let resp = add(entry.clone()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(add(entry).await.unwrap().status(), StatusCode::BAD_REQUEST);
    let unknown = json!({"phone": "77055550002", "iin": "850505400123", "cardId": "nope"});
    assert_eq!(add(unknown).await.unwrap().status(), StatusCode::NOT_FOUND);
    let list = s.sandbox_get("/sandbox/phones").await;
    let shown = list.to_string();
    assert!(
        shown.contains("7705*****01") && !shown.contains("77055550001"),
        "{list}"
    );
    assert!(!shown.contains("850505400123"), "{list}");

    // The owner's transfer reaches the card.
    let mut body = seed_like_body(&invoice(), json!(100));
    body["card"]["receiver"] = phone("77055550001", "850505400123");
    let (st, paid) = s.pay(&body).await;
    assert_eq!(st, StatusCode::OK, "{paid}");
    assert_eq!(paid["receiverCardPAN"], mask.as_str());

    // Another merchant's transfer does not know the phone.
    let other = s.add_merchant("phones-other");
    let token = s.token_of(&other).await;
    let terminal = other["terminal"].as_str().unwrap().to_string();
    let mut body = seed_like_body(&invoice(), json!(100));
    body["order"]["terminalId"] = json!(terminal);
    body["card"]["receiver"] = phone("77055550001", "850505400123");
    let (st, v) = s.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["code"], 471, "{v}");
}

async fn phone_numbers_and_iins_are_not_stored_in_plain_text(backend: Backend) {
    let s = Server::start(backend);
    let mut body = seed_like_body(&invoice(), json!(100));
    body["card"]["receiver"] = phone(PHONE, PHONE_IIN);
    let (st, v) = s.pay(&body).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let mut body = seed_like_body(&invoice(), json!(100));
    body["card"]["receiver"] = phone(PHONE, "911111111111");
    let (st, _) = s.pay(&body).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    for file in files_under(s.dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [PHONE, PHONE_IIN, "911111111111"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in {}",
                file.display()
            );
        }
    }
}

async fn payouts_racing_on_two_instances_never_overdraw_the_settlement(_: Backend) {
    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let pg = crate::common::pg::PgDb::create();
    let a = Server::start_instance(&pg.url, KEY, &[]);
    let b = Server::start_instance(&pg.url, KEY, &[]);
    // 1,000 KZT; each payout costs 100 + 95 fee, so exactly five fit.
    let (st, v) = fund(&a, json!(1000)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let bodies: Vec<Value> = (0..24)
        .map(|_| oct(&invoice(), 100, mastercard()))
        .collect();
    let tokens =
        futures_util::future::join_all(bodies.iter().map(|b| a.token_for(&b["order"]))).await;
    let results = futures_util::future::join_all(bodies.iter().zip(&tokens).enumerate().map(
        |(i, (body, token))| {
            let s = if i % 2 == 0 { &a } else { &b };
            post(s, "/chpayment/transfer", token, body)
        },
    ))
    .await;
    let paid = results
        .iter()
        .filter(|(st, _)| *st == StatusCode::OK)
        .count();
    let short = results.iter().filter(|(_, v)| v["code"] == 484).count();
    assert_eq!((paid, short), (5, 19), "{results:?}");
    assert_eq!(settlement(&b).await, 100_000 - 5 * 19_500);
    a.assert_ledger_balanced().await;
}
