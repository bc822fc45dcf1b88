//! The hosted form's server side over a real socket, as a browser without JavaScript uses it
//! (the Chromium tests in `browser/` drive the same pages with their scripts):
//! - card data typed into the pages goes where the API's does: nowhere in plain. A payer pays
//!   (a charge, a decline, a 3-D Secure challenge passed on the ACS); then no page answered,
//!   no log line and no file the server wrote holds a card number, a CVC or the token;
//! - a paid invoice, a used-up page (three declines, code 2740), an expired token and params
//!   that do not match the token each give their own clear page, never the form.

use crate::common::forms::{hidden, Browser};
use crate::common::*;
use crate::secure3d::{cardholder_answers, ENROLLED};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::StatusCode;

crate::tests! {
    both: [
        card_data_typed_into_the_pages_is_kept_nowhere,
        paid_used_up_and_mismatched_links_give_their_own_pages,
    ],
    sqlite: [an_expired_link_gives_its_page],
}

const BACK: &str = "https://shop.example/ok";

/// A card as the payer types it: number (spaced, as people do), expiry, CVC.
struct Typed<'a> {
    number: &'a str,
    expiry: &'a str,
    cvc: &'a str,
}

/// `key=value&…` with values percent-encoded, as payment-api.js's `encodeParams` makes it.
fn encode(pairs: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect();
    pairs.join("&")
}

/// A fresh transfer token of 100 KZT: (invoice, token).
async fn fresh_token(s: &Server) -> (String, String) {
    let inv = invoice();
    let fields = [
        ("invoiceID", inv.as_str()),
        ("amount", "100"),
        ("currency", "KZT"),
        ("terminal", TERMINAL_2),
    ];
    let token = s.token(&fields).await;
    (inv, token)
}

/// The hosted P2P form's URL for this invoice and token, with `amount` in the params, as
/// `payment-api.js` makes it.
fn form_url(s: &Server, inv: &str, token: &str, amount: &str) -> String {
    let auth = encode(&[("access_token", token), ("token_type", "Bearer")]);
    let text = encode(&[
        ("invoiceId", inv),
        ("amount", amount),
        ("currency", "KZT"),
        ("terminal", TERMINAL_2),
        ("auth", auth.as_str()),
        ("backLink", BACK),
        ("failureBackLink", "https://shop.example/failed"),
        ("language", "eng"),
    ]);
    let params = lz_str::compress_to_encoded_uri_component(&text);
    s.path(&format!("/payform/?params={params}&isTransfer=true"))
}

/// Opens the hosted P2P form for a fresh invoice of 100 KZT: (invoice, token, the form page).
async fn open_form(s: &Server, b: &mut Browser) -> (String, String, String) {
    let (inv, token) = fresh_token(s).await;
    let (status, page) = b.get(&form_url(s, &inv, &token, "100")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    (inv, token, page)
}

/// Submits the form with `card` as the sender and the seed's MasterCard as the receiver:
/// (status, Location, page).
async fn pay(s: &Server, b: &mut Browser, form: &str, card: &Typed<'_>) -> (StatusCode, String, String) {
    let fields = ["csrf_token", "params", "mode", "attempt"].map(|n| (n, hidden(form, n)));
    let mut post: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    post.extend([
        ("sender.cardCred", card.number),
        ("sender.expire", card.expiry),
        ("sender.cvc", card.cvc),
        ("sender.name", "ARMAN ALI"),
        ("receiver.cardCred", "5522 0427 0506 6736"),
    ]);
    b.post(&s.path("/payform/"), &post).await
}

/// No answer shows a card number, spaced or not, or a CVC field's value.
fn shows_no_card(page: &str, pans: &[&str]) {
    for pan in pans {
        let spaced: Vec<String> = pan
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        assert!(!page.contains(pan), "a page shows {pan}");
        assert!(!page.contains(&spaced.join(" ")), "a page shows {pan}");
    }
}

async fn card_data_typed_into_the_pages_is_kept_nowhere(backend: Backend) {
    let mut s = Server::process(backend);
    let pans = [VISA, MASTERCARD, ENROLLED, AMEX_LOCKED];
    let mut tokens = Vec::new();

    // A charge: straight back to the shop with the reference.
    let mut b = Browser::new();
    let (paid, token, form) = open_form(&s, &mut b).await;
    tokens.push(token);
    let visa = Typed { number: "4405 6397 0401 5096", expiry: "01/25", cvc: "815" };
    let (status, location, page) = pay(&s, &mut b, &form, &visa).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert!(location.starts_with(BACK) && location.contains("reference="), "{location}");

    // A decline: the form again, with the reason and with every card field empty.
    let mut b = Browser::new();
    let (_, token, form) = open_form(&s, &mut b).await;
    tokens.push(token);
    let locked = Typed { number: "3775 145000 04820", expiry: "01/25", cvc: "4169" };
    let (status, _, page) = pay(&s, &mut b, &form, &locked).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("465"), "the decline's code is shown: {page}");
    assert!(!page.contains("4169"), "the CVC is not given back");
    shows_no_card(&page, &pans);

    // 3-D Secure: the hand-off page, the ACS, confirmPayment, back to the shop.
    let mut b = Browser::new();
    let (_, token, form) = open_form(&s, &mut b).await;
    tokens.push(token);
    let enrolled = Typed { number: "4405 6300 0000 3001", expiry: "12/30", cvc: "300" };
    let (status, _, handoff) = pay(&s, &mut b, &form, &enrolled).await;
    assert_eq!(status, StatusCode::OK, "{handoff}");
    shows_no_card(&handoff, &pans);
    let acs = ["MD", "PaReq", "TermUrl"].map(|n| (n, hidden(&handoff, n)));
    let acs: Vec<(&str, &str)> = acs.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, location) = cardholder_answers(&s, &s.path("/acs/"), &acs, "123456").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with(BACK) && location.contains("reference="), "{location}");

    let log = s.log();
    assert!(log.contains("/payform/"), "the page requests are logged");
    s.stop();
    // The tokens travelled in the page's URL: they are secrets like the card numbers.
    let secrets: Vec<&str> = pans.iter().copied().chain(tokens.iter().map(String::as_str)).collect();
    assert_no_card_data(&s, &paid, &secrets, &["815", "4169", "300"]);
}

