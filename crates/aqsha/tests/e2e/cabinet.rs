//! The merchant cabinet over a real socket (issue 16, items 1–3 and 9): login and its cookies,
//! the durable lock, idle expiry, CSRF, logout and password change, and that a merchant sees
//! only its own operations in the list, the search box, the export and by direct URL.

use crate::common::*;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;

crate::tests! {
    both: [
        login_sets_safe_cookies_and_logout_ends_the_session,
        ten_wrong_passwords_lock_the_login_across_a_restart,
        a_merchant_sees_only_its_own_operations,
    ],
    sqlite: [
        every_post_needs_the_csrf_token,
        a_session_ends_after_its_idle_time,
        filters_and_the_search_box_find_operations,
        a_password_change_ends_other_sessions,
    ],
}

pub(crate) const LOGIN: &str = "epay@halykbank.kz";
pub(crate) const PASSWORD: &str = "XZG1E@Mm";

/// A browser without JavaScript: it keeps cookies and does not follow redirects.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    pub(crate) fn new(s: &Server) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: s.url.clone(),
            cookies: BTreeMap::new(),
        }
    }

    fn keep(&mut self, headers: &HeaderMap) {
        for c in headers.get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) async fn get(&mut self, path: &str) -> (StatusCode, HeaderMap, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        let (st, h) = (r.status(), r.headers().clone());
        self.keep(&h);
        (st, h, r.text().await.unwrap())
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        let (st, h) = (r.status(), r.headers().clone());
        self.keep(&h);
        (st, h, r.text().await.unwrap())
    }

    /// The CSRF token of a page's forms.
    async fn token(&mut self, path: &str) -> String {
        let (_, _, html) = self.get(path).await;
        token_in(&html)
    }

    pub(crate) async fn login(
        &mut self,
        email: &str,
        password: &str,
    ) -> (StatusCode, HeaderMap, String) {
        let t = self.token("/cabinet/login").await;
        self.post(
            "/cabinet/login",
            &[("csrf_token", &t), ("email", email), ("password", password)],
        )
        .await
    }
}

pub(crate) fn token_in(html: &str) -> String {
    let mark = "name=\"csrf_token\" value=\"";
    let at = html.find(mark).expect("a form") + mark.len();
    html[at..].split('"').next().unwrap().to_string()
}

fn location(h: &HeaderMap) -> &str {
    h.get(LOCATION).unwrap().to_str().unwrap()
}

async fn login_sets_safe_cookies_and_logout_ends_the_session(backend: Backend) {
    let s = Server::start(backend);
    let mut b = Browser::new(&s);
    let (st, h, _) = b.get("/").await;
    assert_eq!((st, location(&h)), (StatusCode::SEE_OTHER, "/cabinet/"));
    let (st, h, _) = b.get("/cabinet/operations").await;
    assert_eq!(
        (st, location(&h)),
        (StatusCode::SEE_OTHER, "/cabinet/login")
    );

    let (st, h, _) = b.login("EPAY@halykbank.kz", PASSWORD).await;
    assert_eq!((st, location(&h)), (StatusCode::SEE_OTHER, "/cabinet/"));
    let cookie = h
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("aqsha_session="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert!(
        !cookie.contains("Max-Age"),
        "a browser-session cookie: {cookie}"
    );

    let (st, _, html) = b.get("/cabinet/").await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        html.contains("Обзор") && html.contains(LOGIN),
        "Russian by default"
    );
    // The language switch is remembered.
    let t = token_in(&html);
    let (st, h, _) = b
        .post(
            "/cabinet/language",
            &[
                ("csrf_token", &t),
                ("lang", "eng"),
                ("back", "/cabinet/operations"),
            ],
        )
        .await;
    assert_eq!(
        (st, location(&h)),
        (StatusCode::SEE_OTHER, "/cabinet/operations")
    );
    let (_, _, html) = b.get("/cabinet/").await;
    assert!(
        html.contains("Dashboard") && html.contains("Success rate"),
        "{html}"
    );
    assert!(html.contains("<svg"), "the volume chart");

    let stolen = b.cookies.clone();
    let t = token_in(&html);
    let (st, h, _) = b.post("/cabinet/logout", &[("csrf_token", &t)]).await;
    assert_eq!(
        (st, location(&h)),
        (StatusCode::SEE_OTHER, "/cabinet/login")
    );
    assert!(!b.cookies.contains_key("aqsha_session"));
    // The old cookie no longer opens anything.
    b.cookies = stolen;
    let (st, h, _) = b.get("/cabinet/").await;
    assert_eq!(
        (st, location(&h)),
        (StatusCode::SEE_OTHER, "/cabinet/login?expired=1")
    );
}

