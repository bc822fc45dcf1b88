//! 3-D Secure (`docs/protocol.md`, "3-D Secure"): a transfer from an enrolled card answers
//! `secure3D`, a browser (reqwest with the ACS's CSRF cookie carried by hand) follows the ACS
//! pages and confirmPayment to the order's back link, and the operation is charged or failed
//! once, with its callback, whatever is replayed, and also across a restart or an expiry.

use crate::common::receiver::{free_port, Receiver};
use crate::common::*;
use crate::outcomes::{status_of, token_with_links};
use crate::common::forms::{hidden, Browser};
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::tests! {
    both: [
        the_right_code_charges_once_and_returns_to_back_link,
        three_wrong_codes_fail_with_505,
        cancel_fails_with_473,
        an_unanswered_challenge_expires_through_the_resolver,
        forged_or_foreign_pa_res_is_refused_and_changes_nothing,
        the_acs_takes_only_our_term_url_and_its_forms_need_csrf,
        an_issued_enrolled_card_is_challenged_on_aft_and_others_charge_at_once,
    ],
    sqlite: [a_pending_challenge_completes_across_a_restart],
}

/// The seed's 3-D Secure enrolled card (docs/sandbox.md).
pub(crate) const ENROLLED: &str = "4405630000003001";
const SANDBOX_CODE: &str = "123456";

/// A transfer from the enrolled card, `amount` tenge, with the receiver's links as the
/// token's callbacks and as the order's back links.
async fn enrolled_transfer(s: &Server, r: &Receiver, pan: &str) -> (Value, String) {
    let mut body = seed_like_body(&invoice(), json!(1000));
    let sender = &mut body["card"]["sender"];
    sender["cardCred"] = json!(pan);
    sender["cvc"] = json!(if pan == ENROLLED { "300" } else { "123" });
    sender["expire"] = json!({"month": "12", "year": "30"});
    let o = &mut body["order"];
    o["language"] = json!("eng");
    o["backLink"] = json!(format!("{}/back?shop=1", r.url));
    o["failureBackLink"] = json!(format!("{}/failed", r.url));
    let token = token_with_links(s, &body, r).await;
    (body, token)
}

/// Transfers from the enrolled card; checks the `secure3D` answer and returns it.
async fn challenged(s: &Server, body: &Value, token: &str) -> Value {
    let (status, r) = s.transfer(token, body).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert!(r.get("code").is_none(), "{r}");
    assert_eq!((&r["status"], &r["reference"]), (&json!("NEW"), &json!("")));
    let s3d = r["secure3D"].clone();
    assert_eq!(s3d["action"], s.path("/acs/"), "{r}");
    assert_eq!(s3d["termURL"], s.path("/payments/cards/confirmPayment"));
    assert_eq!(s3d["md"], r["id"]);
    s3d
}

