//! The merchant cabinet, `/cabinet/` (issue 16): a merchant logs in with its cabinet e-mail
//! and password and sees its business.
//!
//! - [`session`]: the session cookie and [`session::CabinetMerchant`], the extractor every
//!   page takes. A page's store calls are scoped by its `merchant_id`, so a merchant reaches
//!   only its own data by construction; another merchant's operation is a 404.
//! - [`account`]: login (the same check as the API's password grant, [`crate::ops::login`],
//!   with its ten-failure lock), logout, password change, the language switch.
//! - [`dashboard`]: today and the last 30 days, with server-drawn SVG charts ([`charts`]).
//! - [`operations`]: the list (filters, the search box, keyset paging) and [`export`], the
//!   filtered set as a streamed CSV file; both on the API's search ([`aqsha_core::search`]).
//! - [`format`]: tenge and the merchant's time zone; [`words`]: the three languages.
//!
//! Every page works without JavaScript. Forms post with the CSRF token of
//! [`crate::pages::csrf`], whose layer wraps these routes.

pub mod account;
mod charts;
pub mod credentials;
pub mod dashboard;
pub mod export;
pub mod format;
pub mod kit;
pub mod manage;
pub mod operation;
pub mod operations;
pub mod sandbox;
pub mod session;
pub mod words;

use crate::pages::assets;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::AppState;
use aqsha_core::cabinet::LoginPolicy;
use askama::Template;
use axum::response::Html;
use axum::routing::{get, post};
use axum::Router;
use session::CabinetMerchant;
use std::time::Duration;

/// The cabinet's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CabinetSettings {
    /// A session ends after this long without a request (15 minutes).
    pub idle: Duration,
    /// Failed logins that lock a login, and for how long (ten, 30 minutes).
    pub login: LoginPolicy,
}

impl Default for CabinetSettings {
    fn default() -> Self {
        CabinetSettings {
            idle: Duration::from_secs(15 * 60),
            login: LoginPolicy::default(),
        }
    }
}

/// The cabinet's routes, inside the page layers of [`crate::pages::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cabinet/", get(dashboard::page))
        .route(
            "/cabinet/login",
            get(account::login_page).post(account::login),
        )
        .route("/cabinet/logout", post(account::logout))
        .route(
            "/cabinet/password",
            get(account::password_page).post(account::change_password),
        )
        .route("/cabinet/time-zone", post(account::set_time_zone))
        .route("/cabinet/language", post(account::language))
        .route("/cabinet/operations", get(operations::list))
        .route("/cabinet/operations.csv", get(export::csv))
        .route("/cabinet/operations/{id}", get(operation::page))
        .route(
            "/cabinet/operations/{id}/callbacks/{event}/resend",
            post(operation::resend),
        )
        .route("/cabinet/cards", get(manage::cards))
        .route("/cabinet/cards/{id}/deactivate", post(manage::deactivate))
        .route(
            "/cabinet/terminals",
            get(manage::terminals).post(manage::add_terminal),
        )
        .route("/cabinet/terminals/{id}/limits", post(manage::set_limits))
        .route("/cabinet/credentials", get(credentials::page))
        .route(
            "/cabinet/credentials/client-secret",
            post(credentials::rotate_client),
        )
        .route(
            "/cabinet/credentials/callback-secret",
            post(credentials::rotate_callback),
        )
        .route("/cabinet/sandbox", get(sandbox::page))
        .route("/cabinet/sandbox/cards", post(sandbox::issue))
        .route("/cabinet/sandbox/cards/{id}/topup", post(sandbox::top_up))
        .route("/cabinet/sandbox/cards/{id}/lock", post(sandbox::lock))
        .route("/cabinet/sandbox/fund", post(sandbox::fund))
        .route("/cabinet/sandbox/phones", post(sandbox::add_phone))
}

/// A link of the navigation.
pub struct NavItem {
    pub href: &'static str,
    pub name: &'static str,
    pub current: bool,
}

/// What every signed-in page shows around its content (`templates/cabinet_base.html`).
pub struct Layout {
    pub css: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub sandbox: bool,
    pub login: String,
    /// This page's path and query, where the language switch comes back to.
    pub back: String,
    pub title: &'static str,
    pub cabinet: &'static str,
    pub sandbox_badge: &'static str,
    pub logout: &'static str,
    pub password: &'static str,
    pub language: &'static str,
    pub langs: [(&'static str, &'static str, bool); 3],
}

impl Layout {
    /// The layout of the page at `path` (one of [`words::NAV`]'s, or another), `back` being
    /// the URL to return to after a language change.
    pub fn new(m: &CabinetMerchant, csrf: &str, path: &str, back: &str) -> Layout {
        let lang = m.lang;
        let nav = words::NAV
            .iter()
            .filter(|(href, _)| m.sandbox || *href != "/cabinet/sandbox")
            .map(|(href, name)| NavItem {
                href,
                name: words::t(name, lang),
                current: *href == path,
            })
            .collect::<Vec<_>>();
        let title = nav.iter().find(|n| n.current).map_or("", |n| n.name);
        Layout {
            css: assets::url("cabinet/cabinet.css"),
            csrf: csrf.to_string(),
            nav,
            sandbox: m.sandbox,
            login: m.login.clone(),
            back: back.to_string(),
            title,
            cabinet: words::t(&words::CABINET, lang),
            sandbox_badge: words::t(&words::SANDBOX_BADGE, lang),
            logout: words::t(&words::LOGOUT, lang),
            password: words::t(&words::PASSWORD, lang),
            language: words::t(&words::LANGUAGE, lang),
            langs: lang_choices(lang),
        }
    }
}

/// The language switch's buttons: code, label, current.
pub fn lang_choices(lang: Lang) -> [(&'static str, &'static str, bool); 3] {
    [
        ("rus", "Рус", lang == Lang::Rus),
        ("kaz", "Қаз", lang == Lang::Kaz),
        ("eng", "Eng", lang == Lang::Eng),
    ]
}

/// Renders a page template, or the error page.
pub fn render(page: &impl Template, lang: Lang) -> Result<Html<String>, PageError> {
    page.render()
        .map(Html)
        .map_err(|e| PageError::internal(lang, "rendering a cabinet page failed", e))
}
