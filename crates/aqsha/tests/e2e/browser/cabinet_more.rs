//! The cabinet's second half in headless Chromium (issue 16, items 4–8 and 11): the seed's
//! merchant logs in, sees an operation's callback attempts and resends one that arrives again
//! at a receiver, sees a 3-D Secure operation's challenge steps, issues sandbox cards (with a
//! scenario outcome, with 3-D Secure) that an API transfer then meets, rotates its client
//! secret, deactivates a saved card and sets a terminal's limit that refuses a transfer.
//! With `AQSHA_SCREENSHOTS` they draw each page in rus, kaz and eng at phone and desktop
//! size, as `pages-NAME-LANG-SIZE.png` (docs/cabinet-pages.md).

use super::payform::{checkout, fill_sender, order, submit};
use super::payform_3ds::{CODE, ENROLLED, ENROLLED_CVC, ENROLLED_EXPIRY};
use super::{element, open, screenshot, screenshot_dir, sizes, type_into, url_where};
use crate::cabinet_sandbox::from_card;
use crate::callbacks::pay_with_links;
use crate::common::receiver::{Answer, Receiver};
use crate::common::*;
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

crate::tests! {
    browser: [
        resend_is_seen_at_the_receiver_and_on_the_page,
        a_3d_secure_operation_shows_its_challenge,
        sandbox_cards_from_the_page_meet_api_transfers,
        a_rotated_client_secret_is_shown_once_and_the_old_refused,
        a_deactivated_card_and_a_terminal_limit_refuse_transfers,
    ],
}

const LOGIN: &str = "epay@halykbank.kz";
const PASSWORD: &str = "XZG1E@Mm";
const LANGS: [&str; 3] = ["rus", "kaz", "eng"];

/// A browser at phone size, signed in to `s`'s cabinet as the seed's merchant.
async fn signed_in(s: &Server) -> Client {
    let c = open(390, 844).await;
    log_in(&c, s).await;
    c
}

async fn log_in(c: &Client, s: &Server) {
    c.goto(&s.path("/cabinet/login")).await.unwrap();
    type_into(c, "#email", LOGIN).await;
    type_into(c, "#password", PASSWORD).await;
    element(c, "#login-button").await.click().await.unwrap();
    url_where(c, "signed in", |u| u.path() == "/cabinet/").await;
}

/// Marks the document, runs `act` (which navigates), and waits for a new document.
async fn navigating(c: &Client, act: impl std::future::Future<Output = ()>) {
    c.execute("document.body.dataset.old = '1';", vec![])
        .await
        .unwrap();
    act.await;
    element(c, "body:not([data-old])").await;
}

async fn click(c: &Client, css: &str) {
    navigating(c, async { element(c, css).await.click().await.unwrap() }).await;
}

async fn goto(c: &Client, url: &str) {
    navigating(c, async { c.goto(url).await.unwrap() }).await;
}

/// The page at the browser's URL in each language and size, when screenshots are asked for.
async fn shots(c: &Client, name: &str) {
    if screenshot_dir().is_none() {
        return;
    }
    for (w, h, size) in sizes() {
        c.set_window_size(*w, *h).await.unwrap();
        for lang in LANGS {
            click(c, &format!(".langs button[value={lang}]")).await;
            element(c, &format!(".langs button[value={lang}][aria-current]")).await;
            screenshot(c, &format!("pages-{name}-{lang}-{size}")).await;
        }
    }
    c.set_window_size(390, 844).await.unwrap();
}

async fn text(c: &Client, css: &str) -> String {
    element(c, css).await.text().await.unwrap()
}

/// How many elements match `css` now.
async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

/// Reloads the page until `css` matches `n` elements (the page is rendered by the server).
async fn reload_until(c: &Client, css: &str, n: usize) {
    let deadline = std::time::Instant::now() + EVENTUALLY;
    while count(c, css).await != n {
        assert!(std::time::Instant::now() < deadline, "never {n} of {css}");
        let url = c.current_url().await.unwrap();
        goto(c, url.as_str()).await;
    }
}

