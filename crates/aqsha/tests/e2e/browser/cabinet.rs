//! The merchant cabinet in headless Chromium (issue 16, item 11): the seed's login and the
//! dashboard, the ten-failure lock, the filters, the search box and the CSV download over
//! transfers made through the API, another merchant's operation out of its reach, and the
//! login and the filters with a keyboard only. The screenshots and the phone-width checks of
//! these pages are in `cabinet_looks`.

use super::{element, focused, open, open_downloading, press, type_into, url_where};
use super::{DOWN, ENTER, TAB};
use crate::common::*;
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

crate::tests! {
    browser: [
        the_seed_login_opens_the_dashboard_and_logout_closes_it,
        ten_wrong_passwords_lock_the_login_in_the_browser,
        filters_the_search_box_and_the_download_find_operations,
        another_merchant_reaches_none_of_the_seed_merchants_operations,
        the_login_and_the_filters_work_with_a_keyboard_only,
    ],
}

pub(super) const LOGIN: &str = "epay@halykbank.kz";
pub(super) const PASSWORD: &str = "XZG1E@Mm";

/// What the API made for a trial, by invoice id.
pub(super) struct Made {
    /// 1 234,50, 150 and 10 tenge, charged from the seed's VISA.
    pub big: String,
    pub mid: String,
    pub small: String,
    /// 77 tenge charged from a card issued for the trial, and that card's last four digits.
    pub other_card: String,
    pub last4: String,
    /// Declined: more than the card holds; a wrong CVC.
    pub declined: Vec<String>,
    /// The reference of `mid`.
    pub reference: String,
}

impl Made {
    pub fn charged(&self) -> Vec<&str> {
        vec![&self.big, &self.mid, &self.small, &self.other_card]
    }
}

/// Sends `body` with a fresh token of the seed merchant.
async fn send(s: &Server, body: &Value) -> (StatusCode, Value) {
    let token = s.token(&[]).await;
    s.transfer(&token, body).await
}

async fn charge(s: &Server, body: &Value) -> Value {
    let (st, r) = send(s, body).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    r
}

/// Charges and declines of the seed merchant, through the API.
pub(super) async fn make(s: &Server) -> Made {
    let (big, mid, small) = (invoice(), invoice(), invoice());
    charge(s, &seed_like_body(&big, json!(1234.5))).await;
    let reference = charge(s, &seed_like_body(&mid, json!(150))).await["reference"]
        .as_str()
        .unwrap()
        .to_string();
    charge(s, &seed_like_body(&small, json!(10))).await;
    let pan = s.issue_card("12/30", "321", "5000", false).await;
    let other_card = invoice();
    let mut body = seed_like_body(&other_card, json!(77));
    body["card"]["sender"]["cardCred"] = json!(pan);
    body["card"]["sender"]["cvc"] = json!("321");
    body["card"]["sender"]["expire"] = json!({"month": "12", "year": "30"});
    charge(s, &body).await;
    let (poor, wrong_cvc) = (invoice(), invoice());
    let (st, r) = send(s, &seed_like_body(&poor, json!(999_999_999))).await;
    assert_ne!(st, StatusCode::OK, "{r}");
    let mut body = seed_like_body(&wrong_cvc, json!(20));
    body["card"]["sender"]["cvc"] = json!("000");
    let (st, r) = send(s, &body).await;
    assert_ne!(st, StatusCode::OK, "{r}");
    Made {
        big,
        mid,
        small,
        other_card,
        last4: pan[pan.len() - 4..].to_string(),
        declined: vec![poor, wrong_cvc],
        reference,
    }
}

/// Fills and sends the login form.
pub(super) async fn log_in(c: &Client, s: &Server, email: &str, password: &str) {
    c.goto(&s.path("/cabinet/login")).await.unwrap();
    type_into(c, "#email", email).await;
    type_into(c, "#password", password).await;
    element(c, "#login-button").await.click().await.unwrap();
}

/// Logs in and waits for the dashboard.
pub(super) async fn log_in_to_dashboard(c: &Client, s: &Server, email: &str, password: &str) {
    log_in(c, s, email, password).await;
    url_where(c, "on the dashboard", |u| u.path() == "/cabinet/").await;
    element(c, ".tiles").await;
}

/// Presses one of the language buttons of the page.
pub(super) async fn switch_language(c: &Client, lang: &str) {
    let css = format!("button[name=lang][value={lang}]");
    element(c, &css).await.click().await.unwrap();
    let code = match lang {
        "rus" => "ru",
        "kaz" => "kk",
        _ => "en",
    };
    element(c, &format!("html[lang={code}]")).await;
}