async fn ten_wrong_passwords_lock_the_login_across_a_restart(backend: Backend) {
    let mut s = Server::start(backend);
    let mut b = Browser::new(&s);
    for n in 1..10 {
        let (st, _, html) = b.login(LOGIN, "wrong-password").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "attempt {n}");
        assert!(html.contains("Неверная почта или пароль"));
    }
    let (st, _, html) = b.login(LOGIN, "wrong-password").await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    assert!(html.contains("заблокирован на 30 минут"), "{html}");
    let (st, _, html) = b.login(LOGIN, PASSWORD).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "the right password too");
    assert!(html.contains("Повторите через 30 мин"), "{html}");
    assert!(!b.cookies.contains_key("aqsha_session"));

    // The lock is in the database: a restart (or another instance) keeps it, and the API's
    // password grant, which shares the check, is refused as well.
    s.restart();
    let mut b = Browser::new(&s);
    let (st, _, _) = b.login(LOGIN, PASSWORD).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    let r = s.password_grant(LOGIN, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    // Another login is not affected.
    let other = s.add_merchant_with("shop-b", &["--cabinet-email", "Owner@Shop-B.kz"]);
    let password = other["cabinet_password"].as_str().unwrap();
    assert_eq!(other["cabinet_email"], "owner@shop-b.kz");
    let (st, h, _) = b.login("owner@shop-b.kz", password).await;
    assert_eq!((st, location(&h)), (StatusCode::SEE_OTHER, "/cabinet/"));
}