/// Opens the newest operation's page from the list.
async fn newest_operation(c: &Client, s: &Server) {
    goto(c, &s.path("/cabinet/operations")).await;
    click(c, "a[href^='/cabinet/operations/']").await;
    element(c, "#op-id").await;
}

async fn resend_is_seen_at_the_receiver_and_on_the_page(_: Backend) {
    // The receiver refuses the first delivery; the retry comes soon after and is taken.
    let s = Server::start_configured(Backend::Sqlite, |c| {
        c.callbacks.retry_schedule = vec![Duration::from_millis(300)];
    });
    let r = Receiver::start(&[Answer::Status(500)]).await;
    let mut body = seed_like_body(&invoice(), json!(2500));
    body["order"]["description"] = json!("Order 42");
    let (st, paid) = pay_with_links(&s, &mut body, &r.url, &r.url, "x").await;
    assert_eq!(st, StatusCode::OK, "{paid}");
    r.wait_for(2, 30).await;
    let c = signed_in(&s).await;
    newest_operation(&c, &s).await;
    reload_until(&c, ".attempts tbody tr", 2).await;
    let attempts = text(&c, ".attempts tbody").await;
    assert!(
        attempts.contains("500") && attempts.contains("200"),
        "{attempts}"
    );
    assert!(
        text(&c, "#op-fee").await.starts_with("95"),
        "the minimum fee"
    );
    assert!(
        !c.source().await.unwrap().contains(VISA),
        "masked cards only"
    );
    shots(&c, "operation").await;
    let page = c.current_url().await.unwrap();
    click(&c, "button.resend").await;
    assert!(!text(&c, "#outcome").await.is_empty());
    let hits = r.wait_for(3, 30).await;
    assert_eq!(
        hits[1].header("x-aqsha-event-id"),
        hits[2].header("x-aqsha-event-id"),
        "the same event again"
    );
    goto(&c, page.as_str()).await;
    reload_until(&c, ".attempts tbody tr", 3).await;
    c.close().await.unwrap();
}

async fn a_3d_secure_operation_shows_its_challenge(_: Backend) {
    let o = order("rus").await;
    let c = checkout(&o, "p2p", (390, 844)).await;
    fill_sender(&c, ENROLLED, ENROLLED_EXPIRY, ENROLLED_CVC).await;
    type_into(&c, "#receiver-number", MASTERCARD).await;
    submit(&c).await;
    // One wrong code, then the right one.
    for code in ["000000", CODE] {
        let field = element(&c, "#code").await;
        field.clear().await.unwrap();
        navigating(&c, async {
            field.send_keys(code).await.unwrap();
            element(&c, "#acs-submit").await.click().await.unwrap();
        })
        .await;
    }
    url_where(&c, "at the backLink", |u| u.path() == "/back").await;
    log_in(&c, &o.s).await;
    newest_operation(&c, &o.s).await;
    let steps = text(&c, "#secure3d").await;
    assert!(steps.contains(": 1"), "one wrong code: {steps}");
    assert!(!text(&c, "#secure3d-result").await.is_empty());
    assert!(
        count(&c, "#postings tbody tr").await >= 2,
        "the charge's postings"
    );
    shots(&c, "operation-3ds").await;
    c.close().await.unwrap();
}

/// Fills and sends the sandbox page's issue form; returns the issued card number.
async fn issue(c: &Client, outcome: &str, secure3d: bool) -> String {
    type_into(c, "#expire", "12/30").await;
    type_into(c, "#cvc", "321").await;
    type_into(c, "#balance", "5000").await;
    if !outcome.is_empty() {
        type_into(c, "#scenario-outcome", outcome).await;
    }
    if secure3d {
        element(c, "#secure3d-box").await.click().await.unwrap();
    }
    click(c, "#issue-button").await;
    text(c, "#issued-pan").await
}

