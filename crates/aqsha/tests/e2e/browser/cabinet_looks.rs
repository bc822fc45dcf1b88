//! The cabinet's pages as a person sees them, in each language: the language chosen on the
//! login page is kept on every page after it, nothing is wider than a phone's screen (the
//! operations table included), and, with `AQSHA_SCREENSHOTS=DIR`, each page is drawn into
//! DIR at phone and desktop size (docs/cabinet.md, "Screenshots").

use super::cabinet::{listed, log_in, log_in_to_dashboard, make, set, switch_language};
use super::cabinet::{LOGIN, PASSWORD};
use super::{element, open, screenshot, sizes, url_where};
use crate::common::*;
use fantoccini::Client;
use reqwest::StatusCode;

crate::tests! {
    browser: [the_pages_keep_the_language_and_fit_a_phone],
}

const LOCKED: &str = "owner@locked.kz";

/// The names of the dashboard and operations tabs, and words of the lock message.
fn words(lang: &str) -> (&str, &str, &str) {
    match lang {
        "rus" => ("Обзор", "Операции", "заблокирован"),
        "kaz" => ("Шолу", "Операциялар", "бұғатталды"),
        _ => ("Dashboard", "Operations", "locked"),
    }
}

/// Fails if the page scrolls sideways, or if the operations table (when there is one) is
/// wider than its box: at 390 px the list must be readable without scrolling.
async fn fits(c: &Client, what: &str) {
    let sizes = c
        .execute(
            "const t = document.querySelector('.table-wrap');\
             return [document.documentElement.scrollWidth, window.innerWidth,\
                     t ? t.scrollWidth : 0, t ? t.clientWidth : 0];",
            vec![],
        )
        .await
        .unwrap();
    let n = |i: usize| sizes[i].as_u64().unwrap();
    assert!(
        n(0) <= n(1),
        "{what}: the page is {} px wide in {}",
        n(0),
        n(1)
    );
    assert!(
        n(2) <= n(3),
        "{what}: the table is {} px wide in {}",
        n(2),
        n(3)
    );
}

async fn current_tab(c: &Client) -> String {
    let tab = element(c, ".tabs a[aria-current=page]").await;
    tab.text().await.unwrap()
}

/// Ten wrong passwords through the API's password grant, which shares the cabinet's lock.
async fn lock(s: &Server, email: &str) {
    for _ in 0..10 {
        let r = s.password_grant(email, "wrong-password").await;
        assert_ne!(r.status(), StatusCode::OK);
    }
}

async fn the_pages_keep_the_language_and_fit_a_phone(_: Backend) {
    let s = Server::start(Backend::Sqlite);
    let made = make(&s).await;
    s.add_merchant_with("locked", &["--cabinet-email", LOCKED]);
    lock(&s, LOCKED).await;
    for &(width, height, size) in sizes() {
        let c = open(width, height).await;
        for lang in ["rus", "kaz", "eng"] {
            let shot = |page: &str| format!("{page}-{lang}-{size}");
            let (dashboard, operations, locked) = words(lang);
            c.goto(&s.path("/cabinet/login")).await.unwrap();
            switch_language(&c, lang).await;
            fits(&c, "login").await;
            screenshot(&c, &shot("login")).await;

            log_in(&c, &s, LOCKED, "any-password").await;
            let alert = element(&c, "#login-alert").await.text().await.unwrap();
            assert!(alert.contains(locked), "{lang}: {alert}");
            fits(&c, "lock").await;
            screenshot(&c, &shot("lock")).await;

            log_in_to_dashboard(&c, &s, LOGIN, PASSWORD).await;
            assert_eq!(current_tab(&c).await, dashboard, "{lang}");
            fits(&c, "dashboard").await;
            screenshot(&c, &shot("dashboard")).await;

            let tab = element(&c, ".tabs a[href='/cabinet/operations']").await;
            tab.click().await.unwrap();
            url_where(&c, "at the list", |u| u.path() == "/cabinet/operations").await;
            assert_eq!(current_tab(&c).await, operations, "{lang}");
            assert_eq!(listed(&c).await.len(), 6);
            fits(&c, "operations").await;
            screenshot(&c, &shot("operations")).await;

            c.goto(&s.path("/cabinet/operations?status=CHARGE&min=100"))
                .await
                .unwrap();
            assert_eq!(listed(&c).await, set(&[&made.big, &made.mid]));
            fits(&c, "filtered").await;
            screenshot(&c, &shot("filtered")).await;

            c.goto(&s.path(&format!("/cabinet/operations?q={}", made.reference)))
                .await
                .unwrap();
            assert_eq!(listed(&c).await, set(&[&made.mid]));
            assert_eq!(current_tab(&c).await, operations, "{lang}");
            fits(&c, "search").await;
            screenshot(&c, &shot("search")).await;

            element(&c, "#logout").await.click().await.unwrap();
            url_where(&c, "logged out", |u| u.path() == "/cabinet/login").await;
        }
        c.close().await.unwrap();
    }
}
