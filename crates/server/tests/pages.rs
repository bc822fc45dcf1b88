//! The pages' plumbing over a real socket: the server's router on 127.0.0.1 with a real SQLite
//! store, and the page layers around a test form (no real page exists yet: issue 15 adds the
//! first).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aqsha_server::pages::{self, csrf::CsrfToken};
use aqsha_server::{App, AppState};
use axum::http::{header, StatusCode};
use axum::routing::get;
use axum::{Form, Router};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// A server state on a fresh SQLite database in `dir`.
async fn state(dir: &tempfile::TempDir, tls: bool) -> AppState {
    let url = aqsha_store::DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("aqsha.db").display()
    ))
    .unwrap();
    let store = aqsha_store::open(&url).await.unwrap();
    AppState::new(App {
        store,
        vault: Arc::new(aqsha_core::vault::Vault::new([9u8; 32])),
        token_ttl_secs: 7200,
        callbacks_wake: Arc::new(tokio::sync::Notify::new()),
        public_cards: Arc::new(aqsha_core::network::PublicCards::default()),
        funding_cap: aqsha_server::config::DEFAULT_FUNDING_CAP,
        rules: Default::default(),
        throttle: Arc::new(aqsha_server::throttle::Throttle::new(Default::default())),
        tls,
        cabinet: Default::default(),
    })
}

/// Serves `app` on a free loopback port; the base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

