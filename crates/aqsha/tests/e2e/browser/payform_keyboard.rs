//! The hosted form and the ACS with a keyboard only: Tab from field to field in the page's
//! order, keys typed into whatever has the focus, Enter to submit. No click, and no
//! WebDriver "send keys to this element" (which moves the focus itself).

use super::payform::{order, query, status};
use super::payform_3ds::{CODE, ENROLLED, ENROLLED_CVC, ENROLLED_EXPIRY};
use super::{element, focused, open, press, url_where, ENTER, TAB};
use crate::common::*;

crate::tests! {
    browser: [the_form_and_the_challenge_work_with_a_keyboard_only],
}

/// Tab, then check that `id` has the focus.
async fn tab_to(c: &fantoccini::Client, id: &str) {
    press(c, TAB).await;
    assert_eq!(focused(c).await, id, "Tab lands on #{id}");
}

async fn the_form_and_the_challenge_work_with_a_keyboard_only(_: Backend) {
    let o = order("eng").await;
    let c = open(390, 844).await;
    c.goto(&o.shop.checkout(&o.s.url, "p2p", &o.params))
        .await
        .unwrap();
    // The shop's own button, then the payform.
    tab_to(&c, "pay").await;
    press(&c, ENTER).await;
    element(&c, "#payform").await;
    tab_to(&c, "sender-number").await;
    press(&c, ENROLLED).await;
    tab_to(&c, "sender-expiry").await;
    press(&c, ENROLLED_EXPIRY).await;
    tab_to(&c, "sender-cvc").await;
    press(&c, ENROLLED_CVC).await;
    tab_to(&c, "sender-name").await;
    press(&c, "ARMAN ALI").await;
    tab_to(&c, "receiver-number").await;
    press(&c, MASTERCARD).await;
    // Enter in a field submits the form, as in any browser form.
    press(&c, ENTER).await;
    // The ACS focuses its code field itself (autofocus).
    element(&c, "#code").await;
    assert_eq!(focused(&c).await, "code");
    press(&c, CODE).await;
    tab_to(&c, "acs-submit").await;
    press(&c, ENTER).await;
    let back = url_where(&c, "at the backLink", |u| u.path() == "/back").await;
    assert!(query(&back, "reference").is_some());
    assert_eq!(status(&o).await["transaction"]["statusName"], "CHARGE");
    c.close().await.unwrap();
}
