//! The cabinet's sandbox and terminal actions over a real socket (issue 16, items 6 and 8):
//! lock and unlock from the page refusing and allowing a transfer, a top-up, settlement
//! funding, a phone bound from the page receiving a transfer, the limits form changing what a
//! transfer may be, and the sandbox page absent without the sandbox API.

use crate::cabinet::{token_in, Browser};
use crate::cabinet_pages::signed_in;
use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::tests! {
    both: [
        locking_on_the_page_refuses_a_transfer_and_unlocking_allows_it,
        the_limits_form_changes_what_a_transfer_may_be,
    ],
    sqlite: [
        top_up_and_funding_move_money_through_the_ledger,
        a_phone_added_on_the_page_receives_a_transfer,
        the_sandbox_page_is_absent_without_the_sandbox_api,
    ],
}

fn mask_of(pan: &str) -> String {
    format!("{}...{}", &pan[..6], &pan[pan.len() - 4..])
}

/// The sandbox page's row of the card with `mask`: its id and its HTML.
fn card_row(page: &str, mask: &str) -> (String, String) {
    let row = page
        .split("<tr id=\"net-")
        .skip(1)
        .find(|r| r.split("</tr>").next().unwrap().contains(mask))
        .unwrap_or_else(|| panic!("no row for {mask}"));
    let row = row.split("</tr>").next().unwrap();
    (row.split('"').next().unwrap().to_string(), row.to_string())
}

/// Posts `fields` to `path` with the sandbox page's form token; the answer's status and HTML.
async fn post_from_sandbox(b: &mut Browser, path: &str, fields: &[(&str, &str)]) -> String {
    let (_, _, page) = b.get("/cabinet/sandbox").await;
    let t = token_in(&page);
    let mut form = vec![("csrf_token", t.as_str())];
    form.extend_from_slice(fields);
    let (st, _, html) = b.post(path, &form).await;
    assert_eq!(st, StatusCode::OK, "{path}");
    assert!(!html.contains("id=\"outcome-error"), "{path} refused: {html}");
    html
}

/// A transfer from the card `pan` (CVC 321, 12/30) to the seed's saved card.
pub(crate) fn from_card(pan: &str, amount: u64) -> Value {
    let mut body = seed_like_body(&invoice(), json!(amount));
    body["card"]["sender"]["cardCred"] = json!(pan);
    body["card"]["sender"]["cvc"] = json!("321");
    body["card"]["sender"]["expire"] = json!({"month": "12", "year": "30"});
    body
}

async fn locking_on_the_page_refuses_a_transfer_and_unlocking_allows_it(backend: Backend) {
    let s = Server::start(backend);
    let pan = s.issue_card("12/30", "321", "5000", false).await;
    let mut b = signed_in(&s).await;
    let (_, _, page) = b.get("/cabinet/sandbox").await;
    let (id, row) = card_row(&page, &mask_of(&pan));
    assert!(row.contains("/lock\"") && row.contains("/topup\""), "{row}");
    // The public test cards are everyone's: the page offers no action on them.
    let (public_id, public) = card_row(&page, VISA_MASK);
    assert!(!public.contains("<form"), "{public}");
    let lock = format!("/cabinet/sandbox/cards/{id}/lock");
    let html = post_from_sandbox(&mut b, &lock, &[("locked", "true")]).await;
    assert!(card_row(&html, &mask_of(&pan)).1.contains("pill bad"));
    let before = s.balance(&mask_of(&pan)).await;
    let (st, r) = s.pay(&from_card(&pan, 100)).await;
    assert_eq!((st, r["code"].as_u64()), (StatusCode::BAD_REQUEST, Some(465)));
    assert_eq!(s.balance(&mask_of(&pan)).await, before, "nothing moved");
    post_from_sandbox(&mut b, &lock, &[("locked", "false")]).await;
    let (st, r) = s.pay(&from_card(&pan, 100)).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert!(s.balance(&mask_of(&pan)).await < before);
    // A public card cannot be locked from the page even by a hand-made post.
    let t = token_in(&b.get("/cabinet/sandbox").await.2);
    let path = format!("/cabinet/sandbox/cards/{public_id}/lock");
    let (st, _, _) = b.post(&path, &[("csrf_token", &t), ("locked", "true")]).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = s.pay(&seed_like_body(&invoice(), json!(100))).await;
    assert_eq!(st, StatusCode::OK, "the public card still pays");
    s.assert_ledger_balanced().await;
}

async fn settlement_kzt(s: &Server) -> i64 {
    let b = s.sandbox_get("/sandbox/merchant/balance").await;
    b["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "KZT")
        .map(|b| to_minor(&b["balance"]))
        .unwrap_or(0)
}

async fn top_up_and_funding_move_money_through_the_ledger(backend: Backend) {
    let s = Server::start(backend);
    let pan = s.issue_card("12/30", "321", "100", false).await;
    let mut b = signed_in(&s).await;
    let (_, _, page) = b.get("/cabinet/sandbox").await;
    let (id, _) = card_row(&page, &mask_of(&pan));
    let path = format!("/cabinet/sandbox/cards/{id}/topup");
    let html = post_from_sandbox(&mut b, &path, &[("amount", "250,50")]).await;
    assert_eq!(s.balance(&mask_of(&pan)).await, 35_050);
    assert!(html.contains("350,50"), "the new balance on the page");
    // A bad amount is explained, and moves nothing.
    let t = token_in(&html);
    let (st, _, html) = b
        .post(&path, &[("csrf_token", &t), ("amount", "-5")])
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("id=\"outcome-error"), "refused on the page");
    assert_eq!(s.balance(&mask_of(&pan)).await, 35_050);
    let before = settlement_kzt(&s).await;
    let html = post_from_sandbox(
        &mut b,
        "/cabinet/sandbox/fund",
        &[("amount", "1000"), ("currency", "KZT")],
    )
    .await;
    assert_eq!(settlement_kzt(&s).await, before + 100_000);
    let balances = html.split("id=\"balances\"").nth(1).unwrap();
    let balances = balances.split("</ul>").next().unwrap();
    assert!(balances.contains("KZT"), "{balances}");
    s.assert_ledger_balanced().await;
}

