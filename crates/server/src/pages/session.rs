//! Cookies for pages: one way to set them, with the flags every Aqsha cookie carries, and one
//! way to read them.
//!
//! Every cookie is `HttpOnly` (no script reads it: a page's script never needs one), `SameSite=
//! Strict` (a browser sends it only with requests made from Aqsha's own pages, so another
//! site cannot post a form with it), `Path=/`, and `Secure` when the server is on TLS
//! ([`crate::App::tls`]): a `Secure` cookie set over plain HTTP would be dropped, and one
//! without it would travel in clear next to the card form.
//!
//! Login sessions (the merchant cabinet, issue 16) keep a random id in such a cookie and the
//! session itself on the server; this module only writes and reads the cookie.

use crate::App;
use axum::http::{header, HeaderMap, HeaderValue};
use std::time::Duration;

/// The `Set-Cookie` value for `name=value` with the flags above. `max_age`: `None` for a
/// browser-session cookie. `value` must be cookie-safe (the callers' values are base64url).
pub fn set_cookie(
    app: &App,
    name: &str,
    value: &str,
    max_age: Option<Duration>,
) -> Option<HeaderValue> {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if app.tls {
        text.push_str("; Secure");
    }
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    HeaderValue::from_str(&text).ok()
}

/// The `Set-Cookie` value that deletes `name` (logout).
pub fn clear_cookie(app: &App, name: &str) -> Option<HeaderValue> {
    set_cookie(app, name, "", Some(Duration::ZERO))
}

/// The value of cookie `name` in the request, if sent (the first, if sent twice).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; aqsha_csrf=xyz".parse().unwrap());
        h.append(header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(cookie(&h, "aqsha_csrf"), Some("xyz"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "aqsha"), None);
    }
}