/// The invoices the operations list shows, once the page shows a list or says it is empty.
pub(super) async fn listed(c: &Client) -> BTreeSet<String> {
    element(c, "#operations, #no-operations").await;
    let mut out = BTreeSet::new();
    for cell in c
        .find_all(Locator::Css("#operations td.invoice"))
        .await
        .unwrap()
    {
        out.insert(cell.text().await.unwrap());
    }
    out
}

pub(super) fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A query parameter of the browser's URL, once the URL has it.
async fn param_shown(c: &Client, key: &str, value: &str) {
    url_where(c, &format!("{key}={value} in the URL"), |u| {
        u.query_pairs().any(|(k, v)| k == key && v == value)
    })
    .await;
}

/// Opens the filters' `<details>` if it is closed.
async fn open_filters(c: &Client) {
    let details = element(c, "#filters details").await;
    if details.attr("open").await.unwrap().is_none() {
        element(c, "#filters summary").await.click().await.unwrap();
    }
}

/// Clears a filter field and types `text` into it.
async fn fill(c: &Client, css: &str, text: &str) {
    let field = element(c, css).await;
    field.clear().await.unwrap();
    if !text.is_empty() {
        field.send_keys(text).await.unwrap();
    }
}

/// Types an ISO date into a date field as a person with an en-US Chromium does (month, day,
/// year), and checks that the field took it.
async fn fill_date(c: &Client, css: &str, date: chrono::NaiveDate) {
    let field = element(c, css).await;
    field.clear().await.unwrap();
    field
        .send_keys(&date.format("%m%d%Y").to_string())
        .await
        .unwrap();
    let value = field.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(value, date.to_string(), "{css}");
}

/// Today in the merchant's time zone (Asia/Almaty, UTC+5).
fn almaty_today() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(5)).date_naive()
}

async fn the_seed_login_opens_the_dashboard_and_logout_closes_it(_: Backend) {
    let s = Server::start(Backend::Sqlite);
    let made = make(&s).await;
    let c = open(1280, 800).await;
    c.goto(&s.url).await.unwrap();
    url_where(&c, "sent to the login", |u| u.path() == "/cabinet/login").await;
    switch_language(&c, "eng").await;
    log_in_to_dashboard(&c, &s, LOGIN, PASSWORD).await;
    let page = element(&c, ".cabinet").await.text().await.unwrap();
    assert!(page.contains(LOGIN), "who is logged in");
    assert!(page.contains("Success rate"), "{page}");
    // Four charges and two declines in the last 30 days.
    let month = |n: usize| {
        let c = &c;
        async move {
            let css = format!(".tile:nth-child({n}) .small");
            let text = element(c, &css).await.text().await.unwrap();
            // "30 DAYS" above the figure.
            text.split_whitespace().last().unwrap().to_string()
        }
    };
    assert_eq!(month(1).await, "6", "transfers");
    assert_eq!(month(2).await, "₸", "charged, in tenge");
    let charged = element(&c, ".tile:nth-child(2) .small").await;
    assert!(charged.text().await.unwrap().contains("1,471.50"));
    assert_eq!(month(5).await, "2", "declined");
    let charts = c.find_all(Locator::Css("svg.chart")).await.unwrap();
    assert_eq!(charts.len(), 2, "the volume and the declines");
    assert_eq!(
        c.find_all(Locator::Css("#declines tbody tr"))
            .await
            .unwrap()
            .len(),
        2,
        "two reason codes"
    );
    // A decline's code leads to the list of its operations.
    element(&c, "#declines tbody a")
        .await
        .click()
        .await
        .unwrap();
    param_shown(&c, "status", "FAILED").await;
    assert_eq!(listed(&c).await.len(), 1);
    // The language stays what was chosen on the login page, from page to page.
    let tab = element(&c, ".tabs a[aria-current=page]").await;
    assert_eq!(tab.text().await.unwrap(), "Operations");
    element(&c, "#logout").await.click().await.unwrap();
    url_where(&c, "back at the login", |u| u.path() == "/cabinet/login").await;
    element(&c, "#login-form").await;
    // Logged out for real: the list sends the browser back to the login.
    c.goto(&s.path("/cabinet/operations")).await.unwrap();
    url_where(&c, "sent to the login", |u| u.path() == "/cabinet/login").await;
    assert!(!made.big.is_empty());
    c.close().await.unwrap();
}