/// The ACS's challenge page for a `secure3D` object.
async fn open_acs(b: &mut Browser, s3d: &Value) -> String {
    let (status, _, html) = b
        .post(
            s3d["action"].as_str().unwrap(),
            &[
                ("MD", s3d["md"].as_str().unwrap()),
                ("PaReq", s3d["paReq"].as_str().unwrap()),
                ("TermUrl", s3d["termURL"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    html
}

/// Submits the challenge page's form with a code or a cancel.
async fn answer(b: &mut Browser, s: &Server, page: &str, code: &str, action: &str) -> String {
    let fields = ["csrf_token", "MD", "PaReq", "TermUrl"].map(|n| (n, hidden(page, n)));
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    form.extend([("code", code), ("action", action)]);
    let (status, _, html) = b.post(&s.path("/acs/challenge"), &form).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    html
}

/// Posts the return page's form (MD, PaRes) to its action: (status, Location).
async fn follow_return(b: &mut Browser, page: &str) -> (StatusCode, String) {
    assert!(page.contains("id=\"secure3d-return\""), "{page}");
    let action = hidden_action(page);
    let (md, pa_res) = (hidden(page, "MD"), hidden(page, "PaRes"));
    let (status, location, _) = b.post(&action, &[("MD", &md), ("PaRes", &pa_res)]).await;
    (status, location)
}

fn hidden_action(page: &str) -> String {
    let at = page.find("method=\"post\" action=\"").unwrap() + 22;
    let rest = &page[at..];
    hidden_unescape(&rest[..rest.find('"').unwrap()])
}

fn hidden_unescape(v: &str) -> String {
    hidden(&format!("name=\"x\" value=\"{v}\""), "x")
}

/// A cardholder's whole visit to the ACS, as a browser makes it: posts `fields` (MD, PaReq,
/// TermUrl, as a client hands them out) to `acs`, enters `code` (or cancels, for `""`), and
/// follows the return form to confirmPayment: its (status, Location).
pub(crate) async fn cardholder_answers(
    s: &Server,
    acs: &str,
    fields: &[(&str, &str)],
    code: &str,
) -> (StatusCode, String) {
    let mut b = Browser::new();
    let (status, _, page) = b.post(acs, fields).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let action = if code.is_empty() { "cancel" } else { "submit" };
    let back = answer(&mut b, s, &page, code, action).await;
    follow_return(&mut b, &back).await
}

/// A server, a receiver, and a transfer from the seed's enrolled card waiting for its
/// challenge: (the card's balance before, body, token, invoice, secure3D).
async fn waiting(s: &Server, r: &Receiver) -> (i64, Value, String, String, Value) {
    let before = s.balance("440563...3001").await;
    let (body, token) = enrolled_transfer(s, r, ENROLLED).await;
    let invoice = body["order"]["id"].as_str().unwrap().to_string();
    let s3d = challenged(s, &body, &token).await;
    (before, body, token, invoice, s3d)
}

async fn the_right_code_charges_once_and_returns_to_back_link(backend: Backend) {
    let (s, r) = (Server::start(backend), Receiver::start(&[]).await);
    let (before, body, token, invoice, s3d) = waiting(&s, &r).await;
    // The same request again: the same secure3D, nothing new.
    assert_eq!(s.transfer(&token, &body).await.1["secure3D"], s3d);
    assert_eq!(
        status_of(&s, &invoice).await["transaction"]["statusName"],
        "NEW"
    );
    assert_eq!(s.balance("440563...3001").await, before);
    let mut b = Browser::new();
    let page = open_acs(&mut b, &s3d).await;
    for shown in [
        "ePay test merchant",
        "440563...3001",
        "autocomplete=\"one-time-code\"",
        "inputmode=\"numeric\"",
        "Confirm the payment",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(!page.contains(ENROLLED));
    let back = answer(&mut b, &s, &page, SANDBOX_CODE, "submit").await;
    let (status, location) = follow_return(&mut b, &back).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let st = status_of(&s, &invoice).await;
    let reference = st["transaction"]["reference"].as_str().unwrap().to_string();
    assert_eq!(st["transaction"]["statusName"], "CHARGE", "{st}");
    // ePay's "3-D Secure used", in the status and in the callback.
    assert_eq!(st["transaction"]["secure"], "Yes", "{st}");
    assert_eq!(
        location,
        format!("{}/back?shop=1&reference={reference}", r.url)
    );
    let hits = r.wait_for(1, 30).await;
    assert_eq!(
        (hits[0].path.as_str(), &hits[0].json()["reference"]),
        ("/ok", &json!(reference))
    );
    assert_eq!(hits[0].json()["secure"], "Yes");
    // The PaRes posted again: the same redirect, nothing charged twice.
    let (again, location_again) = follow_return(&mut b, &back).await;
    assert_eq!((again, location_again), (StatusCode::SEE_OTHER, location));
    let moved = before - s.balance("440563...3001").await;
    assert_eq!(moved, 100_000 + 9_500);
    // The transfer request replayed now answers the charge.
    assert_eq!(s.transfer(&token, &body).await.1["status"], "CHARGE");
    assert_eq!(r.hits().len(), 1);
    s.assert_ledger_balanced().await;
}

/// Runs a challenge to its failure with `steps` (code, action) and checks where it ends.
async fn fails_with(backend: Backend, steps: &[(&str, &str)], code: u32) {
    let (s, r) = (Server::start(backend), Receiver::start(&[]).await);
    let (before, _, _, invoice, s3d) = waiting(&s, &r).await;
    let mut b = Browser::new();
    let mut page = open_acs(&mut b, &s3d).await;
    for (n, (c, action)) in steps.iter().enumerate() {
        page = answer(&mut b, &s, &page, c, action).await;
        if n + 1 < steps.len() {
            let left = format!("Attempts left: {}", 2 - n);
            assert!(page.contains(&left), "{left}: {page}");
        }
    }
    let (status, location) = follow_return(&mut b, &page).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("{}/failed?errorCode={code}", r.url));
    let st = status_of(&s, &invoice).await;
    let t = &st["transaction"];
    assert_eq!(
        (&st["resultCode"], &t["statusName"]),
        (&json!("101"), &json!("3D")),
        "{st}"
    );
    assert_eq!(t["reasonCode"], code.to_string());
    // Tried but not passed: not paid with 3-D Secure.
    assert_eq!(t["secure"], "No");
    let hits = r.wait_for(1, 30).await;
    assert_eq!(
        (
            hits[0].path.as_str(),
            &hits[0].json()["reasonCode"],
            &hits[0].json()["secure"]
        ),
        ("/fail", &json!(code), &json!("No"))
    );
    assert_eq!(s.balance("440563...3001").await, before);
    // The right code now changes nothing: the check has failed for good.
    let again = open_acs(&mut b, &s3d).await;
    assert_eq!(follow_return(&mut b, &again).await.1, location);
}

async fn three_wrong_codes_fail_with_505(backend: Backend) {
    let wrong = [
        ("000000", "submit"),
        ("111111", "submit"),
        ("222222", "submit"),
    ];
    fails_with(backend, &wrong, 505).await;
}

async fn cancel_fails_with_473(backend: Backend) {
    fails_with(backend, &[("", "cancel")], 473).await;
}

async fn an_unanswered_challenge_expires_through_the_resolver(backend: Backend) {
    let s = Server::start_configured(backend, |c| {
        c.rules.secure3d_expiry = chrono::Duration::seconds(1);
    });
    let r = Receiver::start(&[]).await;
    let (body, token) = enrolled_transfer(&s, &r, ENROLLED).await;
    let invoice = body["order"]["id"].as_str().unwrap().to_string();
    challenged(&s, &body, &token).await;
    let st = eventually("the challenge expires", EVENTUALLY, || {
        let (s, invoice) = (&s, &invoice);
        async move {
            let st = status_of(s, invoice).await;
            (st["resultCode"] != "107").then_some(st)
        }
    })
    .await;
    assert_eq!(st["transaction"]["statusName"], "3D", "{st}");
    assert_eq!(st["transaction"]["reasonCode"], "473");
    let hits = r.wait_for(1, 30).await;
    assert_eq!(hits[0].path, "/fail");
}

async fn forged_or_foreign_pa_res_is_refused_and_changes_nothing(backend: Backend) {
    let s = Server::start(backend);
    let r = Receiver::start(&[]).await;
    let (body_a, token_a) = enrolled_transfer(&s, &r, ENROLLED).await;
    let a = challenged(&s, &body_a, &token_a).await;
    let (body_b, token_b) = enrolled_transfer(&s, &r, ENROLLED).await;
    let b3d = challenged(&s, &body_b, &token_b).await;
    let mut b = Browser::new();
    let page = open_acs(&mut b, &a).await;
    let back = answer(&mut b, &s, &page, SANDBOX_CODE, "submit").await;
    let pa_res = hidden(&back, "PaRes");
    let confirm = s.path("/api/payments/cards/confirmPayment?Access=x%2By");
    for (md, pa_res) in [
        (b3d["md"].as_str().unwrap(), pa_res.as_str()),
        (a["md"].as_str().unwrap(), "bm90IGEgcGFyZXM"),
        (a["md"].as_str().unwrap(), ""),
    ] {
        let (status, location, html) = b.post(&confirm, &[("MD", md), ("PaRes", pa_res)]).await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::BAD_REQUEST, ""),
            "{html}"
        );
        assert!(
            html.contains("<html") && html.contains("3-D Secure"),
            "{html}"
        );
    }
    for body in [&body_a, &body_b] {
        let st = status_of(&s, body["order"]["id"].as_str().unwrap()).await;
        assert_eq!(st["resultCode"], "107", "{st}");
    }
    assert!(r.hits().is_empty());
    // A's own PaRes, under /api with the SDK's Access parameter, still completes A.
    let (status, location, _) = b
        .post(
            &confirm,
            &[("MD", a["md"].as_str().unwrap()), ("PaRes", &pa_res)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("reference="), "{location}");
}

async fn the_acs_takes_only_our_term_url_and_its_forms_need_csrf(backend: Backend) {
    let s = Server::start(backend);
    let r = Receiver::start(&[]).await;
    let (body, token) = enrolled_transfer(&s, &r, ENROLLED).await;
    let s3d = challenged(&s, &body, &token).await;
    let mut b = Browser::new();
    let (md, pa_req) = (s3d["md"].as_str().unwrap(), s3d["paReq"].as_str().unwrap());
    for term in [
        "https://evil.example/payments/cards/confirmPayment",
        "/payments/cards/auth",
    ] {
        let fields = [("MD", md), ("PaReq", pa_req), ("TermUrl", term)];
        let (status, _, html) = b.post(&s.path("/acs/"), &fields).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{term}");
        assert!(html.contains("<html"), "{html}");
    }
    let wrong_req = [
        ("MD", md),
        ("PaReq", "guess"),
        ("TermUrl", "/payments/cards/confirmPayment"),
    ];
    assert_eq!(
        b.post(&s.path("/acs/"), &wrong_req).await.0,
        StatusCode::BAD_REQUEST
    );
    // A code posted without the page's CSRF token is refused before it is counted.
    let page = open_acs(&mut b, &s3d).await;
    let mut stranger = Browser::new();
    let fields = [
        ("MD", md),
        ("PaReq", pa_req),
        ("code", "1"),
        ("action", "submit"),
    ];
    let (status, _, _) = stranger.post(&s.path("/acs/challenge"), &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The relative TermUrl works too, and the three wrong codes are still all there.
    let again = answer(&mut b, &s, &page, "0", "submit").await;
    assert!(again.contains("Attempts left: 2"), "{again}");
}

async fn an_issued_enrolled_card_is_challenged_on_aft_and_others_charge_at_once(backend: Backend) {
    let s = Server::start(backend);
    let r = Receiver::start(&[]).await;
    let resp = s
        .http
        .post(s.path("/sandbox/cards"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .json(&json!({"expire": "12/30", "cvc": "123", "balance": "100000", "secure3d": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let card: Value = resp.json().await.unwrap();
    assert_eq!(card["secure3d"], true, "{card}");
    // An AFT from it waits for the challenge too.
    let (mut body, _) = enrolled_transfer(&s, &r, card["pan"].as_str().unwrap()).await;
    body["card"].as_object_mut().unwrap().remove("receiver");
    let token = token_with_links(&s, &body, &r).await;
    let resp = s
        .http
        .post(s.path("/chdebit/transfer"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let aft: Value = resp.json().await.unwrap();
    assert_eq!(
        (&aft["status"], aft["secure3D"].is_object()),
        (&json!("NEW"), true),
        "{aft}"
    );
    // The seed's documented card is not enrolled: it charges at once, as the seed prints.
    let cards = s.sandbox_get("/sandbox/cards").await;
    let visa = cards
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["mask"] == "440563...5096");
    assert_eq!(visa.unwrap()["secure3d"], false);
    let mut plain = seed_like_body(&invoice(), json!(100));
    plain["order"]["backLink"] = json!(format!("{}/back", r.url));
    let (status, charged) = s.pay(&plain).await;
    assert_eq!(
        (status, &charged["status"]),
        (StatusCode::OK, &json!("CHARGE")),
        "{charged}"
    );
    assert!(charged.get("secure3D").is_none());
    let st = status_of(&s, plain["order"]["id"].as_str().unwrap()).await;
    assert_eq!(st["transaction"]["secure"], "No", "{st}");
}

async fn a_pending_challenge_completes_across_a_restart(backend: Backend) {
    // A fixed port, so that the links in the secure3D answer reach the restarted server.
    let listen = free_port();
    let mut s = Server::start_configured(backend, |c| c.listen = listen);
    let r = Receiver::start(&[]).await;
    let (body, token) = enrolled_transfer(&s, &r, ENROLLED).await;
    let invoice = body["order"]["id"].as_str().unwrap().to_string();
    let s3d = challenged(&s, &body, &token).await;
    let mut b = Browser::new();
    let page = open_acs(&mut b, &s3d).await;
    let page = answer(&mut b, &s, &page, "999999", "submit").await;
    s.restart();
    // The wrong code was counted durably: one fewer attempt after the restart.
    let page = answer(&mut b, &s, &page, "888888", "submit").await;
    assert!(page.contains("Attempts left: 1"), "{page}");
    let back = answer(&mut b, &s, &page, SANDBOX_CODE, "submit").await;
    let (status, location) = follow_return(&mut b, &back).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("reference="), "{location}");
    assert_eq!(
        status_of(&s, &invoice).await["transaction"]["statusName"],
        "CHARGE"
    );
    assert_eq!(r.wait_for(1, 30).await.len(), 1);
}