async fn a_phone_added_on_the_page_receives_a_transfer(backend: Backend) {
    let s = Server::start(backend);
    let pan = s.issue_card("12/30", "321", "0", false).await;
    let mut b = signed_in(&s).await;
    let (_, _, page) = b.get("/cabinet/sandbox").await;
    let (id, _) = card_row(&page, &mask_of(&pan));
    assert!(page.contains(&format!("<option value=\"{id}\">")), "the card to bind");
    let (phone, iin) = ("77015550123", "900101300123");
    let form = [("phone", phone), ("iin", iin), ("card", id.as_str())];
    let html = post_from_sandbox(&mut b, "/cabinet/sandbox/phones", &form).await;
    let phones = html.split("id=\"phones\"").nth(1).expect("the directory");
    assert!(phones.contains(&mask_of(&pan)), "bound to the card");
    assert!(!html.contains(phone) && !html.contains(iin), "neither shown in full");
    let mut body = seed_like_body(&invoice(), json!(300));
    body["card"]["receiver"] = json!({"transferType": "TYPEPHONE", "phone": phone, "iin": iin});
    let (st, r) = s.pay(&body).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(s.balance(&mask_of(&pan)).await, 30_000);
    // The same phone again is refused with a reason; a bad phone too.
    for (form, why) in [
        (form, "already registered"),
        ([("phone", "8701"), ("iin", iin), ("card", id.as_str())], "11 digits"),
    ] {
        let t = token_in(&b.get("/cabinet/sandbox").await.2);
        let mut f = vec![("csrf_token", t.as_str())];
        f.extend_from_slice(&form);
        let (st, _, html) = b.post("/cabinet/sandbox/phones", &f).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains(why), "{why}");
    }
    s.assert_ledger_balanced().await;
}

async fn the_limits_form_changes_what_a_transfer_may_be(backend: Backend) {
    let s = Server::start(backend);
    let mut b = signed_in(&s).await;
    let path = format!("/cabinet/terminals/{TERMINAL_2}/limits");
    for (per, over, ok) in [("150", 151, 150), ("", 151, 151)] {
        let (_, _, page) = b.get("/cabinet/terminals").await;
        let t = token_in(&page);
        let (st, _, html) = b
            .post(&path, &[("csrf_token", &t), ("per_transfer", per)])
            .await;
        assert_eq!(st, StatusCode::OK);
        assert!(!html.contains("id=\"outcome-error"), "{html}");
        let (st, r) = s.pay(&seed_like_body(&invoice(), json!(ok))).await;
        assert_eq!(st, StatusCode::OK, "{per}: {ok} is allowed: {r}");
        if per.is_empty() {
            continue;
        }
        assert!(html.contains("value=\"150"), "the form shows the limit");
        let (st, r) = s.pay(&seed_like_body(&invoice(), json!(over))).await;
        assert_eq!((st, r["code"].as_u64()), (StatusCode::BAD_REQUEST, Some(488)));
    }
    // A limit that is not an amount is explained on the page, and nothing changes.
    let (_, _, page) = b.get("/cabinet/terminals").await;
    let t = token_in(&page);
    let (st, _, html) = b
        .post(&path, &[("csrf_token", &t), ("per_transfer", "abc")])
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("id=\"outcome-error"));
    let (st, _) = s.pay(&seed_like_body(&invoice(), json!(151))).await;
    assert_eq!(st, StatusCode::OK);
    s.assert_ledger_balanced().await;
}

async fn the_sandbox_page_is_absent_without_the_sandbox_api(backend: Backend) {
    let s = Server::start_configured(backend, |c| c.sandbox_api = false);
    let mut b = signed_in(&s).await;
    let (st, _, dash) = b.get("/cabinet/").await;
    assert_eq!(st, StatusCode::OK);
    assert!(!dash.contains("href=\"/cabinet/sandbox\""), "no link");
    let t = token_in(&dash);
    let (st, _, html) = b.get("/cabinet/sandbox").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(html.contains("<html"), "an HTML page");
    for (path, fields) in [
        ("/cabinet/sandbox/cards", vec![("expire", "12/30"), ("cvc", "123")]),
        ("/cabinet/sandbox/cards/x/topup", vec![("amount", "10")]),
        ("/cabinet/sandbox/cards/x/lock", vec![("locked", "true")]),
        ("/cabinet/sandbox/fund", vec![("amount", "10")]),
        (
            "/cabinet/sandbox/phones",
            vec![("phone", "77015550123"), ("iin", "900101300123"), ("card", "x")],
        ),
    ] {
        let mut form = vec![("csrf_token", t.as_str())];
        form.extend(fields);
        let (st, _, _) = b.post(path, &form).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}");
    }
    // The rest of the cabinet is there.
    let (st, _, _) = b.get("/cabinet/terminals").await;
    assert_eq!(st, StatusCode::OK);
}