async fn ten_wrong_passwords_lock_the_login_in_the_browser(_: Backend) {
    let s = Server::start(Backend::Sqlite);
    let c = open(390, 844).await;
    c.goto(&s.path("/cabinet/login")).await.unwrap();
    switch_language(&c, "rus").await;
    for n in 1..10 {
        log_in(&c, &s, LOGIN, "wrong-password").await;
        let alert = element(&c, "#login-alert").await.text().await.unwrap();
        assert_eq!(alert, "Неверная почта или пароль.", "attempt {n}");
    }
    log_in(&c, &s, LOGIN, "wrong-password").await;
    let alert = element(&c, "#login-alert").await.text().await.unwrap();
    assert!(alert.contains("заблокирован на 30 минут"), "{alert}");
    // The right password is refused while the lock holds, and no session is made.
    log_in(&c, &s, LOGIN, PASSWORD).await;
    let alert = element(&c, "#login-alert").await.text().await.unwrap();
    assert!(alert.contains("Повторите через 30 мин"), "{alert}");
    assert_eq!(c.current_url().await.unwrap().path(), "/cabinet/login");
    assert!(c.get_named_cookie("aqsha_session").await.is_err());
    c.goto(&s.path("/cabinet/")).await.unwrap();
    url_where(&c, "still at the login", |u| u.path() == "/cabinet/login").await;
    c.close().await.unwrap();
}

/// The filters of the list, each through the form as a person uses it.
async fn filter_by_status_amount_and_date(c: &Client, made: &Made) {
    open_filters(c).await;
    element(c, "#status")
        .await
        .select_by_value("FAILED")
        .await
        .unwrap();
    element(c, "#apply").await.click().await.unwrap();
    param_shown(c, "status", "FAILED").await;
    let declined: Vec<&str> = made.declined.iter().map(String::as_str).collect();
    assert_eq!(listed(c).await, set(&declined), "declined");

    element(c, "#status")
        .await
        .select_by_value("CHARGE")
        .await
        .unwrap();
    fill(c, "#min", "100").await;
    fill(c, "#max", "2000").await;
    element(c, "#apply").await.click().await.unwrap();
    param_shown(c, "min", "100").await;
    assert_eq!(listed(c).await, set(&[&made.big, &made.mid]), "100 to 2000");

    fill(c, "#min", "").await;
    fill(c, "#max", "").await;
    let today = almaty_today();
    fill_date(c, "#from", today - chrono::Duration::days(1)).await;
    fill_date(c, "#to", today + chrono::Duration::days(1)).await;
    element(c, "#apply").await.click().await.unwrap();
    param_shown(c, "to", &(today + chrono::Duration::days(1)).to_string()).await;
    assert_eq!(listed(c).await, set(&made.charged()), "around today");
    fill_date(c, "#from", today + chrono::Duration::days(1)).await;
    element(c, "#apply").await.click().await.unwrap();
    param_shown(c, "from", &(today + chrono::Duration::days(1)).to_string()).await;
    assert!(listed(c).await.is_empty(), "from tomorrow");
    element(c, "#no-operations").await;
}

/// The search box: an invoice id, a reference, a card's last digits; a result opens.
async fn search(c: &Client, made: &Made) {
    // The search box goes with the filters (one form): start from none.
    element(c, "a.plain[href='/cabinet/operations']")
        .await
        .click()
        .await
        .unwrap();
    let find = |q: String| async move {
        fill(c, "#q", &q).await;
        element(c, "#find").await.click().await.unwrap();
        param_shown(c, "q", &q).await;
        listed(c).await
    };
    assert_eq!(
        find(made.small.clone()).await,
        set(&[&made.small]),
        "invoice"
    );
    assert_eq!(
        find(made.reference.clone()).await,
        set(&[&made.mid]),
        "reference"
    );
    assert_eq!(
        find(format!("*{}", made.last4)).await,
        set(&[&made.other_card]),
        "card mask"
    );
    element(c, "#operations td a").await.click().await.unwrap();
    let title = element(c, "#op-title").await.text().await.unwrap();
    assert!(title.contains(&made.other_card), "{title}");
}

/// The rows of the downloaded CSV file, once Chromium has finished writing it.
async fn downloaded(dir: &std::path::Path) -> Vec<Vec<String>> {
    let path = eventually("the CSV downloaded", EVENTUALLY, || async {
        let names: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().collect();
        // Chromium writes into `NAME.crdownload` and renames it when done.
        let done = names.iter().find(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("operations-") && name.ends_with(".csv")
        })?;
        Some(done.path())
    })
    .await;
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

