//! The "Done when", in a browser: a person opens the sandbox's demo shop
//! (`/sandbox/demo`), pays the seed's transfer with the 3-D Secure enrolled test card it
//! lists, passes the challenge, and comes back to the demo's `backLink` with the reference.

use super::payform_3ds::{CODE, ENROLLED, ENROLLED_CVC, ENROLLED_EXPIRY, ENROLLED_MASK};
use super::{element, open, screenshot, type_into, url_where};
use crate::common::*;

crate::tests! {
    browser: [the_demo_pays_through_3d_secure_and_comes_back],
}

async fn the_demo_pays_through_3d_secure_and_comes_back(_: Backend) {
    let s = Server::start(Backend::Sqlite);
    let before = s.balance(ENROLLED_MASK).await;
    let c = open(1280, 800).await;
    c.goto(&s.path("/sandbox/demo")).await.unwrap();
    // The page lists the cards a person can use, the enrolled one with its code.
    let cards = element(&c, "#demo-cards").await.text().await.unwrap();
    for shown in [
        "4405 6300 0000 3001",
        CODE,
        "4405 6397 0401 5096",
        "4003 0327 0454 7597",
    ] {
        assert!(cards.contains(shown), "{shown} in {cards}");
    }
    screenshot(&c, "demo-desktop").await;
    element(&c, "#pay-p2p").await.click().await.unwrap();
    type_into(&c, "#sender-number", ENROLLED).await;
    type_into(&c, "#sender-expiry", ENROLLED_EXPIRY).await;
    type_into(&c, "#sender-cvc", ENROLLED_CVC).await;
    type_into(&c, "#sender-name", "ARMAN ALI").await;
    element(&c, "button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    type_into(&c, "#code", CODE).await;
    element(&c, "#acs-submit").await.click().await.unwrap();
    let back = url_where(&c, "at the demo's backLink", |u| {
        u.path() == "/sandbox/demo/back"
    })
    .await;
    let reference = element(&c, "#reference").await.text().await.unwrap();
    assert_eq!(reference.len(), 12, "{back}");
    assert_eq!(element(&c, "#status").await.text().await.unwrap(), "CHARGE");
    screenshot(&c, "demo-back").await;
    c.close().await.unwrap();
    // The seed's transfer: 100 KZT and the seed terminal's fee, once.
    assert_eq!(before - s.balance(ENROLLED_MASK).await, 10_000 + 9_500);
    if super::screenshot_dir().is_some() {
        let c = open(390, 844).await;
        c.goto(&s.path("/sandbox/demo")).await.unwrap();
        element(&c, "#demo-cards").await;
        screenshot(&c, "demo-phone").await;
        c.close().await.unwrap();
    }
}
