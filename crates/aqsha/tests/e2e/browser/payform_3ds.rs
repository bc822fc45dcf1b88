//! 3-D Secure through the hosted form in headless Chromium: the shop calls `halyk.p2p(...)`
//! (or `aft`, `showPaymentWidget`), the payer types the seed's enrolled card
//! (docs/sandbox.md, "3-D Secure"), the browser lands on the sandbox ACS, and its answer takes
//! the browser to the shop's `backLink` or `failureBackLink`, or, in the widget, to the shop's
//! callback, with the money moved once and the order's callback sent.

use super::payform::{
    charged_at_the_back_link, checkout, fill_sender, order, query, status, submit, Order,
};
use super::{element, screenshot, type_into, url_where};
use crate::common::*;
use fantoccini::Client;
use serde_json::json;

crate::tests! {
    browser: [
        the_right_code_returns_to_the_back_link_charged,
        the_challenge_and_its_failure_in_each_language,
        three_wrong_codes_end_at_the_failure_back_link,
        cancel_ends_at_the_failure_back_link,
        the_widget_passes_the_challenge_in_its_frame,
        the_widget_reports_a_cancelled_challenge,
        aft_from_an_enrolled_card_is_challenged,
        a_double_submit_of_the_challenge_charges_once,
    ],
}

/// The seed's enrolled card, its expiry and CVC, and the sandbox ACS's code.
pub(super) const ENROLLED: &str = "4405630000003001";
pub(super) const ENROLLED_MASK: &str = "440563...3001";
pub(super) const ENROLLED_EXPIRY: &str = "1230";
pub(super) const ENROLLED_CVC: &str = "300";
pub(super) const CODE: &str = "123456";

/// From the shop's button to the ACS's code field, paying from the enrolled card.
async fn to_challenge(o: &Order, call: &str, size: (u32, u32)) -> Client {
    let c = checkout(o, call, size).await;
    fill_sender(&c, ENROLLED, ENROLLED_EXPIRY, ENROLLED_CVC).await;
    if call != "aft" {
        type_into(&c, "#receiver-number", MASTERCARD).await;
    }
    submit(&c).await;
    element(&c, "#code").await;
    c
}

/// Types a code into the challenge and presses the button `#acs-submit` or `#acs-cancel`.
async fn answer(c: &Client, code: &str, button: &str) {
    let field = element(c, "#code").await;
    field.clear().await.unwrap();
    field.send_keys(code).await.unwrap();
    element(c, button).await.click().await.unwrap();
}

async fn the_right_code_returns_to_the_back_link_charged(_: Backend) {
    let o = order("rus").await;
    let before = o.s.balance(ENROLLED_MASK).await;
    let c = to_challenge(&o, "p2p", (390, 844)).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/acs/");
    let page = element(&c, "main").await.text().await.unwrap();
    assert!(
        page.contains(ENROLLED_MASK) && page.contains("100"),
        "{page}"
    );
    assert!(!page.contains(ENROLLED), "only the mask is shown");
    assert_eq!(
        status(&o).await["transaction"]["statusName"],
        "NEW",
        "pending until the challenge is answered"
    );
    answer(&c, CODE, "#acs-submit").await;
    charged_at_the_back_link(&c, &o).await;
    let after = o.s.balance(ENROLLED_MASK).await;
    assert_eq!(before - after, 10_000 + 9_500, "amount and fee, once");
    c.close().await.unwrap();
}

/// Per language: the challenge's title, and the attempts left after one wrong code.
const CHALLENGE_WORDS: [(&str, &str, &str); 3] = [
    ("rus", "Подтверждение платежа", "Осталось попыток: 2"),
    ("kaz", "Төлемді растау", "Қалған әрекеттер: 2"),
    ("eng", "Confirm the payment", "Attempts left: 2"),
];

/// The challenge, a wrong code and the failed payment, in each language (and each size when
/// screenshots are asked for). The order names no `failureBackLink`, so the end is
/// confirmPayment's own page.
async fn the_challenge_and_its_failure_in_each_language(_: Backend) {
    for (lang, title, left) in CHALLENGE_WORDS {
        for &(w, h, size) in super::sizes() {
            let mut o = order(lang).await;
            o.params.as_object_mut().unwrap().remove("failureBackLink");
            let c = to_challenge(&o, "p2p", (w, h)).await;
            let heading = element(&c, "h1").await.text().await.unwrap();
            assert_eq!(heading, title);
            screenshot(&c, &format!("acs-{lang}-{size}")).await;
            answer(&c, "000000", "#acs-submit").await;
            let alert = element(&c, "#acs-alert").await.text().await.unwrap();
            assert!(alert.contains("499") && alert.contains(left), "{alert}");
            screenshot(&c, &format!("acs-wrong-{lang}-{size}")).await;
            answer(&c, "", "#acs-cancel").await;
            let result = element(&c, "#secure3d-result").await.text().await.unwrap();
            assert!(result.contains("473"), "{lang}: {result}");
            screenshot(&c, &format!("acs-failed-{lang}-{size}")).await;
            let st = status(&o).await;
            assert_eq!(st["transaction"]["statusName"], "3D", "{st}");
            c.close().await.unwrap();
        }
    }
}

