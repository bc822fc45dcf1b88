//! Who is signed in: the session cookie, the session in the database, and the
//! [`CabinetMerchant`] extractor every cabinet page takes.
//!
//! The cookie holds 32 random bytes (base64url); the database keeps only their SHA-256, so
//! neither a database copy nor a log line opens a session. The session ends after
//! [`super::CabinetSettings::idle`] without a request, at logout, and when the merchant is
//! disabled or changes its password elsewhere. The cookie has the flags of
//! [`crate::pages::session`] (`HttpOnly`, `SameSite=Strict`, `Secure` over TLS) and no
//! `Max-Age`: it goes when the browser closes, and the server forgets it sooner when idle.

use super::format::Zone;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::pages::session::{clear_cookie, cookie};
use crate::{App, AppState};
use aqsha_core::vault::sha256_hex;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

/// The session cookie.
pub const COOKIE: &str = "aqsha_session";
/// The language the merchant chose (`rus`, `kaz`, `eng`), kept for a year.
pub const LANG_COOKIE: &str = "aqsha_lang";
/// Where a browser without a session is sent.
pub const LOGIN_PATH: &str = "/cabinet/login";

/// The signed-in merchant, for every cabinet handler: its data is what these fields name, so
/// every store call a handler makes is scoped by `merchant_id`.
#[derive(Debug, Clone)]
pub struct CabinetMerchant {
    pub merchant_id: String,
    pub login: String,
    pub lang: Lang,
    pub zone: Zone,
    /// Whether this server is a sandbox (its network's cards and money are test ones).
    pub sandbox: bool,
    /// The SHA-256 of this browser's session id (logout and password change need it).
    pub session_hash: String,
}

/// The page language: the cookie's, else the browser's.
pub fn page_lang(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or_else(|| Lang::from_headers(headers))
}

/// The session hash of the request's cookie, when it is well formed.
pub fn session_hash(headers: &HeaderMap) -> Option<String> {
    let id = cookie(headers, COOKIE)?;
    let ok = id.len() == 43 && URL_SAFE_NO_PAD.decode(id).is_ok_and(|b| b.len() == 32);
    ok.then(|| sha256_hex(id.as_bytes()))
}

/// A new session id: the cookie value and its hash.
pub fn new_session_id() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let id = URL_SAFE_NO_PAD.encode(bytes);
    let hash = sha256_hex(id.as_bytes());
    (id, hash)
}

/// A `303 See Other` to `location`.
pub fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// To the login page; the stale cookie, if one came, is deleted. `expired` says why.
fn to_login(app: &App, had_cookie: bool) -> Response {
    let mut r = see_other(if had_cookie {
        "/cabinet/login?expired=1"
    } else {
        LOGIN_PATH
    });
    if had_cookie {
        if let Some(c) = clear_cookie(app, COOKIE) {
            r.headers_mut().append(header::SET_COOKIE, c);
        }
    }
    r
}

impl FromRequestParts<AppState> for CabinetMerchant {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<CabinetMerchant, Response> {
        let lang = page_lang(&parts.headers);
        let Some(hash) = session_hash(&parts.headers) else {
            let had = cookie(&parts.headers, COOKIE).is_some();
            return Err(to_login(state, had));
        };
        let now = chrono::Utc::now();
        let failed = |e| PageError::internal(lang, "reading the cabinet session failed", e);
        let session = state
            .store
            .session(&hash, now, state.cabinet.idle)
            .await
            .map_err(|e| failed(e).into_response())?;
        let Some(session) = session else {
            return Err(to_login(state, true));
        };
        let active = state
            .store
            .merchant_active(&session.merchant_id)
            .await
            .map_err(|e| failed(e).into_response())?;
        if !active {
            let _ = state.store.end_session(&hash).await;
            return Err(to_login(state, true));
        }
        Ok(CabinetMerchant {
            merchant_id: session.merchant_id,
            login: session.login,
            lang,
            zone: Zone::from_stored(&session.time_zone),
            sandbox: state.rules.sandbox_outcomes,
            session_hash: hash,
        })
    }
}