/// The server's own router, as `aqsha serve` builds it.
async fn server(dir: &tempfile::TempDir) -> String {
    let state = state(dir, false).await;
    serve(aqsha_server::router(state, true)).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `GET url` with these headers.
async fn fetch(url: &str, headers: &[(header::HeaderName, &str)]) -> reqwest::Response {
    let mut req = client().get(url);
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn an_unknown_page_is_an_html_404_in_the_browsers_language() {
    let dir = tempfile::tempdir().unwrap();
    let base = server(&dir).await;
    let resp = fetch(
        &format!("{base}/payform/no-such-page"),
        &[(header::ACCEPT_LANGUAGE, "en-GB,en;q=0.9")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let h = resp.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(h[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let request_id = h["x-request-id"].to_str().unwrap().to_string();
    let body = resp.text().await.unwrap();
    assert!(body.starts_with("<!doctype html>"), "{body}");
    assert!(body.contains("<html lang=\"en\">"), "{body}");
    assert!(body.contains("Page not found"), "{body}");
    // The request id to quote to support is on the page; nothing internal is.
    assert!(body.contains(&request_id), "{body}");

    // In Kazakh when the browser prefers it; the API's unknown paths stay JSON.
    let kk = fetch(
        &format!("{base}/cabinet/x"),
        &[(header::ACCEPT_LANGUAGE, "kk")],
    )
    .await;
    assert_eq!(kk.status(), StatusCode::NOT_FOUND);
    assert!(kk.text().await.unwrap().contains("Бет табылмады"));
    let api = fetch(&format!("{base}/no-such-endpoint"), &[]).await;
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert_eq!(api.headers()[header::CONTENT_TYPE], "application/json");
}

#[tokio::test]
async fn a_refusal_by_the_request_limits_is_a_page_on_page_paths() {
    let dir = tempfile::tempdir().unwrap();
    let base = server(&dir).await;
    let big = "x".repeat(40 * 1024);
    let resp = fetch(
        &format!("{base}/payform/"),
        &[
            (header::HeaderName::from_static("x-padding"), &big),
            (header::ACCEPT_LANGUAGE, "ru"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("Слишком большой запрос"));
}

#[tokio::test]
async fn an_asset_has_its_type_etag_and_answers_304_when_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let base = server(&dir).await;
    let url = format!("{base}/assets/vendor/htmx/htmx.min.js");
    let resp = fetch(&url, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    let etag = h[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    let body = resp.bytes().await.unwrap();
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/vendor/htmx/htmx.min.js"
    ))
    .unwrap();
    assert_eq!(body.as_ref(), file.as_slice());

    let again = fetch(&url, &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[header::ETAG], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());

    let stale = fetch(&url, &[(header::IF_NONE_MATCH, "\"0000\"")]).await;
    assert_eq!(stale.status(), StatusCode::OK);

    // The URL a page links by carries the hash and may be kept for a year.
    let versioned = pages::assets::url("vendor/htmx/htmx.min.js");
    let hash = etag.trim_matches('"');
    assert!(versioned.ends_with(&format!("?v={hash}")), "{versioned}");
    let resp = fetch(&format!("{base}{versioned}"), &[]).await;
    assert_eq!(
        resp.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );

    let css = fetch(&format!("{base}/assets/pages.css"), &[]).await;
    assert_eq!(
        css.headers()[header::CONTENT_TYPE],
        "text/css; charset=utf-8"
    );
    // Only the listed files exist: anything else is a page's 404.
    let escape = format!("{base}/assets/vendor/htmx/%2E%2E%2F%2E%2E%2Fpages.css");
    let missing = fetch(&escape, &[]).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
}

/// A page with a form, behind the page layers, on its own server.
async fn form_server(tls: bool, dir: &tempfile::TempDir) -> String {
    async fn form(CsrfToken(token): CsrfToken) -> String {
        format!("token={token}")
    }
    async fn submit(Form(fields): Form<HashMap<String, String>>) -> String {
        format!("got {}", fields.get("amount").map_or("", String::as_str))
    }
    let state = state(dir, tls).await;
    let page = Router::new().route("/payform/test", get(form).post(submit));
    serve(pages::with_page_layers(page, &state).with_state(state)).await
}

/// The form page's cookie (`name=value`), its full `Set-Cookie` and its token.
async fn open_form(base: &str) -> (String, String, String) {
    let resp = fetch(&format!("{base}/payform/test"), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    let set = resp.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    let cookie = set.split(';').next().unwrap().to_string();
    let body = resp.text().await.unwrap();
    let token = body.strip_prefix("token=").unwrap().to_string();
    (cookie, set, token)
}

/// The cookie flags every page cookie has, and `Secure` exactly when on TLS.
fn assert_flags(set: &str, tls: bool) {
    assert!(set.starts_with("aqsha_csrf="), "{set}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.split("; ").any(|f| f == flag), "{flag} missing: {set}");
    }
    assert_eq!(set.split("; ").any(|f| f == "Secure"), tls, "{set}");
}

#[tokio::test]
async fn a_form_post_needs_the_token_of_its_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let base = form_server(false, &dir).await;
    let (cookie, set, token) = open_form(&base).await;
    assert_flags(&set, false);

    let post = |cookie: Option<&str>, form: Vec<(&str, &str)>| {
        let mut req = client()
            .post(format!("{base}/payform/test"))
            .header(header::ACCEPT_LANGUAGE, "en")
            .form(&form);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        req.send()
    };
    // Refused: no cookie, no token, a wrong token, the token of another browser.
    let (other_cookie, _, other_token) = open_form(&base).await;
    for (c, form) in [
        (
            None,
            vec![("amount", "100"), ("csrf_token", token.as_str())],
        ),
        (Some(cookie.as_str()), vec![("amount", "100")]),
        (
            Some(cookie.as_str()),
            vec![("csrf_token", "AAAA"), ("amount", "100")],
        ),
        (
            Some(cookie.as_str()),
            vec![("csrf_token", other_token.as_str())],
        ),
        (
            Some(other_cookie.as_str()),
            vec![("csrf_token", token.as_str())],
        ),
    ] {
        let resp = post(c, form).await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert!(resp.text().await.unwrap().contains("This form has expired"));
    }
    // Accepted, and the handler reads the whole form after the check.
    let ok = post(
        Some(&cookie),
        vec![("csrf_token", token.as_str()), ("amount", "100")],
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.text().await.unwrap(), "got 100");
    // A scripted post sends the token as a header.
    let scripted = client()
        .post(format!("{base}/payform/test"))
        .header(header::COOKIE, &cookie)
        .header("x-csrf-token", &token)
        .form(&[("amount", "7")])
        .send()
        .await
        .unwrap();
    assert_eq!(scripted.text().await.unwrap(), "got 7");
    // A browser that has the cookie keeps it: no new one is set.
    let again = fetch(
        &format!("{base}/payform/test"),
        &[(header::COOKIE, &cookie)],
    )
    .await;
    assert!(again.headers().get(header::SET_COOKIE).is_none());
    assert_eq!(again.text().await.unwrap(), format!("token={token}"));
}

#[tokio::test]
async fn cookies_are_secure_when_the_server_is_on_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (_, set, _) = open_form(&form_server(true, &dir).await).await;
    assert_flags(&set, true);
}
