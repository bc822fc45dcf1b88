//! Web pages: the hosted payment form (`/payform/`, issue 15) and the merchant cabinet
//! (`/cabinet/`, issue 16) live here, beside the API routes and on the same operations.
//!
//! What is where:
//! - `crates/server/templates/`: askama templates, checked when the crate compiles. Every
//!   page extends `base.html`; [`error`] renders `error.html`.
//! - `crates/server/assets/`: the stylesheet and vendored libraries, compiled into the binary
//!   and served under `/assets/` ([`assets`]).
//! - [`error::PageError`]: what a page handler returns on failure; an HTML page with the
//!   right status in the page's [`lang::Lang`], never JSON.
//! - [`csrf`]: the token every form post must carry; [`session`]: cookies with the right flags.
//! - The work itself: [`crate::ops`], the same functions the API calls.
//!
//! [`router`] is merged into the server's router by [`crate::router_with`], inside the access
//! log, the request limits and the body limit that every route has; a refusal there, or a
//! path nobody serves, is answered as a page under [`PAGE_PREFIXES`] ([`is_page_path`]).

pub mod acs;
pub mod assets;
pub mod cabinet;
pub mod csrf;
pub mod demo;
pub mod error;
pub mod lang;
pub mod payform;
pub mod reasons;
pub mod session;

use crate::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

/// Paths whose answers are pages, errors included: a person's browser reads them.
pub const PAGE_PREFIXES: &[&str] = &[assets::PREFIX, "/payform/", "/cabinet/", "/acs/"];

/// Whether a path belongs to the pages (its errors are HTML, not the API's JSON).
pub fn is_page_path(path: &str) -> bool {
    PAGE_PREFIXES
        .iter()
        .any(|p| path.starts_with(p) || path == p.trim_end_matches('/'))
}

/// The page routes: the assets, the merchant script, and the pages (`/payform/`, issue 15;
/// issue 16's `/cabinet/`, [`cabinet`]). Pages go through [`with_page_layers`]; assets and the script
/// need no cookie, and the widget's post has its own check ([`payform::FormToken`]).
pub fn router(state: &AppState) -> Router<AppState> {
    let pages: Router<AppState> = Router::new()
        .route("/payform/", get(payform::page).post(payform::submit::post))
        .route("/acs/challenge", post(acs::answer))
        .merge(cabinet::routes());
    let headers_only = || middleware::from_fn(page_headers);
    Router::new()
        .route("/assets/{*path}", get(assets::serve).layer(headers_only()))
        .route(
            "/payform/payment-api.js",
            get(payform::script::serve).layer(headers_only()),
        )
        .route(
            "/payform/widget",
            post(payform::submit::widget_post).layer(headers_only()),
        )
        // Posted to from the merchant's site: no CSRF cookie can come with it; the
        // challenge's secret does its work (`acs`).
        .route("/acs/", post(acs::start).layer(headers_only()))
        // The challenge's form inside the widget's frame: no cookie there either; a token
        // tied to the challenge instead (`acs::widget_answer`).
        .route(
            "/acs/widget",
            post(acs::widget_answer).layer(headers_only()),
        )
        // The server's root is the cabinet's door.
        .route(
            "/",
            get(|| async { cabinet::session::see_other("/cabinet/") }).layer(headers_only()),
        )
        .merge(with_page_layers(pages, state))
}

/// The sandbox's example merchant pages (`/sandbox/demo`, [`demo`]), added by the router only
/// where the sandbox API is on.
pub fn sandbox_router() -> Router<AppState> {
    Router::new()
        .route("/sandbox/demo", get(demo::demo))
        .route("/sandbox/demo/back", get(demo::back))
        .layer(middleware::from_fn(page_headers))
}

/// The layers every page has: CSRF protection (which also hands out the form token) and the
/// security headers of [`page_headers`]. Public so that tests can wrap their own handlers.
pub fn with_page_layers(pages: Router<AppState>, state: &AppState) -> Router<AppState> {
    let csrf = csrf::Csrf::new(state);
    pages
        .layer(middleware::from_fn_with_state(
            (state.clone(), csrf),
            csrf::protect,
        ))
        .layer(middleware::from_fn(page_headers))
}

/// What a browser is told about every page, unless the page set it itself: load nothing
/// from another origin and run no inline script (`Content-Security-Policy`), never be framed
/// (a page that must be, the payment widget, sets its own `frame-ancestors`), send no
/// `Referer` (a payform URL carries the merchant's token), sniff no types, and keep no copy.
pub async fn page_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    resp
}

/// The pages' Content-Security-Policy: everything from Aqsha itself, nothing inline.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'; object-src 'none'";
