//! The merchant's own set-up (issue 16, items 5–7): saved cards by customer with
//! deactivation, terminals with their fee schedule and limits, and credentials with rotation.
//! Each action calls what the API or the admin commands call: the store's card deactivation
//! (`POST /card/deactivate/{id}`), [`crate::ops::limits`] (`PUT /sandbox/terminals/{id}/limits`),
//! [`crate::ops::sandbox::add_terminal`], [`crate::ops::credentials`] (`aqsha merchant
//! rotate-secret`). Every read and change is scoped by the session's merchant.

use super::format;
use super::kit::{post_token, Outcome, L};
use super::session::CabinetMerchant;
use super::{render, Layout};
use crate::error::EpayError;
use crate::ops::limits::LimitsInput;
use crate::pages::assets;
use crate::pages::csrf::CsrfToken;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::AppState;
use aqsha_core::limits::LimitSettings;
use aqsha_core::money::Money;
use aqsha_wire::WireAmount;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Html;
use axum::Form;
use serde::Deserialize;

/// Most saved cards the page lists.
const CARDS_SHOWN: usize = 1000;

pub struct CardRow {
    pub id: String,
    pub account: String,
    pub mask: String,
    pub brand: &'static str,
    pub payer: String,
    pub created: String,
    pub terminal: String,
}

#[derive(Template)]
#[template(path = "cabinet_cards.html")]
struct CardsPage {
    lang: Lang,
    stylesheet: String,
    layout: Layout,
    l: L,
    outcome: Outcome,
    cards: Vec<CardRow>,
}

fn internal(lang: Lang, what: &'static str) -> impl Fn(aqsha_core::store::StoreError) -> PageError {
    move |e| PageError::internal(lang, what, e)
}

async fn cards_page(
    app: &AppState,
    m: &CabinetMerchant,
    csrf: &str,
    outcome: Outcome,
) -> Result<Html<String>, PageError> {
    let lang = m.lang;
    let cards = app
        .store
        .merchant_saved_cards(&m.merchant_id, CARDS_SHOWN)
        .await
        .map_err(internal(lang, "listing saved cards failed"))?;
    let page = CardsPage {
        lang,
        stylesheet: assets::url("pages.css"),
        layout: Layout::new(m, csrf, "/cabinet/cards", "/cabinet/cards"),
        l: L(lang),
        outcome,
        cards: cards
            .into_iter()
            .map(|c| CardRow {
                id: c.id,
                account: c.account_id,
                mask: c.mask,
                brand: c.brand.name(),
                payer: c.payer_name,
                created: format::time(c.created_at, m.zone, lang),
                terminal: c.terminal_id.chars().take(8).collect(),
            })
            .collect(),
    };
    render(&page, lang)
}

/// `GET /cabinet/cards`.
pub async fn cards(
    State(app): State<AppState>,
    m: CabinetMerchant,
    csrf: CsrfToken,
) -> Result<Html<String>, PageError> {
    cards_page(&app, &m, &csrf.0, Outcome::default()).await
}

/// `POST /cabinet/cards/{id}/deactivate`: the API's deactivation, for this merchant's card.
pub async fn deactivate(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
    Path(card_id): Path<String>,
) -> Result<Html<String>, PageError> {
    let lang = m.lang;
    let done = app
        .store
        .deactivate_card(&m.merchant_id, &card_id, None)
        .await
        .map_err(internal(lang, "deactivating a card failed"))?;
    if !done {
        return Err(PageError::not_found(lang));
    }
    let l = L(lang);
    let text = l.t(
        "Карта отключена: оплатить ею больше нельзя.",
        "Карта өшірілді: онымен енді төлеуге болмайды.",
        "Card deactivated: it can no longer pay.",
    );
    cards_page(&app, &m, &post_token(&app, &headers), Outcome::done(text)).await
}