async fn three_wrong_codes_end_at_the_failure_back_link(_: Backend) {
    let o = order("eng").await;
    let before = o.s.balance(ENROLLED_MASK).await;
    let c = to_challenge(&o, "p2p", (1280, 800)).await;
    for _ in 0..3 {
        answer(&c, "654321", "#acs-submit").await;
    }
    let failed = url_where(&c, "at the failureBackLink", |u| u.path() == "/failed").await;
    assert_eq!(query(&failed, "errorCode").as_deref(), Some("505"));
    let st = status(&o).await;
    assert_eq!(
        (
            &st["transaction"]["statusName"],
            &st["transaction"]["reasonCode"]
        ),
        (&json!("3D"), &json!("505")),
        "{st}"
    );
    let hits = o.r.wait_for(1, 30).await;
    assert_eq!(hits[0].path, "/fail");
    assert_eq!(o.s.balance(ENROLLED_MASK).await, before, "nothing moved");
    c.close().await.unwrap();
}

async fn cancel_ends_at_the_failure_back_link(_: Backend) {
    let o = order("kaz").await;
    let c = to_challenge(&o, "p2p", (390, 844)).await;
    answer(&c, "", "#acs-cancel").await;
    let failed = url_where(&c, "at the failureBackLink", |u| u.path() == "/failed").await;
    assert_eq!(query(&failed, "errorCode").as_deref(), Some("473"));
    assert_eq!(status(&o).await["transaction"]["statusName"], "3D");
    assert_eq!(o.r.wait_for(1, 30).await[0].path, "/fail");
    c.close().await.unwrap();
}

/// The widget's frame through the challenge; the shop's callback result, read from its title.
async fn widget_through_challenge(o: &Order, code: &str, button: &str) -> String {
    let c = super::open(1280, 800).await;
    c.goto(&o.shop.checkout(&o.s.url, "showPaymentWidget", &o.params))
        .await
        .unwrap();
    element(&c, "#pay").await.click().await.unwrap();
    element(&c, "iframe").await;
    c.enter_frame(0).await.unwrap();
    fill_sender(&c, ENROLLED, ENROLLED_EXPIRY, ENROLLED_CVC).await;
    type_into(&c, "#receiver-number", MASTERCARD).await;
    submit(&c).await;
    // The ACS is drawn inside the frame: its policy lets the shop's origin frame it.
    element(&c, "#code").await;
    screenshot(&c, "widget-acs-eng").await;
    answer(&c, code, button).await;
    c.enter_parent_frame().await.unwrap();
    let deadline = std::time::Instant::now() + super::PAGE_WAIT;
    loop {
        let title = c.title().await.unwrap();
        if let Some(result) = title.strip_prefix("result:") {
            c.close().await.unwrap();
            return result.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no widget callback: {title}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn the_widget_passes_the_challenge_in_its_frame(_: Backend) {
    let o = order("eng").await;
    let result = widget_through_challenge(&o, CODE, "#acs-submit").await;
    assert_eq!(result, "{\"success\":true}");
    assert_eq!(status(&o).await["transaction"]["statusName"], "CHARGE");
    assert_eq!(o.r.wait_for(1, 30).await[0].path, "/ok");
}

async fn the_widget_reports_a_cancelled_challenge(_: Backend) {
    let o = order("eng").await;
    let result = widget_through_challenge(&o, "", "#acs-cancel").await;
    assert_eq!(result, "{\"success\":false}");
    assert_eq!(status(&o).await["transaction"]["statusName"], "3D");
}

async fn aft_from_an_enrolled_card_is_challenged(_: Backend) {
    let o = order("eng").await;
    let c = to_challenge(&o, "aft", (390, 844)).await;
    answer(&c, CODE, "#acs-submit").await;
    let back = url_where(&c, "at the backLink", |u| u.path() == "/back").await;
    assert!(query(&back, "reference").is_some());
    assert_eq!(status(&o).await["transaction"]["statusName"], "CHARGE");
    c.close().await.unwrap();
}

/// The challenge's form posted twice behind the page's back (a double click, a second tab),
/// each answer's result posted to confirmPayment, then the page's own submit: one charge.
async fn a_double_submit_of_the_challenge_charges_once(_: Backend) {
    let o = order("eng").await;
    let before = o.s.balance(ENROLLED_MASK).await;
    let c = to_challenge(&o, "p2p", (1280, 800)).await;
    element(&c, "#code").await.send_keys(CODE).await.unwrap();
    let posted = c
        .execute_async(
            "const done = arguments[0]; const f = document.getElementById('acs-challenge'); /* f.action is its button named action */\
             const body = new URLSearchParams(new FormData(f)); body.set('action', 'submit');\
             const post = (url, b) => fetch(url, {method: 'POST', body: b, redirect: 'manual'});\
             Promise.all([1, 2].map(() => post(f.getAttribute('action'), body).then(r => r.text())))\
             .then(pages => Promise.all(pages.map(html => {\
               const doc = new DOMParser().parseFromString(html, 'text/html');\
               const back = doc.getElementById('secure3d-return');\
               if (!back) throw new Error(html.slice(0, 3000));\
               return post(back.getAttribute('action'), new URLSearchParams(new FormData(back)));\
             }))).then(rs => done(rs.map(r => r.type)), e => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(posted, json!(["opaqueredirect", "opaqueredirect"]));
    element(&c, "#acs-submit").await.click().await.unwrap();
    let back = url_where(&c, "at the backLink", |u| u.path() == "/back").await;
    let reference = query(&back, "reference").unwrap();
    assert_eq!(
        status(&o).await["transaction"]["reference"],
        reference.as_str()
    );
    let after = o.s.balance(ENROLLED_MASK).await;
    assert_eq!(
        before - after,
        10_000 + 9_500,
        "charged once: amount and fee"
    );
    assert_eq!(o.r.wait_for(1, 30).await.len(), 1);
    c.close().await.unwrap();
}
