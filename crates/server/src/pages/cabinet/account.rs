//! Login, logout, password change and the language switch.

use super::format::Zone;
use super::session::{self, page_lang, see_other, CabinetMerchant};
use super::words::{self, t};
use super::{lang_choices, render, Layout};
use crate::auth::Peer;
use crate::ops::login::LoginCheck;
use crate::pages::assets;
use crate::pages::csrf::{self, Csrf, CsrfToken};
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::pages::session::{clear_cookie, set_cookie};
use crate::AppState;
use aqsha_core::cabinet::CabinetSession;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use std::time::Duration;

/// The login page's words.
struct LoginWords {
    title: &'static str,
    email: &'static str,
    password: &'static str,
    button: &'static str,
    sandbox: &'static str,
}

#[derive(Template)]
#[template(path = "cabinet_login.html")]
struct LoginPage {
    lang: Lang,
    stylesheet: String,
    css: String,
    csrf: String,
    langs: [(&'static str, &'static str, bool); 3],
    t: LoginWords,
    sandbox: bool,
    email: String,
    message: Option<String>,
    notice: Option<&'static str>,
}

fn login_page_for(
    app: &AppState,
    lang: Lang,
    csrf: &str,
    email: &str,
    message: Option<String>,
    notice: Option<&'static str>,
) -> LoginPage {
    LoginPage {
        lang,
        stylesheet: assets::url("pages.css"),
        css: assets::url("cabinet/cabinet.css"),
        csrf: csrf.to_string(),
        langs: lang_choices(lang),
        t: LoginWords {
            title: t(&words::LOGIN_TITLE, lang),
            email: t(&words::EMAIL, lang),
            password: t(&words::PASSWORD, lang),
            button: t(&words::LOGIN_BUTTON, lang),
            sandbox: t(&words::SANDBOX_BADGE, lang),
        },
        sandbox: app.rules.sandbox_outcomes,
        email: email.to_string(),
        message,
        notice,
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    expired: Option<String>,
}

/// `GET /cabinet/login`.
pub async fn login_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    csrf: CsrfToken,
    Query(q): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let lang = page_lang(&headers);
    let notice = q.expired.map(|_| t(&words::EXPIRED, lang));
    let page = login_page_for(&app, lang, &csrf.0, "", None, notice);
    Ok(render(&page, lang)?.into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
}

/// `POST /cabinet/login`: a session and the dashboard, or the form again with why not.
pub async fn login(
    State(app): State<AppState>,
    headers: HeaderMap,
    peer: Peer,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let lang = page_lang(&headers);
    let check = crate::ops::login::check(&app, &form.email, &form.password, peer.0)
        .await
        .map_err(|e| PageError::internal(lang, "checking a cabinet login failed", e))?;
    let (status, message) = match check {
        LoginCheck::Allowed(m, login) => return start_session(&app, lang, m.id, login).await,
        LoginCheck::Denied { locked_until: None } => (
            StatusCode::UNAUTHORIZED,
            t(&words::WRONG_LOGIN, lang).to_string(),
        ),
        LoginCheck::Denied {
            locked_until: Some(_),
        } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} {}",
                t(&words::WRONG_LOGIN, lang),
                t(&words::NOW_LOCKED, lang)
            ),
        ),
        LoginCheck::Locked(wait) => (StatusCode::TOO_MANY_REQUESTS, locked_message(lang, wait)),
        LoginCheck::Disabled => (StatusCode::FORBIDDEN, t(&words::DISABLED, lang).to_string()),
    };
    let (token, cookie) = csrf::issue(&app, &Csrf::new(&app), csrf::browser_id(&headers));
    let email: String = form.email.chars().take(254).collect();
    let page = login_page_for(&app, lang, &token.0, &email, Some(message), None);
    let mut resp = (status, render(&page, lang)?).into_response();
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

fn locked_message(lang: Lang, wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    t(&words::LOCKED, lang).replace("{}", &minutes.to_string())
}