async fn filters_the_search_box_and_the_download_find_operations(_: Backend) {
    let s = Server::start(Backend::Sqlite);
    let made = make(&s).await;
    let downloads = tempfile::tempdir().unwrap();
    let c = open_downloading(1280, 800, downloads.path()).await;
    log_in_to_dashboard(&c, &s, LOGIN, PASSWORD).await;
    element(&c, ".tabs a[href='/cabinet/operations']")
        .await
        .click()
        .await
        .unwrap();
    let mut all = made.charged();
    all.extend(made.declined.iter().map(String::as_str));
    assert_eq!(listed(&c).await, set(&all));
    filter_by_status_amount_and_date(&c, &made).await;

    // The download is of the filtered set: the charges of 100 tenge and more.
    element(&c, "a.plain[href='/cabinet/operations']")
        .await
        .click()
        .await
        .unwrap();
    open_filters(&c).await;
    element(&c, "#status")
        .await
        .select_by_value("CHARGE")
        .await
        .unwrap();
    fill(&c, "#min", "100").await;
    element(&c, "#apply").await.click().await.unwrap();
    param_shown(&c, "min", "100").await;
    element(&c, "#export").await.click().await.unwrap();
    let rows = downloaded(downloads.path()).await;
    assert_eq!(rows[0][..3], ["operation_id", "created_at", "status"]);
    let got: BTreeSet<(String, String, String)> = rows[1..]
        .iter()
        .map(|r| (r[5].clone(), r[2].clone(), r[8].clone()))
        .collect();
    let want = [(&made.big, "1234.50"), (&made.mid, "150.00")]
        .map(|(i, a)| (i.to_string(), "CHARGE".to_string(), a.to_string()));
    assert_eq!(got, BTreeSet::from(want));

    search(&c, &made).await;
    c.close().await.unwrap();
}

async fn another_merchant_reaches_none_of_the_seed_merchants_operations(_: Backend) {
    let s = Server::start(Backend::Sqlite);
    let made = make(&s).await;
    let (other, theirs) = s.other_merchant_with_a_charge().await;

    // The seed merchant's operation page, by its address.
    let c = open(1280, 800).await;
    log_in_to_dashboard(&c, &s, LOGIN, PASSWORD).await;
    c.goto(&s.path(&format!("/cabinet/operations?q={}", made.mid)))
        .await
        .unwrap();
    let link = element(&c, "#operations td a").await;
    let ours = link.attr("href").await.unwrap().unwrap();
    link.click().await.unwrap();
    element(&c, "#op-title").await;
    element(&c, "#logout").await.click().await.unwrap();
    url_where(&c, "logged out", |u| u.path() == "/cabinet/login").await;

    let password = other["cabinet_password"].as_str().unwrap();
    log_in_to_dashboard(&c, &s, "owner@shop-b.kz", password).await;
    c.goto(&s.path("/cabinet/operations")).await.unwrap();
    assert_eq!(listed(&c).await, set(&[&theirs]), "the list: its own only");
    fill(&c, "#q", &made.mid).await;
    element(&c, "#find").await.click().await.unwrap();
    param_shown(&c, "q", &made.mid).await;
    assert!(listed(&c).await.is_empty(), "the search box");
    c.goto(&s.path(&ours)).await.unwrap();
    let status = element(&c, ".error .status").await.text().await.unwrap();
    assert_eq!(status, "404", "a direct URL");
    let page = element(&c, "main").await.text().await.unwrap();
    assert!(!page.contains(&made.mid));
    c.close().await.unwrap();
}

/// Presses Tab until `id` has the focus, at most `max` times (the page's order decides how
/// many: the language buttons, the navigation).
async fn tab_to(c: &Client, id: &str, max: usize) {
    let mut seen = Vec::new();
    for _ in 0..max {
        press(c, TAB).await;
        let now = focused(c).await;
        if now == id {
            return;
        }
        seen.push(now);
    }
    panic!("#{id} never had the focus within {max} Tabs; it went {seen:?}");
}

async fn the_login_and_the_filters_work_with_a_keyboard_only(_: Backend) {
    let s = Server::start(Backend::Sqlite);
    let made = make(&s).await;
    let c = open(390, 844).await;
    c.goto(&s.path("/cabinet/login")).await.unwrap();
    tab_to(&c, "email", 5).await;
    press(&c, LOGIN).await;
    tab_to(&c, "password", 1).await;
    press(&c, PASSWORD).await;
    press(&c, ENTER).await;
    url_where(&c, "on the dashboard", |u| u.path() == "/cabinet/").await;

    c.goto(&s.path("/cabinet/operations")).await.unwrap();
    tab_to(&c, "q", 20).await;
    press(&c, &made.small).await;
    press(&c, ENTER).await;
    param_shown(&c, "q", &made.small).await;
    assert_eq!(listed(&c).await, set(&[&made.small]));

    c.goto(&s.path("/cabinet/operations")).await.unwrap();
    tab_to(&c, "filters-toggle", 25).await;
    press(&c, ENTER).await;
    // Each date field takes four Tabs (month, day, year, its calendar button).
    tab_to(&c, "status", 9).await;
    // A closed select takes the arrow keys: "any", then "charged".
    press(&c, DOWN).await;
    tab_to(&c, "min", 8).await;
    press(&c, "100").await;
    press(&c, ENTER).await;
    param_shown(&c, "min", "100").await;
    param_shown(&c, "status", "CHARGE").await;
    assert_eq!(listed(&c).await, set(&[&made.big, &made.mid]));
    c.close().await.unwrap();
}