async fn sandbox_cards_from_the_page_meet_api_transfers(_: Backend) {
    let s = Server::start(Backend::Sqlite);
    let c = signed_in(&s).await;
    click(&c, "nav a[href='/cabinet/sandbox']").await;
    element(&c, "#sandbox-marker").await;
    // A natural card pays; one with outcome 456 is declined with it; an enrolled one is
    // challenged.
    let natural = issue(&c, "", false).await;
    let (st, r) = s.pay(&from_card(&natural, 700)).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let scenario = issue(&c, "456", false).await;
    let (st, r) = s.pay(&from_card(&scenario, 700)).await;
    assert_eq!(
        (st, r["code"].as_u64()),
        (StatusCode::BAD_REQUEST, Some(456))
    );
    let enrolled = issue(&c, "", true).await;
    let (st, r) = s.pay(&from_card(&enrolled, 700)).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["secure3D"]["action"], s.path("/acs/"), "{r}");
    // The list shows all three, the enrolled one marked; no full number outside the answer.
    goto(&c, &s.path("/cabinet/sandbox")).await;
    let cards = text(&c, "#network-cards").await;
    assert!(cards.contains("3DS") && cards.contains("456"), "{cards}");
    let source = c.source().await.unwrap();
    for pan in [&natural, &scenario, &enrolled] {
        assert!(!source.contains(pan.as_str()), "shown once");
    }
    shots(&c, "sandbox").await;
    s.assert_ledger_balanced().await;
    c.close().await.unwrap();
}

async fn a_rotated_client_secret_is_shown_once_and_the_old_refused(_: Backend) {
    let s = Server::start(Backend::Sqlite);
    let c = signed_in(&s).await;
    click(&c, "nav a[href='/cabinet/credentials']").await;
    assert_eq!(text(&c, "#client-id").await, CLIENT_ID);
    shots(&c, "credentials").await;
    click(&c, "#rotate-client-secret").await;
    let secret = text(&c, "#new-secret-value").await;
    assert_eq!(secret.len(), 36);
    let (st, _) = s.token_raw(&[]).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "the old secret");
    let (st, body) = s.token_raw(&[("client_secret", &secret)]).await;
    assert_eq!(st, StatusCode::OK, "the new secret: {body}");
    goto(&c, &s.path("/cabinet/credentials")).await;
    assert!(!c.source().await.unwrap().contains(&secret), "shown once");
    c.close().await.unwrap();
}

async fn a_deactivated_card_and_a_terminal_limit_refuse_transfers(_: Backend) {
    let s = Server::start(Backend::Sqlite);
    let c = signed_in(&s).await;
    click(&c, "nav a[href='/cabinet/terminals']").await;
    shots(&c, "terminals").await;
    // The terminal's limit: 150 tenge a transfer.
    type_into(&c, &format!("[id='{TERMINAL_2}-per_transfer']"), "150").await;
    click(&c, &format!("#terminal-{TERMINAL_2} form.limits button")).await;
    element(&c, "#outcome").await;
    let (st, r) = s.pay(&seed_like_body(&invoice(), json!(151))).await;
    assert_eq!(
        (st, r["code"].as_u64()),
        (StatusCode::BAD_REQUEST, Some(488))
    );
    let (st, r) = s.pay(&seed_like_body(&invoice(), json!(150))).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    // The saved card: listed, then deactivated, then refused as a receiver.
    click(&c, "nav a[href='/cabinet/cards']").await;
    element(&c, &format!("#card-{SAVED_RECEIVER}")).await;
    shots(&c, "cards").await;
    click(&c, &format!("#card-{SAVED_RECEIVER} button.deactivate")).await;
    element(&c, "#outcome").await;
    let (st, r) = s.pay(&seed_like_body(&invoice(), json!(100))).await;
    assert_eq!(
        st,
        StatusCode::BAD_REQUEST,
        "a deactivated card pays no more: {r}"
    );
    s.assert_ledger_balanced().await;
    c.close().await.unwrap();
}
