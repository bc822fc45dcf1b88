//! The hosted form's handlers over a real socket, on the server's own router with the sandbox
//! seed (the browser tests in `crates/aqsha/tests/e2e/browser/` drive the same pages in
//! Chromium): what a bad link, a spent token, the widget and the merchant script answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::{header, StatusCode};
use common::{client, seeded_server};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

const TERMINAL: &str = "67e34d63-102f-4bd1-898e-370781d0074d";

/// `GET url` with this `Accept-Language`.
async fn get(url: &str, language: &str) -> reqwest::Response {
    let req = client().get(url).header(header::ACCEPT_LANGUAGE, language);
    req.send().await.unwrap()
}

/// A transfer token of the seed's merchant for invoice `invoice`, 100 KZT, on [`TERMINAL`].
async fn token(base: &str, invoice: &str) -> String {
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "transfer"),
        ("client_id", "test"),
        ("client_secret", "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG"),
        ("invoiceID", invoice),
        ("amount", "100"),
        ("currency", "KZT"),
        ("terminal", TERMINAL),
    ];
    let resp = client()
        .post(format!("{base}/oauth2/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: serde_json::Value = resp.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

/// What `payment-api.js` puts in the page's URL for these params and this token:
/// `LZString.compressToEncodedURIComponent(encodeParams(params))`.
fn params(invoice: &str, token: &str, language: &str) -> String {
    let encode = |pairs: &[(&str, &str)]| {
        let enc = |v: &str| utf8_percent_encode(v, NON_ALPHANUMERIC).to_string();
        let joined: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect();
        joined.join("&")
    };
    let auth = encode(&[("access_token", token), ("token_type", "Bearer")]);
    let text = encode(&[
        ("invoiceId", invoice),
        ("amount", "100"),
        ("currency", "KZT"),
        ("terminal", TERMINAL),
        ("auth", &auth),
        ("backLink", "https://shop.example:8443/ok"),
        ("language", language),
    ]);
    lz_str::compress_to_encoded_uri_component(&text)
}

fn html_page(resp: &reqwest::Response) {
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
}

#[tokio::test]
async fn bad_params_are_a_400_page_in_the_browsers_language() {
    let dir = tempfile::tempdir().unwrap();
    let base = seeded_server(&dir).await;
    let missing_auth = lz_str::compress_to_encoded_uri_component("invoiceId=1&amount=100");
    for (query, language, text) in [
        (
            "params=not-lz-string&isTransfer=true",
            "kk",
            "Төлем сілтемесі бүлінген",
        ),
        (
            "isTransfer=true",
            "en-GB,en;q=0.9",
            "This payment link is damaged",
        ),
        (
            &format!("params={missing_auth}"),
            "ru",
            "Ссылка на оплату повреждена",
        ),
    ] {
        let resp = get(&format!("{base}/payform/?{query}"), language).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{query}");
        html_page(&resp);
        let body = resp.text().await.unwrap();
        assert!(body.contains(text), "{query}: {body}");
        assert!(
            !body.contains("panicked") && !body.contains("Error("),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_spent_token_is_the_clear_used_page_in_the_orders_language() {
    let dir = tempfile::tempdir().unwrap();
    let base = seeded_server(&dir).await;
    let invoice = "700000101";
    let token = token(&base, invoice).await;
    let url = format!(
        "{base}/payform/?params={}&isTransfer=true",
        params(invoice, &token, "eng")
    );
    // Before: the form.
    let form = get(&url, "ru").await;
    assert_eq!(form.status(), StatusCode::OK);
    assert!(form
        .text()
        .await
        .unwrap()
        .contains("name=\"sender.cardCred\""));
    // The token spent by an API transfer (declined: no such card), then the page again.
    let body = serde_json::json!({
        "order": {"id": invoice, "amount": 100, "currency": "KZT", "terminalId": TERMINAL},
        "card": {
            "sender": {"transferType": "TYPEPAN", "cardCred": "4000000000000002", "cvc": "123",
                       "expire": {"month": "12", "year": "30"}},
            "receiver": {"transferType": "TYPEPAN", "cardCred": "5522042705066736"}
        }
    });
    let spent = client()
        .post(format!("{base}/payments/cards/auth"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(spent.status().is_client_error(), "{}", spent.status());
    let resp = get(&url, "ru").await;
    assert_eq!(resp.status(), StatusCode::GONE);
    html_page(&resp);
    let text = resp.text().await.unwrap();
    // In the order's language, not the browser's.
    assert!(
        text.contains("This payment link has already been used."),
        "{text}"
    );
    assert!(!text.contains("sender.cardCred") && !text.contains(&token));
}

#[tokio::test]
async fn only_the_widget_may_be_framed_and_only_by_the_merchants_origin() {
    let dir = tempfile::tempdir().unwrap();
    let base = seeded_server(&dir).await;
    let invoice = "700000102";
    let p = params(invoice, &token(&base, invoice).await, "eng");
    let csp = |resp: &reqwest::Response| {
        let h = resp.headers();
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        csp.to_string()
    };
    let page = get(&format!("{base}/payform/?params={p}&isTransfer=true"), "en").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(csp(&page).contains("frame-ancestors 'none';"));
    let widget = format!("{base}/payform/?params={p}&isTransfer=true&isShortForm=true");
    let widget = get(&widget, "en").await;
    assert_eq!(widget.status(), StatusCode::OK);
    assert!(csp(&widget).contains("frame-ancestors https://shop.example:8443;"));
    let form = widget.text().await.unwrap();
    assert!(form.contains("action=\"/payform/widget\""), "{form}");
}

#[tokio::test]
async fn payment_api_js_is_javascript_with_lz_strings_licence() {
    let dir = tempfile::tempdir().unwrap();
    let base = seeded_server(&dir).await;
    let resp = get(&format!("{base}/payform/payment-api.js"), "en").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let script = resp.text().await.unwrap();
    let notice = "Copyright (c) 2013 pieroxy";
    let licence = script.find(notice).expect("lz-string's copyright notice");
    assert!(script[licence..].contains("Permission is hereby granted, free of charge"));
    // The notice comes before the library it covers, then Aqsha's script.
    let library = script.find("var LZString=").unwrap();
    assert!(licence < library && library < script.find("halyk").unwrap());
    // Revalidated by its ETag.
    let again = client()
        .get(format!("{base}/payform/payment-api.js"))
        .header(header::IF_NONE_MATCH, h[header::ETAG].to_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}
