//! `GET /cabinet/sandbox` (issue 16, item 8), only when the sandbox API is on (a 404
//! otherwise, and no link): the merchant's network cards with issue (scenario outcome, 3-D
//! Secure enrolment), top-up and lock/unlock of its own cards; the phone directory with
//! adding a phone; the settlement balances and their funding. Every action is the sandbox API's own, from [`crate::ops::sandbox`].
//! An issued card's full number is shown once, in the answer to the post.

use super::kit::{post_token, Outcome, L};
use super::session::CabinetMerchant;
use super::{format, render, Layout};
use crate::error::EpayError;
use crate::ops::sandbox;
use crate::pages::assets;
use crate::pages::csrf::CsrfToken;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Html;
use axum::Form;
use serde::Deserialize;

pub struct CardRow {
    pub id: String,
    pub mask: String,
    pub brand: &'static str,
    pub balance: String,
    pub currency: &'static str,
    pub expiry: String,
    pub locked: bool,
    pub scenario: String,
    pub secure3d: bool,
    /// Issued by this merchant: only these take a top-up or a lock (the public test cards
    /// are everyone's, and the API answers 404 for them).
    pub own: bool,
}

#[derive(Template)]
#[template(path = "cabinet_sandbox.html")]
struct SandboxPage {
    lang: Lang,
    stylesheet: String,
    layout: Layout,
    l: L,
    outcome: Outcome,
    issued: Option<(String, String)>,
    cards: Vec<CardRow>,
    phones: Vec<aqsha_core::store::PhoneView>,
    balances: Vec<(&'static str, String)>,
}

async fn load(
    app: &AppState,
    m: &CabinetMerchant,
    csrf: &str,
    outcome: Outcome,
    issued: Option<(String, String)>,
) -> Result<Html<String>, PageError> {
    let lang = m.lang;
    if !m.sandbox {
        return Err(PageError::not_found(lang));
    }
    let fail = |e| PageError::internal(lang, "reading the sandbox failed", e);
    // The public test cards (documented for everyone) and the merchant's own.
    let own = app
        .store
        .sandbox_cards(&m.merchant_id)
        .await
        .map_err(fail)?;
    let phones = app.store.phones(&m.merchant_id).await.map_err(fail)?;
    let balances = app
        .store
        .settlement_balances(&m.merchant_id)
        .await
        .map_err(fail)?;
    let page = SandboxPage {
        lang,
        stylesheet: assets::url("pages.css"),
        layout: Layout::new(m, csrf, "/cabinet/sandbox", "/cabinet/sandbox"),
        l: L(lang),
        outcome,
        issued,
        cards: own
            .into_iter()
            .map(|c| CardRow {
                scenario: crate::routes::scenario::view(&c.scenario)
                    .and_then(|v| serde_json::to_string(&v).ok())
                    .unwrap_or_default(),
                balance: format::tenge(c.balance.minor(), lang),
                brand: c.brand.name(),
                currency: c.currency.code(),
                expiry: format!("{:02}/{:02}", c.expiry.month, c.expiry.year),
                locked: c.locked,
                secure3d: c.secure3d,
                own: !c.public,
                mask: c.mask,
                id: c.id,
            })
            .collect(),
        phones,
        balances: balances
            .into_iter()
            .map(|(c, b)| (c.code(), format::tenge(b.minor(), lang)))
            .collect(),
    };
    render(&page, lang)
}

/// `GET /cabinet/sandbox`.
pub async fn page(
    State(app): State<AppState>,
    m: CabinetMerchant,
    csrf: CsrfToken,
) -> Result<Html<String>, PageError> {
    load(&app, &m, &csrf.0, Outcome::default(), None).await
}

/// After an action: the page again with what it did.
async fn answer(
    app: &AppState,
    m: &CabinetMerchant,
    headers: &HeaderMap,
    done: Result<String, EpayError>,
    issued: Option<(String, String)>,
) -> Result<Html<String>, PageError> {
    if !m.sandbox {
        return Err(PageError::not_found(m.lang));
    }
    let outcome = match done {
        Ok(text) => Outcome::done(&text),
        Err(e) => Outcome::refused(m.lang, &e),
    };
    load(app, m, &post_token(app, headers), outcome, issued).await
}

#[derive(Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    pan: String,
    expire: String,
    cvc: String,
    #[serde(default)]
    balance: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    secure3d: Option<String>,
}

