//! CSRF protection for pages that post: a signed double-submit token.
//!
//! On a safe request (GET, HEAD) to a page, [`protect`] makes sure the browser holds a random
//! id in the `aqsha_csrf` cookie (set with the flags of [`super::session`]) and gives the page
//! the matching token, `HMAC(key, id)`, through the [`CsrfToken`] extractor; the page puts it
//! in a hidden `csrf_token` field of each form (htmx and `fetch` send it as `X-CSRF-Token`).
//! Any other method must bring both, and they must match, or it is refused with an HTML 403
//! before the handler runs. Another site can make a browser post to Aqsha, but it can neither
//! read the cookie nor compute its token, and `SameSite=Strict` keeps the cookie off its
//! requests in the first place.
//!
//! The key comes from the vault's index keys (the same ones for every instance that shares
//! the master key, and never rotated), so no new secret is kept on disk: see [`Csrf::new`].
//!
//! A page inside a third-party iframe (the payment widget, issue 15) gets no `SameSite=
//! Strict` cookie at all: such a page must tie its token to something else it issued (its
//! form's own nonce), and be routed outside this layer with that check instead.

use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::pages::session;
use crate::App;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::sync::Arc;

/// The cookie holding the browser's random id.
pub const COOKIE: &str = "aqsha_csrf";
/// The form field carrying the token.
pub const FIELD: &str = "csrf_token";
/// The header carrying the token, for scripted posts.
pub const HEADER: &str = "x-csrf-token";

/// Bytes of randomness in a browser's id.
const ID_BYTES: usize = 32;

/// The signing key, shared by all page requests.
#[derive(Clone)]
pub struct Csrf {
    key: Arc<[u8; 32]>,
}

impl Csrf {
    /// The key is the vault's key for this purpose ([`aqsha_core::vault::Vault::purpose_key`]):
    /// secret, equal on every instance with the same master key, unchanged by sealing-key
    /// rotation, and never stored.
    pub fn new(app: &App) -> Csrf {
        Csrf {
            key: Arc::new(app.vault.purpose_key("pages/csrf/v1")),
        }
    }

    /// The token for a browser id.
    pub fn token_for(&self, id: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(id).finalize().into_bytes())
    }

    /// Whether `token` is the token for `id`, compared in constant time.
    pub fn verify(&self, id: &str, token: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        self.mac(id).verify_slice(&tag).is_ok()
    }

    fn mac(&self, id: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key[..])
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(b"csrf\0");
        mac.update(id.as_bytes());
        mac
    }
}

/// The token a page puts in its forms (`<input type="hidden" name="csrf_token" value="…">`).
/// Available to handlers behind [`protect`].
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<CsrfToken, PageError> {
        parts.extensions.get::<CsrfToken>().cloned().ok_or_else(|| {
            PageError::internal(
                Lang::from_headers(&parts.headers),
                "CsrfToken used on a route without the csrf::protect layer",
                "missing extension",
            )
        })
    }
}

/// A browser id as this module writes it: 43 base64url characters.
fn well_formed(id: &str) -> bool {
    id.len() == 43
        && URL_SAFE_NO_PAD
            .decode(id)
            .is_ok_and(|b| b.len() == ID_BYTES)
}

/// The middleware; see the module documentation.
pub async fn protect(
    State((state, csrf)): State<(crate::AppState, Csrf)>,
    req: Request,
    next: Next,
) -> Response {
    let id = browser_id(req.headers());
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return provide(&state, &csrf, id, req, next).await;
    }
    let lang = Lang::from_headers(req.headers());
    let Some(id) = id else {
        return PageError::forbidden(lang).into_response();
    };
    match checked(&csrf, &id, req).await {
        Some(req) => next.run(req).await,
        None => PageError::forbidden(lang).into_response(),
    }
}

/// A safe request: hands the page its token, and sets the cookie when the browser had none.
async fn provide(
    app: &App,
    csrf: &Csrf,
    id: Option<String>,
    mut req: Request,
    next: Next,
) -> Response {
    let (token, cookie) = issue(app, csrf, id);
    req.extensions_mut().insert(token);
    let mut resp = next.run(req).await;
    if let Some(cookie) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
    resp
}

/// The token for the browser's id, and the cookie to set when it had none. For an entry page
/// that a form on another site posts to (the 3-D Secure ACS): outside [`protect`], it hands
/// out the token its own forms will need, as a safe request would.
pub fn issue(
    app: &App,
    csrf: &Csrf,
    id: Option<String>,
) -> (CsrfToken, Option<axum::http::HeaderValue>) {
    match id {
        Some(id) => (CsrfToken(csrf.token_for(&id)), None),
        None => {
            let mut bytes = [0u8; ID_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let id = URL_SAFE_NO_PAD.encode(bytes);
            let cookie = session::set_cookie(app, COOKIE, &id, None);
            (CsrfToken(csrf.token_for(&id)), cookie)
        }
    }
}

/// The browser's id from its cookie, when well formed.
pub fn browser_id(headers: &HeaderMap) -> Option<String> {
    session::cookie(headers, COOKIE)
        .filter(|id| well_formed(id))
        .map(str::to_string)
}

/// The request again, if it carries the token for `id` in the header or in a url-encoded
/// form's [`FIELD`]; `None` otherwise. The body is read (within the router's body limit) and
/// put back for the handler.
async fn checked(csrf: &Csrf, id: &str, req: Request) -> Option<Request> {
    if let Some(token) = header_token(req.headers()) {
        return csrf.verify(id, token).then_some(req);
    }
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return None;
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, crate::BODY_LIMIT).await.ok()?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).ok()?;
    let token = fields.iter().find(|(k, _)| k == FIELD).map(|(_, v)| v)?;
    csrf.verify(id, token)
        .then(|| Request::from_parts(parts, Body::from(bytes)))
}

fn header_token(headers: &HeaderMap) -> Option<&str> {
    headers.get(HEADER).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_for_its_id_only() {
        let csrf = Csrf {
            key: Arc::new([7u8; 32]),
        };
        let id = URL_SAFE_NO_PAD.encode([1u8; ID_BYTES]);
        let other = URL_SAFE_NO_PAD.encode([2u8; ID_BYTES]);
        assert!(well_formed(&id));
        let token = csrf.token_for(&id);
        assert!(csrf.verify(&id, &token));
        assert!(!csrf.verify(&other, &token));
        assert!(!csrf.verify(&id, "not base64 !"));
        assert!(!csrf.verify(&id, ""));
        let other_key = Csrf {
            key: Arc::new([8u8; 32]),
        };
        assert!(!other_key.verify(&id, &token));
    }
}
