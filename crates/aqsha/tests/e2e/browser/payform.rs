//! The hosted form in headless Chromium: a shop page loads `/payform/payment-api.js`, calls
//! `halyk.p2p(...)` (or `aft`, `oct`, `showPaymentWidget`), the trial types the cards like a
//! person, and the browser lands on the shop's `backLink` with the money moved once.

use super::shop::Shop;
use super::{element, open, screenshot, type_into, url_where};
use crate::common::receiver::Receiver;
use crate::common::*;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};

crate::tests! {
    browser: [
        p2p_form_pays_and_returns_to_the_back_link,
        a_decline_is_explained_in_each_language,
        a_double_submit_charges_once,
        aft_and_oct_pages_ask_for_one_side,
        the_widget_tells_the_merchant_page,
        bad_params_give_a_clear_page,
    ],
}

/// A shop, the server, a callback receiver, and the params for one order of 100 KZT.
pub(super) struct Order {
    pub s: Server,
    pub shop: Shop,
    pub r: Receiver,
    pub invoice: String,
    pub params: Value,
}

pub(super) async fn order(lang: &str) -> Order {
    let s = Server::start(Backend::Sqlite);
    let shop = Shop::start().await;
    let r = Receiver::start(&[]).await;
    let invoice = invoice();
    let (ok, fail) = (format!("{}/ok", r.url), format!("{}/fail", r.url));
    let (_, auth) = s
        .token_raw(&[
            ("invoiceID", &invoice),
            ("amount", "100"),
            ("currency", "KZT"),
            ("terminal", TERMINAL),
            ("postLink", &ok),
            ("failurePostLink", &fail),
        ])
        .await;
    let params = json!({
        "invoiceId": invoice, "amount": 100, "currency": "KZT", "terminal": TERMINAL,
        "auth": auth, "backLink": format!("{}/back", shop.url),
        "failureBackLink": format!("{}/failed", shop.url), "postLink": ok,
        "failurePostLink": fail, "language": lang, "description": "Order 42",
    });
    Order {
        s,
        shop,
        r,
        invoice,
        params,
    }
}

/// Opens the shop's page in a browser and presses its button.
pub(super) async fn checkout(o: &Order, call: &str, size: (u32, u32)) -> Client {
    let c = open(size.0, size.1).await;
    c.goto(&o.shop.checkout(&o.s.url, call, &o.params))
        .await
        .unwrap();
    element(&c, "#pay").await.click().await.unwrap();
    c
}

pub(super) async fn fill_sender(c: &Client, number: &str, expiry: &str, cvc: &str) {
    type_into(c, "#sender-number", number).await;
    type_into(c, "#sender-expiry", expiry).await;
    type_into(c, "#sender-cvc", cvc).await;
    type_into(c, "#sender-name", "ARMAN ALI").await;
}