/// `POST /cabinet/sandbox/cards`: [`sandbox::issue`] with the form's terms.
pub async fn issue(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
    Form(f): Form<IssueForm>,
) -> Result<Html<String>, PageError> {
    if !m.sandbox {
        return Err(PageError::not_found(m.lang));
    }
    let l = L(m.lang);
    let outcome = match f.outcome.trim() {
        "" => Ok(None),
        o => o
            .parse::<u32>()
            .map(Some)
            .map_err(|_| EpayError::input("outcome must be a reason code")),
    };
    let issued = match outcome {
        Ok(outcome) => {
            let req = sandbox::IssueCard {
                pan: Some(f.pan.trim().to_string()).filter(|p| !p.is_empty()),
                expire: f.expire.trim().to_string(),
                cvc: f.cvc.trim().to_string(),
                balance: Some(f.balance.trim().replace(',', "."))
                    .filter(|b| !b.is_empty())
                    .map(aqsha_wire::WireAmount::new),
                locked: false,
                currency: Some(f.currency.clone()).filter(|c| !c.is_empty()),
                scenario: crate::routes::scenario::ScenarioFields::outcome(outcome),
                secure3d: f.secure3d.is_some(),
            };
            sandbox::issue(&app, &m.merchant_id, req).await
        }
        Err(e) => Err(e),
    };
    match issued {
        Ok((view, pan)) => {
            let text = l.t("Карта выпущена", "Карта шығарылды", "Card issued");
            let shown = Some((view.mask.clone(), pan));
            answer(
                &app,
                &m,
                &headers,
                Ok(format!("{text}: {}", view.id)),
                shown,
            )
            .await
        }
        Err(e) => answer(&app, &m, &headers, Err(e), None).await,
    }
}

#[derive(Deserialize)]
pub struct AmountForm {
    amount: String,
    #[serde(default)]
    currency: String,
}

/// `POST /cabinet/sandbox/cards/{id}/topup`.
pub async fn top_up(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
    Path(card_id): Path<String>,
    Form(f): Form<AmountForm>,
) -> Result<Html<String>, PageError> {
    if !m.sandbox {
        return Err(PageError::not_found(m.lang));
    }
    let amount = f.amount.trim().replace(',', ".");
    let done = sandbox::top_up(&app, &m.merchant_id, &card_id, &amount).await;
    if done
        .as_ref()
        .is_err_and(|e| e.status == axum::http::StatusCode::NOT_FOUND)
    {
        return Err(PageError::not_found(m.lang));
    }
    let l = L(m.lang);
    let done = done.map(|b| {
        let text = l.t("Баланс карты", "Карта балансы", "Card balance");
        format!("{text}: {}", format::tenge(b.minor(), m.lang))
    });
    answer(&app, &m, &headers, done, None).await
}

#[derive(Deserialize)]
pub struct LockForm {
    locked: String,
}

/// `POST /cabinet/sandbox/cards/{id}/lock` with `locked=true|false`.
pub async fn lock(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
    Path(card_id): Path<String>,
    Form(f): Form<LockForm>,
) -> Result<Html<String>, PageError> {
    if !m.sandbox {
        return Err(PageError::not_found(m.lang));
    }
    let locked = f.locked == "true";
    if sandbox::set_locked(&app, &m.merchant_id, &card_id, locked)
        .await
        .is_err()
    {
        return Err(PageError::not_found(m.lang));
    }
    let l = L(m.lang);
    let text = if locked {
        l.t("Карта заблокирована.", "Карта бұғатталды.", "Card locked.")
    } else {
        l.t(
            "Карта разблокирована.",
            "Карта бұғаттан шықты.",
            "Card unlocked.",
        )
    };
    answer(&app, &m, &headers, Ok(text.into()), None).await
}

/// `POST /cabinet/sandbox/fund`: money into the settlement account.
pub async fn fund(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
    Form(f): Form<AmountForm>,
) -> Result<Html<String>, PageError> {
    if !m.sandbox {
        return Err(PageError::not_found(m.lang));
    }
    let amount = f.amount.trim().replace(',', ".");
    let done = async {
        let currency = sandbox::currency(Some(f.currency.as_str()).filter(|c| !c.is_empty()))?;
        sandbox::fund(&app, &m.merchant_id, currency, &amount).await
    }
    .await;
    let l = L(m.lang);
    let done = done.map(|b| {
        let text = l.t("Расчётный счёт", "Есеп айырысу шоты", "Settlement account");
        format!("{text}: {}", format::tenge(b.minor(), m.lang))
    });
    answer(&app, &m, &headers, done, None).await
}

#[derive(Deserialize)]
pub struct PhoneForm {
    phone: String,
    iin: String,
    card: String,
}

/// `POST /cabinet/sandbox/phones`: [`sandbox::add_phone`], as `POST /sandbox/phones`.
pub async fn add_phone(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
    Form(f): Form<PhoneForm>,
) -> Result<Html<String>, PageError> {
    if !m.sandbox {
        return Err(PageError::not_found(m.lang));
    }
    let added = sandbox::add_phone(
        &app,
        &m.merchant_id,
        f.phone.trim(),
        f.iin.trim(),
        f.card.trim().to_string(),
    )
    .await;
    let l = L(m.lang);
    let done = added.map(|mask| {
        let text = l.t("Телефон добавлен", "Телефон қосылды", "Phone added");
        format!("{text}: {mask}")
    });
    answer(&app, &m, &headers, done, None).await
}
