//! `GET /cabinet/credentials` (issue 16, item 7): the merchant's `client_id`, its callback
//! signing secret and terminals, and the rotation of its `client_secret` and callback secret
//! through [`crate::ops::credentials`], as `aqsha merchant rotate-secret` and
//! `rotate-callback-secret` do. A new secret is in the answer to the post only, once: the
//! client secret is kept as a hash, and neither goes into a URL.

use super::kit::{post_token, Outcome, L};
use super::session::CabinetMerchant;
use super::{render, Layout};
use crate::ops::credentials;
use crate::pages::assets;
use crate::pages::csrf::CsrfToken;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;

#[derive(Template)]
#[template(path = "cabinet_credentials.html")]
struct CredentialsPage {
    lang: Lang,
    stylesheet: String,
    layout: Layout,
    l: L,
    outcome: Outcome,
    client_id: String,
    callback_secret: String,
    terminals: Vec<String>,
    /// A secret just made: (which, value), shown once.
    new_secret: Option<(&'static str, String)>,
}

async fn load(
    app: &AppState,
    m: &CabinetMerchant,
    csrf: &str,
    outcome: Outcome,
    new_secret: Option<(&'static str, String)>,
) -> Result<Html<String>, PageError> {
    let lang = m.lang;
    let fail = |e| PageError::internal(lang, "reading credentials failed", e);
    let merchant = app
        .store
        .merchant_by_id(&m.merchant_id)
        .await
        .map_err(fail)?
        .ok_or(PageError::not_found(lang))?;
    let callback_secret = app
        .store
        .callback_secret(&m.merchant_id)
        .await
        .map_err(fail)?
        .unwrap_or_default();
    let terminals = app
        .store
        .merchant_terminals(&m.merchant_id)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|t| t.terminal.id)
        .collect();
    let page = CredentialsPage {
        lang,
        stylesheet: assets::url("pages.css"),
        layout: Layout::new(m, csrf, "/cabinet/credentials", "/cabinet/credentials"),
        l: L(lang),
        outcome,
        client_id: merchant.client_id,
        callback_secret,
        terminals,
        new_secret,
    };
    render(&page, lang)
}

/// `GET /cabinet/credentials`.
pub async fn page(
    State(app): State<AppState>,
    m: CabinetMerchant,
    csrf: CsrfToken,
) -> Result<Html<String>, PageError> {
    load(&app, &m, &csrf.0, Outcome::default(), None).await
}

/// Which secret a rotation replaces.
#[derive(Clone, Copy)]
enum Which {
    Client,
    Callback,
}

async fn rotate(
    app: AppState,
    m: CabinetMerchant,
    headers: HeaderMap,
    which: Which,
) -> Result<Html<String>, PageError> {
    let lang = m.lang;
    let fail = |e| PageError::internal(lang, "rotating a secret failed", e);
    let client_id = app
        .store
        .merchant_by_id(&m.merchant_id)
        .await
        .map_err(fail)?
        .ok_or(PageError::not_found(lang))?
        .client_id;
    let store = app.store.as_ref();
    let made = match which {
        Which::Client => credentials::rotate_client_secret(store, &client_id).await,
        Which::Callback => credentials::rotate_callback_secret(store, &client_id).await,
    }
    .map_err(fail)?
    .ok_or(PageError::not_found(lang))?;
    let l = L(lang);
    let (name, text) = match which {
        Which::Client => (
            "client_secret",
            l.t(
                "Новый client_secret ниже показан один раз. Старый больше не принимается.",
                "Жаңа client_secret төменде бір рет көрсетіледі. Ескісі енді қабылданбайды.",
                "The new client_secret is shown below once. The old one is refused from now on.",
            ),
        ),
        Which::Callback => (
            "callback secret",
            l.t(
                "Уведомления теперь подписываются новым ключом.",
                "Хабарламалар енді жаңа кілтпен қол қойылады.",
                "Callbacks are signed with the new secret from now on.",
            ),
        ),
    };
    let token = post_token(&app, &headers);
    load(&app, &m, &token, Outcome::done(text), Some((name, made))).await
}

/// `POST /cabinet/credentials/client-secret`.
pub async fn rotate_client(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
) -> Result<Html<String>, PageError> {
    rotate(app, m, headers, Which::Client).await
}

/// `POST /cabinet/credentials/callback-secret`.
pub async fn rotate_callback(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
) -> Result<Html<String>, PageError> {
    rotate(app, m, headers, Which::Callback).await
}