pub(super) async fn submit(c: &Client) {
    element(c, "button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
}

pub(super) fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Waits for the browser at the shop's `backLink`; checks that the status API says
/// `CHARGE` with the reference the link carries and that the callback brought it too.
pub(super) async fn charged_at_the_back_link(c: &Client, o: &Order) -> String {
    let back = url_where(c, "at the backLink", |u| u.path() == "/back").await;
    let reference = query(&back, "reference").expect("reference in the backLink");
    let st = status(o).await;
    assert_eq!(st["transaction"]["statusName"], "CHARGE", "{st}");
    assert_eq!(st["transaction"]["reference"], reference.as_str());
    let hits = o.r.wait_for(1, 30).await;
    assert_eq!(hits[0].path, "/ok");
    assert_eq!(hits[0].json()["reference"], reference.as_str());
    reference
}

pub(super) async fn status(o: &Order) -> Value {
    let token = o.s.token(&[("terminal", TERMINAL)]).await;
    let path = format!("/check-status/p2p/transaction/{}", o.invoice);
    o.s.get_json(&path, &token).await.1
}

async fn p2p_form_pays_and_returns_to_the_back_link(_: Backend) {
    let o = order("eng").await;
    let c = checkout(&o, "p2p", (390, 844)).await;
    let form = element(&c, "#payform").await;
    assert!(
        form.text().await.unwrap().contains("95"),
        "the fee is shown"
    );
    let number = element(&c, "#sender-number").await;
    assert_eq!(
        number.attr("autocomplete").await.unwrap().as_deref(),
        Some("cc-number")
    );
    assert_eq!(
        number.attr("name").await.unwrap().as_deref(),
        Some("sender.cardCred")
    );
    fill_sender(&c, VISA, "0125", "815").await;
    assert_eq!(
        element(&c, "#sender-brand").await.text().await.unwrap(),
        "VISA"
    );
    type_into(&c, "#receiver-number", MASTERCARD).await;
    submit(&c).await;
    let reference = charged_at_the_back_link(&c, &o).await;
    assert_eq!(reference.len(), 12);
    c.close().await.unwrap();
}

/// A locked seed card, in each language; the page never shows the card number again.
async fn a_decline_is_explained_in_each_language(_: Backend) {
    let expected = [
        ("rus", "Карта заблокирована", "код 465"),
        ("kaz", "Карта бұғатталған", "код 465"),
        ("eng", "The card is blocked", "code 465"),
    ];
    for (lang, words, code) in expected {
        for &(w, h, size) in super::sizes() {
            let o = order(lang).await;
            let c = checkout(&o, "p2p", (w, h)).await;
            element(&c, "#payform").await;
            screenshot(&c, &format!("form-{lang}-{size}")).await;
            fill_sender(&c, "4003032704547597", "0920", "170").await;
            type_into(&c, "#receiver-number", MASTERCARD).await;
            submit(&c).await;
            let alert = element(&c, "#payform-alert").await.text().await.unwrap();
            assert!(
                alert.contains(words) && alert.contains(code),
                "{lang}: {alert}"
            );
            let source = c.source().await.unwrap();
            assert!(
                !source.contains("4003032704547597"),
                "the card number is not in the page"
            );
            assert!(source.contains("value=\"2\""), "the next attempt is 2");
            // Nor in the browser's storage for the page's origin, nor in its cookies.
            let kept = c
                .execute(
                    "return [localStorage.length, sessionStorage.length, document.cookie];",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!((&kept[0], &kept[1]), (&0.into(), &0.into()), "{kept}");
            assert!(!kept[2].as_str().unwrap().contains("4003"), "{kept}");
            screenshot(&c, &format!("decline-{lang}-{size}")).await;
            c.close().await.unwrap();
        }
    }
}

async fn a_double_submit_charges_once(_: Backend) {
    let o = order("rus").await;
    let before = o.s.balance("440563...5096").await;
    let c = checkout(&o, "p2p", (1280, 800)).await;
    fill_sender(&c, VISA, "0125", "815").await;
    type_into(&c, "#receiver-number", MASTERCARD).await;
    // The same form posted twice more behind the button's back, as a double click or a
    // second tab would, then submitted.
    let posted = c
        .execute_async(
            "const done = arguments[0]; const f = document.getElementById('payform');\
             const body = new URLSearchParams(new FormData(f));\
             Promise.all([1, 2].map(() => fetch(f.action, {method: 'POST', body: body,\
             redirect: 'manual'}))).then(rs => done(rs.map(r => r.type)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        posted,
        json!(["opaqueredirect", "opaqueredirect"]),
        "both posts redirect"
    );
    submit(&c).await;
    let back = url_where(&c, "at the backLink", |u| u.path() == "/back").await;
    assert!(query(&back, "reference").is_some());
    let after = o.s.balance("440563...5096").await;
    assert_eq!(
        before - after,
        10_000 + 9_500,
        "charged once: amount and fee"
    );
    c.close().await.unwrap();
}

async fn aft_and_oct_pages_ask_for_one_side(_: Backend) {
    let o = order("eng").await;
    let c = checkout(&o, "aft", (390, 844)).await;
    element(&c, "#sender-number").await;
    assert!(c.find(Locator::Css("#receiver-number")).await.is_err());
    fill_sender(&c, MASTERCARD, "0125", "525").await;
    submit(&c).await;
    let back = url_where(&c, "at the backLink", |u| u.path() == "/back").await;
    assert!(query(&back, "reference").is_some());
    assert_eq!(status(&o).await["transaction"]["statusName"], "CHARGE");
    c.close().await.unwrap();
    let o = order("eng").await;
    let c = checkout(&o, "oct", (390, 844)).await;
    element(&c, "#receiver-number").await;
    assert!(c.find(Locator::Css("#sender-number")).await.is_err());
    c.close().await.unwrap();
}

async fn the_widget_tells_the_merchant_page(_: Backend) {
    let o = order("eng").await;
    let c = checkout(&o, "showPaymentWidget", (1280, 800)).await;
    element(&c, "iframe").await;
    c.enter_frame(0).await.unwrap();
    fill_sender(&c, VISA, "0125", "815").await;
    type_into(&c, "#receiver-number", MASTERCARD).await;
    screenshot(&c, "widget-eng").await;
    submit(&c).await;
    // The widget's last page posts to the shop, whose script then removes the iframe: the
    // trial watches the shop's page from here on.
    c.enter_parent_frame().await.unwrap();
    let deadline = std::time::Instant::now() + super::PAGE_WAIT;
    loop {
        let title = c.title().await.unwrap();
        if title.starts_with("result:") {
            assert_eq!(title, "result:{\"success\":true}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no widget callback: {title}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status(&o).await["transaction"]["statusName"], "CHARGE");
    c.close().await.unwrap();
}

async fn bad_params_give_a_clear_page(_: Backend) {
    let s = Server::start(Backend::Sqlite);
    let c = open(390, 844).await;
    c.goto(&s.path("/payform/?params=not-lz-string&isTransfer=true"))
        .await
        .unwrap();
    let text = element(&c, "main").await.text().await.unwrap();
    assert!(
        text.contains("Ссылка на оплату повреждена") || text.contains("payment link is damaged"),
        "{text}"
    );
    c.close().await.unwrap();
}