async fn every_post_needs_the_csrf_token(backend: Backend) {
    let s = Server::start(backend);
    let mut b = Browser::new(&s);
    let _ = b.token("/cabinet/login").await;
    let (st, _, _) = b
        .post(
            "/cabinet/login",
            &[("email", LOGIN), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "no token");
    let (st, _, _) = b
        .post(
            "/cabinet/login",
            &[
                ("csrf_token", "forged"),
                ("email", LOGIN),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "a forged token");
    assert!(!b.cookies.contains_key("aqsha_session"));
    let (st, _, _) = b.login(LOGIN, PASSWORD).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    for path in ["/cabinet/logout", "/cabinet/password", "/cabinet/language"] {
        let (st, _, _) = b.post(path, &[("lang", "eng")]).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
    }
    let (st, _, _) = b.get("/cabinet/").await;
    assert_eq!(st, StatusCode::OK, "still signed in");
}

async fn a_session_ends_after_its_idle_time(backend: Backend) {
    let s = Server::start_configured(backend, |c| {
        c.cabinet.idle = std::time::Duration::from_millis(700);
    });
    let mut b = Browser::new(&s);
    let (st, _, _) = b.login(LOGIN, PASSWORD).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, _, _) = b.get("/cabinet/").await;
    assert_eq!(st, StatusCode::OK);
    // A test of time itself: nothing to await but the idle time passing.
    std::thread::sleep(std::time::Duration::from_millis(900));
    let (st, h, _) = b.get("/cabinet/").await;
    assert_eq!(
        (st, location(&h)),
        (StatusCode::SEE_OTHER, "/cabinet/login?expired=1")
    );
    let (_, _, html) = b.get("/cabinet/login?expired=1").await;
    assert!(html.contains("Сеанс завершён"));
}

async fn a_password_change_ends_other_sessions(backend: Backend) {
    let s = Server::start(backend);
    let (mut one, mut two) = (Browser::new(&s), Browser::new(&s));
    assert_eq!(one.login(LOGIN, PASSWORD).await.0, StatusCode::SEE_OTHER);
    assert_eq!(two.login(LOGIN, PASSWORD).await.0, StatusCode::SEE_OTHER);
    let t = one.token("/cabinet/password").await;
    let new = "a-new-password-42";
    let (st, _, _) = one
        .post(
            "/cabinet/password",
            &[
                ("csrf_token", &t),
                ("current", "nope"),
                ("new", new),
                ("repeat", new),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "a wrong current password");
    let (st, _, html) = one
        .post(
            "/cabinet/password",
            &[
                ("csrf_token", &t),
                ("current", PASSWORD),
                ("new", new),
                ("repeat", new),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("Пароль изменён"));
    assert_eq!(
        one.get("/cabinet/").await.0,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        two.get("/cabinet/").await.0,
        StatusCode::SEE_OTHER,
        "the other ends"
    );
    let mut three = Browser::new(&s);
    assert_eq!(
        three.login(LOGIN, PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(three.login(LOGIN, new).await.0, StatusCode::SEE_OTHER);
}

/// A charged transfer of the seed merchant; its invoice.
pub(crate) async fn charge(s: &Server, amount: Value) -> String {
    let inv = invoice();
    let token = s.token(&[]).await;
    let (st, r) = s.transfer(&token, &seed_like_body(&inv, amount)).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    inv
}

/// The operation ids the list page links to.
pub(crate) fn linked_ids(html: &str) -> Vec<String> {
    html.split("href=\"/cabinet/operations/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

async fn a_merchant_sees_only_its_own_operations(backend: Backend) {
    let s = Server::start(backend);
    let ours = charge(&s, json!(150)).await;
    let (other, theirs) = s.other_merchant_with_a_charge().await;

    let mut seed = Browser::new(&s);
    seed.login(LOGIN, PASSWORD).await;
    let (_, _, html) = seed.get("/cabinet/operations").await;
    assert!(html.contains(&ours) && !html.contains(&theirs));
    let our_ids = linked_ids(&html);
    assert_eq!(our_ids.len(), 1);

    let mut b = Browser::new(&s);
    let (st, _, _) = b
        .login(
            "owner@shop-b.kz",
            other["cabinet_password"].as_str().unwrap(),
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (_, _, html) = b.get("/cabinet/operations").await;
    assert!(html.contains(&theirs) && !html.contains(&ours), "the list");
    let (_, _, html) = b.get(&format!("/cabinet/operations?q={ours}")).await;
    assert!(
        linked_ids(&html).is_empty() && html.contains("id=\"no-operations\""),
        "the search box"
    );
    let (_, _, html) = b.get(&format!("/cabinet/operations?invoice={ours}")).await;
    assert!(html.contains("id=\"no-operations\""), "the invoice filter");
    let (st, _, _) = b.get(&format!("/cabinet/operations/{}", our_ids[0])).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "a direct URL");
    let (st, _, _) = seed
        .get(&format!("/cabinet/operations/{}", our_ids[0]))
        .await;
    assert_eq!(st, StatusCode::OK, "its owner sees it");

    // The export: a download of their rows only, with the columns as documented.
    let (st, h, csv) = b.get("/cabinet/operations.csv").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h["content-type"], "text/csv; charset=utf-8");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"operations-"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("operation_id,created_at,status,reason_code,reason,invoice_id,"));
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cells.len(), 16, "{}", lines[1]);
    assert_eq!(
        (cells[2], cells[3], cells[5]),
        ("CHARGE", "0", theirs.as_str())
    );
    assert_eq!((cells[8], cells[10], cells[15]), ("70.00", "KZT", "P2P"));
    assert!(cells[1].ends_with("+05:00"), "Almaty time: {}", cells[1]);
    assert!(
        cells[13].contains("...") && cells[14].contains("..."),
        "masks only"
    );
    let (_, _, csv) = seed.get("/cabinet/operations.csv").await;
    assert!(csv.contains(&ours) && !csv.contains(&theirs));
}

async fn filters_and_the_search_box_find_operations(backend: Backend) {
    let s = Server::start(backend);
    let big = charge(&s, json!(1234.5)).await;
    let small = charge(&s, json!(10)).await;
    // A decline: the seed's card has no such money.
    let declined = invoice();
    let token = s.token(&[]).await;
    let (_, r) = s
        .transfer(&token, &seed_like_body(&declined, json!(999_999_999)))
        .await;
    let code = r["code"]
        .as_u64()
        .or_else(|| r["reasonCode"].as_u64())
        .unwrap_or(0);

    let mut b = Browser::new(&s);
    b.login(LOGIN, PASSWORD).await;
    let list = |html: &str| -> Vec<bool> {
        [&big, &small, &declined]
            .iter()
            .map(|i| html.contains(i.as_str()))
            .collect()
    };
    let (_, _, html) = b.get("/cabinet/operations").await;
    assert_eq!(list(&html), [true, true, true]);
    assert!(
        html.contains("1\u{a0}234,50\u{a0}₸"),
        "tenge, Russian style"
    );
    let (_, _, html) = b.get("/cabinet/operations?status=FAILED").await;
    assert_eq!(list(&html), [false, false, true]);
    let (_, _, html) = b.get("/cabinet/operations?status=CHARGE&min=100").await;
    assert_eq!(list(&html), [true, false, false]);
    let (_, _, html) = b.get("/cabinet/operations?max=10%2C00").await;
    assert_eq!(list(&html), [false, true, false]);
    if code != 0 {
        let (_, _, html) = b.get(&format!("/cabinet/operations?code={code}")).await;
        assert_eq!(list(&html), [false, false, true]);
    }
    let (_, _, html) = b.get(&format!("/cabinet/operations?q={small}")).await;
    assert_eq!(
        list(&html),
        [false, true, false],
        "the search box: an invoice"
    );
    let ids = linked_ids(&html);
    let (_, _, html) = b.get(&format!("/cabinet/operations?q={}", ids[0])).await;
    assert_eq!(
        list(&html),
        [false, true, false],
        "the search box: an operation id"
    );
    // By the sender card's last digits (the seed body's card).
    let (_, _, csv) = b.get(&format!("/cabinet/operations.csv?q={small}")).await;
    let row: Vec<String> = csv
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(String::from)
        .collect();
    let (reference, mask) = (row[11].clone(), row[13].clone());
    let (_, _, html) = b.get(&format!("/cabinet/operations?q={reference}")).await;
    assert_eq!(
        list(&html),
        [false, true, false],
        "the search box: a reference"
    );
    let last4 = &mask[mask.len() - 4..];
    let (_, _, html) = b
        .get(&format!("/cabinet/operations?q={last4}&status=CHARGE"))
        .await;
    assert_eq!(
        list(&html),
        [true, true, false],
        "the search box: a card mask"
    );
    let today = chrono::Utc::now().date_naive();
    let (_, _, html) = b
        .get(&format!(
            "/cabinet/operations?from={}",
            today + chrono::Duration::days(2)
        ))
        .await;
    assert_eq!(list(&html), [false, false, false], "a date range");
    let (_, _, html) = b.get("/cabinet/operations?from=yesterday").await;
    assert!(html.contains("id=\"filter-error\""));
    let (st, _, _) = b.get("/cabinet/operations.csv?min=lots").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}
