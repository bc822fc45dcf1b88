//! `/sandbox/demo`: an example merchant page served by Aqsha's sandbox (only with the sandbox
//! API on), so a person can make the seed's transfer in a browser (docs/payform.md, "Try
//! it"). It does what a merchant's server does: gets a transfer token for the seed's test
//! merchant (issued here directly, as the token endpoint would), and hands it to a page that
//! loads `/payform/payment-api.js` and calls `halyk.p2p(...)`. The page lists the test cards a
//! person can pay with: the 3-D Secure enrolled one (its payment goes through the sandbox
//! ACS's challenge and back), the seed's plain one, and a locked one.

use crate::pages::assets;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::AppState;
use aqsha_core::token::{self, TokenClaims};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use rand::Rng;

/// The seed's transfer (seed/p2p-transfers-seed.txt): 100 KZT on this terminal, to the saved
/// card of `testUser1`.
const SEED_CLIENT: &str = "test";
const SEED_TERMINAL: &str = "40a348cb-68a3-45d5-9002-a4836d79c3b5";
const SEED_ACCOUNT: &str = "testUser1";
const SEED_RECEIVER_CARD: &str = "fcf69516-f7e8-9b14-e053-1d1a000aef2f";

#[derive(Template)]
#[template(path = "sandbox_demo.html")]
struct DemoPage<'a> {
    lang: Lang,
    stylesheet: &'a str,
    api_script: &'a str,
    demo_script: &'a str,
    params_json: &'a str,
    /// The sandbox ACS's one-time code, for the enrolled test card the page lists.
    sandbox_code: &'static str,
}

/// `GET /sandbox/demo`.
pub async fn demo(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers);
    match demo_page(&app, &headers, lang).await {
        Ok(html) => html.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn demo_page(
    app: &AppState,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Html<String>, PageError> {
    let merchant = app
        .store
        .merchant_by_client_id(SEED_CLIENT)
        .await
        .map_err(|e| PageError::internal(lang, "demo: merchant read failed", e))?
        .ok_or_else(|| {
            PageError::not_found(lang).with_detail("the seed's test merchant is not installed")
        })?;
    let invoice = format!(
        "{:010}",
        rand::thread_rng().gen_range(1_000_000_000u64..10_000_000_000)
    );
    let amount = aqsha_core::money::Money::from_major(100);
    let claims = TokenClaims {
        id: token::new_id(),
        merchant_id: merchant.id,
        scope: "transfer".into(),
        invoice_id: Some(invoice.clone()),
        amount,
        currency: Some(aqsha_core::money::Currency::Kzt),
        terminal_id: Some(SEED_TERMINAL.into()),
        post_link: None,
        failure_post_link: None,
        secret_hash: None,
        account_id: Some(SEED_ACCOUNT.into()),
        login: None,
        expires_at: chrono::Utc::now() + chrono::Duration::seconds(app.token_ttl_secs),
    };
    let access_token = token::issue(&app.vault, &claims);
    let base = base_url(app, headers);
    let back = format!("{base}/sandbox/demo/back?invoice={invoice}");
    let language = ["rus", "kaz", "eng"][lang.index()];
    let params = serde_json::json!({
        "invoiceId": invoice, "amount": 100, "currency": "KZT", "terminal": SEED_TERMINAL,
        "accountId": SEED_ACCOUNT, "description": "Seed transfer (sandbox demo)",
        "language": language, "backLink": back,
        "failureBackLink": back, "receiverCardId": SEED_RECEIVER_CARD, "cardSave": false,
        "auth": {"access_token": access_token, "expires_in": app.token_ttl_secs.to_string(),
                 "scope": "transfer", "token_type": "Bearer"},
    });
    // Inside a <script> data block: escape `<` so no `</script>` can end it early.
    let params_json = params.to_string().replace('<', "\\u003c");
    let (stylesheet, demo_script) = (assets::url("pages.css"), assets::url("sandbox/demo.js"));
    let page = DemoPage {
        lang,
        stylesheet: &stylesheet,
        api_script: "/payform/payment-api.js",
        demo_script: &demo_script,
        params_json: &params_json,
        sandbox_code: aqsha_core::transfer::secure3d::SANDBOX_CODE,
    };
    page.render()
        .map(Html)
        .map_err(|e| PageError::internal(lang, "demo: template failed", e))
}

/// The scheme and `Host` this request came in on, so that the links work from a browser.
fn base_url(app: &crate::App, headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("{}://{host}", app.scheme())
}

#[derive(serde::Deserialize)]
pub struct Back {
    invoice: Option<String>,
    reference: Option<String>,
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
}

#[derive(Template)]
#[template(path = "sandbox_demo_back.html")]
struct BackPage<'a> {
    lang: Lang,
    stylesheet: &'a str,
    invoice: &'a str,
    reference: &'a str,
    error_code: &'a str,
    status: &'a str,
}

/// `GET /sandbox/demo/back`: the demo merchant's `backLink`: the reference it was given and
/// the invoice's status as the store has it.
pub async fn back(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Back>,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let invoice = q.invoice.unwrap_or_default();
    let status = match app.store.merchant_by_client_id(SEED_CLIENT).await {
        Ok(Some(m)) => match app.store.invoice_status(&m.id, &invoice).await {
            Ok(Some(op)) => op.status.as_str().to_string(),
            _ => "-".to_string(),
        },
        _ => "-".to_string(),
    };
    let stylesheet = assets::url("pages.css");
    let page = BackPage {
        lang,
        stylesheet: &stylesheet,
        invoice: &invoice,
        reference: q.reference.as_deref().unwrap_or(""),
        error_code: q.error_code.as_deref().unwrap_or(""),
        status: &status,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => PageError::internal(lang, "demo: template failed", e).into_response(),
    }
}