pub struct TerminalRow {
    pub id: String,
    pub number: String,
    pub currency: &'static str,
    pub fee: String,
    pub saved_cards: u64,
    pub limits: [(&'static str, String, String); 5],
}

#[derive(Template)]
#[template(path = "cabinet_terminals.html")]
struct TerminalsPage {
    lang: Lang,
    stylesheet: String,
    layout: Layout,
    l: L,
    outcome: Outcome,
    terminals: Vec<TerminalRow>,
}

fn money_field(m: Option<Money>) -> String {
    m.map(|m| m.to_string()).unwrap_or_default()
}

fn limit_row(s: &LimitSettings, lang: Lang) -> [(&'static str, String, String); 5] {
    let e = s.effective();
    let tenge = |m: Money| format::tenge(m.minor(), lang);
    [
        (
            "per_transfer",
            tenge(e.per_transfer),
            money_field(s.per_transfer),
        ),
        (
            "sender_daily_transfers",
            e.sender_daily_transfers.to_string(),
            s.sender_daily_transfers
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
        (
            "receiver_daily",
            tenge(e.receiver_daily),
            money_field(s.receiver_daily),
        ),
        (
            "terminal_daily",
            tenge(e.terminal_daily),
            money_field(s.terminal_daily),
        ),
        (
            "terminal_total",
            tenge(e.terminal_total),
            money_field(s.terminal_total),
        ),
    ]
}

async fn terminals_page(
    app: &AppState,
    m: &CabinetMerchant,
    csrf: &str,
    outcome: Outcome,
) -> Result<Html<String>, PageError> {
    let lang = m.lang;
    let fail = internal(lang, "listing terminals failed");
    let list = app
        .store
        .merchant_terminals(&m.merchant_id)
        .await
        .map_err(&fail)?;
    let mut terminals = Vec::new();
    for v in list {
        let t = v.terminal;
        let settings = app
            .store
            .limit_settings(&m.merchant_id, &t.id)
            .await
            .map_err(&fail)?
            .unwrap_or_default();
        let bps = t.fee.percent_bps;
        terminals.push(TerminalRow {
            fee: format!(
                "{}.{:02} %, min {}",
                bps / 100,
                bps % 100,
                format::tenge(t.fee.min_fee.minor(), lang)
            ),
            limits: limit_row(&settings, lang),
            number: t.number,
            currency: t.currency.code(),
            saved_cards: v.saved_cards,
            id: t.id,
        });
    }
    let page = TerminalsPage {
        lang,
        stylesheet: assets::url("pages.css"),
        layout: Layout::new(m, csrf, "/cabinet/terminals", "/cabinet/terminals"),
        l: L(lang),
        outcome,
        terminals,
    };
    render(&page, lang)
}

/// `GET /cabinet/terminals`.
pub async fn terminals(
    State(app): State<AppState>,
    m: CabinetMerchant,
    csrf: CsrfToken,
) -> Result<Html<String>, PageError> {
    terminals_page(&app, &m, &csrf.0, Outcome::default()).await
}

#[derive(Deserialize)]
pub struct NewTerminalForm {
    #[serde(default)]
    currency: String,
}

/// `POST /cabinet/terminals`: a new terminal on the default fee schedule.
pub async fn add_terminal(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
    Form(form): Form<NewTerminalForm>,
) -> Result<Html<String>, PageError> {
    let lang = m.lang;
    let added = async {
        let currency = crate::ops::sandbox::currency(Some(form.currency.as_str()))?;
        crate::ops::sandbox::add_terminal(&app, &m.merchant_id, currency).await
    }
    .await;
    let outcome = match added {
        Ok(id) => Outcome::done(&format!(
            "{}: {id}",
            L(lang).t("Терминал добавлен", "Терминал қосылды", "Terminal added")
        )),
        Err(e) => Outcome::refused(lang, &e),
    };
    terminals_page(&app, &m, &post_token(&app, &headers), outcome).await
}

/// The limits form: each field empty for the default.
#[derive(Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    per_transfer: String,
    #[serde(default)]
    sender_daily_transfers: String,
    #[serde(default)]
    receiver_daily: String,
    #[serde(default)]
    terminal_daily: String,
    #[serde(default)]
    terminal_total: String,
}

fn limits_input(f: &LimitsForm) -> Result<LimitsInput, EpayError> {
    let amount = |s: &str| {
        let s = s.trim().replace(',', ".");
        (!s.is_empty()).then(|| WireAmount::new(s))
    };
    let count = f.sender_daily_transfers.trim();
    Ok(LimitsInput {
        per_transfer: amount(&f.per_transfer),
        sender_daily_transfers: if count.is_empty() {
            None
        } else {
            Some(
                count.parse().map_err(|_| {
                    EpayError::input("sender_daily_transfers must be a whole number")
                })?,
            )
        },
        receiver_daily: amount(&f.receiver_daily),
        terminal_daily: amount(&f.terminal_daily),
        terminal_total: amount(&f.terminal_total),
    })
}

/// `POST /cabinet/terminals/{id}/limits`: replaces the terminal's limits, as the sandbox
/// API's `PUT` does (an empty field goes back to its default).
pub async fn set_limits(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
    Path(terminal_id): Path<String>,
    Form(form): Form<LimitsForm>,
) -> Result<Html<String>, PageError> {
    let lang = m.lang;
    let settings = limits_input(&form).and_then(|i| crate::ops::limits::settings(&i));
    let outcome = match settings {
        Ok(s) => {
            let found = app
                .store
                .set_limit_settings(&m.merchant_id, &terminal_id, s)
                .await
                .map_err(internal(lang, "changing limits failed"))?;
            if !found {
                return Err(PageError::not_found(lang));
            }
            Outcome::done(L(lang).t("Лимиты сохранены.", "Лимиттер сақталды.", "Limits saved."))
        }
        Err(e) => Outcome::refused(lang, &e),
    };
    terminals_page(&app, &m, &post_token(&app, &headers), outcome).await
}