const LOCKED: Typed = Typed {
    number: "3775 145000 04820",
    expiry: "01/25",
    cvc: "4169",
};

/// A page that says `text` with `status`, and is not the card form.
fn closed_page(status: StatusCode, page: &str, want: StatusCode, text: &str) {
    assert_eq!(status, want, "{page}");
    assert!(page.contains(text), "{page}");
    assert!(!page.contains("sender.cardCred"), "no form: {page}");
}

async fn paid_used_up_and_mismatched_links_give_their_own_pages(backend: Backend) {
    let s = Server::start(backend);
    // Paid: the link of a charged invoice opens no form again.
    let mut b = Browser::new();
    let (inv, token, form) = open_form(&s, &mut b).await;
    let visa = Typed { number: VISA, expiry: "01/25", cvc: "815" };
    let (status, _, page) = pay(&s, &mut b, &form, &visa).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let (status, page) = b.get(&form_url(&s, &inv, &token, "100")).await;
    closed_page(status, &page, StatusCode::GONE, "already been paid");

    // Used up: three declined attempts, each form numbered for the next; the third ends the
    // page with 2740, and the link opens no form again.
    let mut b = Browser::new();
    let (inv, token, mut form) = open_form(&s, &mut b).await;
    for attempt in ["1", "2"] {
        assert_eq!(hidden(&form, "attempt"), attempt);
        let (status, _, page) = pay(&s, &mut b, &form, &LOCKED).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("465"), "{page}");
        form = page;
    }
    assert_eq!(hidden(&form, "attempt"), "3");
    let (_, _, page) = pay(&s, &mut b, &form, &LOCKED).await;
    assert!(page.contains("2740"), "{page}");
    assert!(!page.contains("sender.cardCred"), "no fourth form: {page}");
    let (status, page) = b.get(&form_url(&s, &inv, &token, "100")).await;
    closed_page(status, &page, StatusCode::GONE, "2740");
    // The status API has the invoice's last decline; nothing was charged.
    let st = crate::outcomes::status_of(&s, &inv).await;
    assert_ne!(st["transaction"]["statusName"], "CHARGE", "{st}");

    // Params that ask for another amount than the token was issued for.
    let (inv, token) = fresh_token(&s).await;
    let (status, page) = b.get(&form_url(&s, &inv, &token, "1000")).await;
    closed_page(status, &page, StatusCode::BAD_REQUEST, "do not match");
}

async fn an_expired_link_gives_its_page(backend: Backend) {
    let s = Server::start_configured(backend, |c| c.token_ttl_secs = 1);
    let (inv, token) = fresh_token(&s).await;
    let url = form_url(&s, &inv, &token, "100");
    // (That the link opens while its token lives, the other tests show: asserting it here
    // would race the one-second life on a loaded machine.)
    let page = eventually("the token expires", std::time::Duration::from_secs(5), || {
        let (url, mut b) = (url.clone(), Browser::new());
        async move {
            let (status, page) = b.get(&url).await;
            (status == StatusCode::GONE).then_some(page)
        }
    })
    .await;
    closed_page(StatusCode::GONE, &page, StatusCode::GONE, "has expired");
}