async fn start_session(
    app: &AppState,
    lang: Lang,
    merchant_id: String,
    login: String,
) -> Result<Response, PageError> {
    let (id, hash) = session::new_session_id();
    let now = chrono::Utc::now();
    let s = CabinetSession {
        merchant_id,
        login,
        created_at: now,
        last_seen: now,
        time_zone: String::new(),
    };
    app.store
        .open_session(&hash, s)
        .await
        .map_err(|e| PageError::internal(lang, "opening a cabinet session failed", e))?;
    let mut resp = see_other("/cabinet/");
    if let Some(c) = set_cookie(app, session::COOKIE, &id, None) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

/// `POST /cabinet/logout`.
pub async fn logout(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if let Some(hash) = session::session_hash(&headers) {
        app.store
            .end_session(&hash)
            .await
            .map_err(|e| PageError::internal(page_lang(&headers), "ending a session failed", e))?;
    }
    let mut resp = see_other(session::LOGIN_PATH);
    if let Some(c) = clear_cookie(&app, session::COOKIE) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

struct PasswordWords {
    title: &'static str,
    current: &'static str,
    new: &'static str,
    repeat: &'static str,
    button: &'static str,
}

#[derive(Template)]
#[template(path = "cabinet_password.html")]
struct PasswordPage {
    lang: Lang,
    stylesheet: String,
    layout: Layout,
    t: PasswordWords,
    message: Option<String>,
    notice: Option<&'static str>,
    /// The time zone form: the merchant's zone, and what went wrong or right with a change.
    zone: String,
    zone_message: Option<&'static str>,
    zone_notice: Option<&'static str>,
    zones: &'static [&'static str],
    /// Title, label, hint, button.
    zone_words: [&'static str; 4],
}

/// Suggestions for the time zone field (any IANA name is taken): Kazakhstan's, its
/// neighbours', and a few a merchant abroad may keep its books in.
const ZONES: &[&str] = &[
    "Asia/Almaty",
    "Asia/Aqtobe",
    "Asia/Oral",
    "Asia/Tashkent",
    "Asia/Bishkek",
    "Europe/Moscow",
    "Europe/Istanbul",
    "Asia/Dubai",
    "Europe/London",
    "UTC",
];

fn password_page_for(
    m: &CabinetMerchant,
    csrf: &str,
    message: Option<String>,
    notice: Option<&'static str>,
) -> PasswordPage {
    let lang = m.lang;
    let mut layout = Layout::new(m, csrf, "/cabinet/password", "/cabinet/password");
    layout.title = t(&words::PASSWORD_TITLE, lang);
    PasswordPage {
        lang,
        stylesheet: assets::url("pages.css"),
        layout,
        t: PasswordWords {
            title: t(&words::PASSWORD_TITLE, lang),
            current: t(&words::CURRENT_PASSWORD, lang),
            new: t(&words::NEW_PASSWORD, lang),
            repeat: t(&words::REPEAT_PASSWORD, lang),
            button: t(&words::CHANGE, lang),
        },
        message,
        notice,
        zone: m.zone.name().to_string(),
        zone_message: None,
        zone_notice: None,
        zones: ZONES,
        zone_words: [
            t(&words::ZONE_TITLE, lang),
            t(&words::ZONE_LABEL, lang),
            t(&words::ZONE_HINT, lang),
            t(&words::ZONE_BUTTON, lang),
        ],
    }
}

/// `GET /cabinet/password`.
pub async fn password_page(
    m: CabinetMerchant,
    csrf: CsrfToken,
) -> Result<axum::response::Html<String>, PageError> {
    render(&password_page_for(&m, &csrf.0, None, None), m.lang)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    repeat: String,
}

/// The shortest new password.
const MIN_PASSWORD: usize = 10;

/// `POST /cabinet/password`: the current password is checked as a login is (a wrong one
/// counts toward the lock); the merchant's other sessions end.
pub async fn change_password(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
    peer: Peer,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let lang = m.lang;
    let (token, _) = csrf::issue(&app, &Csrf::new(&app), csrf::browser_id(&headers));
    let refuse = |status: StatusCode, message: String| -> Result<Response, PageError> {
        let page = password_page_for(&m, &token.0, Some(message), None);
        Ok((status, render(&page, lang)?).into_response())
    };
    if form.new.chars().count() < MIN_PASSWORD {
        return refuse(StatusCode::BAD_REQUEST, t(&words::TOO_SHORT, lang).into());
    }
    if form.new != form.repeat {
        return refuse(StatusCode::BAD_REQUEST, t(&words::MISMATCH, lang).into());
    }
    let check = crate::ops::login::check(&app, &m.login, &form.current, peer.0)
        .await
        .map_err(|e| PageError::internal(lang, "checking a password failed", e))?;
    match check {
        LoginCheck::Allowed(found, _) if found.id == m.merchant_id => {}
        LoginCheck::Locked(wait) => {
            return refuse(StatusCode::TOO_MANY_REQUESTS, locked_message(lang, wait))
        }
        _ => return refuse(StatusCode::FORBIDDEN, t(&words::WRONG_CURRENT, lang).into()),
    }
    let new = form.new.clone();
    let hash = tokio::task::spawn_blocking(move || aqsha_core::provision::hash_password(&new))
        .await
        .map_err(|e| PageError::internal(lang, "hashing a password failed", e))?
        .map_err(|e| PageError::internal(lang, "hashing a password failed", e))?;
    app.store
        .set_cabinet_password(&m.merchant_id, &hash, &m.session_hash)
        .await
        .map_err(|e| PageError::internal(lang, "changing a password failed", e))?;
    tracing::info!(request = %crate::request_id(), merchant = %m.merchant_id, "cabinet password changed");
    let page = password_page_for(&m, &token.0, None, Some(t(&words::CHANGED, lang)));
    Ok(render(&page, lang)?.into_response())
}

#[derive(Deserialize)]
pub struct TimeZoneForm {
    zone: String,
}

/// `POST /cabinet/time-zone`: the merchant's time zone, an IANA name; the dashboard, the
/// list, the filters and the CSV use it from the next page on.
pub async fn set_time_zone(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
    Form(form): Form<TimeZoneForm>,
) -> Result<Response, PageError> {
    let lang = m.lang;
    let (token, _) = csrf::issue(&app, &Csrf::new(&app), csrf::browser_id(&headers));
    let mut page = password_page_for(&m, &token.0, None, None);
    let Some(zone) = Zone::parse(&form.zone) else {
        page.zone = form.zone.chars().take(64).collect();
        page.zone_message = Some(t(&words::BAD_ZONE, lang));
        return Ok((StatusCode::BAD_REQUEST, render(&page, lang)?).into_response());
    };
    app.store
        .set_time_zone(&m.merchant_id, zone.name())
        .await
        .map_err(|e| PageError::internal(lang, "setting a time zone failed", e))?;
    tracing::info!(request = %crate::request_id(), merchant = %m.merchant_id, zone = zone.name(), "cabinet time zone set");
    page.zone = zone.name().to_string();
    page.zone_notice = Some(t(&words::ZONE_SET, lang));
    Ok(render(&page, lang)?.into_response())
}

#[derive(Deserialize)]
pub struct LanguageForm {
    lang: String,
    back: Option<String>,
}

/// `POST /cabinet/language`: remembers the choice for a year, and goes back to the page.
pub async fn language(State(app): State<AppState>, Form(form): Form<LanguageForm>) -> Response {
    let back = form
        .back
        .filter(|b| b.starts_with("/cabinet/") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/cabinet/".into());
    let mut resp = see_other(&back);
    if let Some(lang) = Lang::parse(&form.lang) {
        let code = ["rus", "kaz", "eng"][lang.index()];
        let year = Duration::from_secs(365 * 24 * 3600);
        if let Some(c) = set_cookie(&app, session::LANG_COOKIE, code, Some(year)) {
            resp.headers_mut().append(header::SET_COOKIE, c);
        }
    }
    resp
}
