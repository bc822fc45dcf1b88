//! The sandbox API: look inside Aqsha's built-in card network. Authenticated with the merchant's
//! client credentials over HTTP Basic (`client_id:client_secret`).
//!
//! - `GET /sandbox/cards` — every card of the network: mask, brand, lock status, balance.
//! - `POST /sandbox/cards` — issue a new test card (optionally expired or locked).
//! - `GET /sandbox/ledger` — check the double-entry ledger.

use crate::auth::{basic_credentials, check_client};
use crate::error::EpayError;
use crate::routes::read_body;
use crate::AppState;
use aqsha_core::card::{Cvc, Expiry, Pan};
use aqsha_core::money::{Currency, Money};
use aqsha_core::sandbox::{network_card, CardTerms, PreparedSeed};
use aqsha_core::store::{LedgerReport, MerchantRecord, SandboxCardView};
use aqsha_wire::codes::reason;
use aqsha_wire::WireAmount;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde::{Deserialize, Serialize};

async fn merchant(state: &AppState, headers: &HeaderMap) -> Result<MerchantRecord, Response> {
    let denied = || {
        let mut r = EpayError::new(
            StatusCode::UNAUTHORIZED,
            reason::NOT_PERMITTED_TO_MERCHANT,
            "sandbox API needs HTTP Basic client_id:client_secret",
        )
        .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"aqsha-sandbox\""),
        );
        r
    };
    let (id, secret) = basic_credentials(headers).ok_or_else(denied)?;
    check_client(state, &id, &secret)
        .await
        .map_err(|e| EpayError::internal("sandbox auth failed", e).into_response())?
        .filter(|m| !m.disabled)
        .ok_or_else(denied)
}

#[derive(Serialize)]
pub struct CardView {
    id: String,
    mask: String,
    brand: String,
    /// `unlock` or `lock`, the seed's words.
    status: String,
    balance: WireAmount,
    currency: String,
    expire: String,
}

impl From<SandboxCardView> for CardView {
    fn from(c: SandboxCardView) -> CardView {
        CardView {
            id: c.id,
            mask: c.mask,
            brand: c.brand.name().into(),
            status: if c.locked { "lock" } else { "unlock" }.into(),
            balance: WireAmount::new(c.balance.to_string()),
            currency: c.currency.code().into(),
            expire: format!("{:02}/{:02}", c.expiry.month, c.expiry.year),
        }
    }
}

pub async fn list_cards(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = merchant(&state, &headers).await {
        return r;
    }
    match state.store.sandbox_cards().await {
        Ok(cards) => {
            Json(cards.into_iter().map(CardView::from).collect::<Vec<_>>()).into_response()
        }
        Err(e) => EpayError::internal("sandbox card list failed", e).into_response(),
    }
}

pub async fn ledger(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = merchant(&state, &headers).await {
        return r;
    }
    match state.store.ledger_report().await {
        Ok(report) => Json::<LedgerReport>(report).into_response(),
        Err(e) => EpayError::internal("ledger check failed", e).into_response(),
    }
}

#[derive(Deserialize)]
struct IssueCard {
    /// A card number to issue; a random Luhn-valid VISA number when absent.
    pan: Option<String>,
    /// `MM/YY`.
    expire: String,
    cvc: String,
    #[serde(default)]
    balance: Option<WireAmount>,
    #[serde(default)]
    locked: bool,
    #[serde(default)]
    currency: Option<String>,
}

#[derive(Serialize)]
struct IssuedCard {
    #[serde(flatten)]
    view: CardView,
    /// The full number, returned once to the caller who asked for this test card.
    pan: String,
}

fn random_visa() -> String {
    let mut rng = rand::thread_rng();
    let mut digits: Vec<u8> = vec![4, 0, 0, 0];
    digits.extend((0..11).map(|_| rng.gen_range(0..10u8)));
    // Choose the check digit that makes the Luhn sum a multiple of ten.
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    digits.push(((10 - sum % 10) % 10) as u8);
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

pub async fn issue_card(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if let Err(r) = merchant(&state, &headers).await {
        return r;
    }
    let result = async {
        let body = read_body(body).await?;
        let req: IssueCard = serde_json::from_slice(&body)
            .map_err(|e| EpayError::input(format!("card request: {e}")))?;
        let pan_text = req.pan.unwrap_or_else(random_visa);
        let pan = Pan::parse(&pan_text).map_err(|e| EpayError::input(format!("pan {e}")))?;
        if !pan.luhn_ok() {
            return Err(EpayError::input("pan fails the Luhn check"));
        }
        let (m, y) = req
            .expire
            .split_once('/')
            .ok_or_else(|| EpayError::input("expire must be MM/YY"))?;
        let expiry = Expiry::parse(m, y).ok_or_else(|| EpayError::input("expire must be MM/YY"))?;
        let cvc = Cvc::parse(&req.cvc).map_err(|e| EpayError::input(format!("cvc {e}")))?;
        let balance = match req.balance {
            None => Money::ZERO,
            Some(b) if b.as_str() == "0" => Money::ZERO,
            Some(b) => Money::parse_positive(b.as_str())
                .map_err(|e| EpayError::input(format!("balance: {e}")))?,
        };
        let currency = match req.currency {
            None => Currency::Kzt,
            Some(c) => Currency::parse(&c)
                .ok_or_else(|| EpayError::input("currency must be KZT or USD"))?,
        };
        let terms = CardTerms {
            expiry,
            locked: req.locked,
            // A card issued through the API is an ordinary card: it expires.
            enforce_expiry: true,
            balance,
            currency,
        };
        let card = network_card(&state.vault, &pan, &cvc, terms);
        let view = SandboxCardView {
            id: card.card.id.clone(),
            mask: card.card.mask.clone(),
            brand: card.card.brand,
            locked: req.locked,
            balance,
            currency,
            expiry,
        };
        let seed = PreparedSeed {
            cards: vec![card],
            ..Default::default()
        };
        state.store.install(seed).await.map_err(|e| {
            // SQLite and PostgreSQL word a unique-key violation differently.
            let text = e.to_string();
            if text.contains("UNIQUE") || text.contains("duplicate key") {
                EpayError::input("a card with this number already exists in the sandbox")
            } else {
                EpayError::internal("issuing a sandbox card failed", e)
            }
        })?;
        Ok::<_, EpayError>(
            (
                StatusCode::CREATED,
                Json(IssuedCard {
                    view: view.into(),
                    pan: pan_text,
                }),
            )
                .into_response(),
        )
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize, Default)]
struct NewTerminal {
    #[serde(default)]
    currency: Option<String>,
}

/// `POST /sandbox/terminals`: a new terminal for the calling merchant, on the default fee
/// schedule. Load tests use fresh terminals so their invoice numbers never meet earlier runs'.
pub async fn add_terminal(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let m = match merchant(&state, &headers).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let result = async {
        let body = read_body(body).await?;
        let req: NewTerminal = if body.is_empty() {
            NewTerminal::default()
        } else {
            serde_json::from_slice(&body)
                .map_err(|e| EpayError::input(format!("terminal request: {e}")))?
        };
        let currency = match req.currency {
            None => Currency::Kzt,
            Some(c) => Currency::parse(&c)
                .ok_or_else(|| EpayError::input("currency must be KZT or USD"))?,
        };
        let terminal = aqsha_core::store::TerminalRecord {
            id: aqsha_core::sandbox::random_uuid(),
            merchant_id: m.id.clone(),
            currency,
            fee: aqsha_core::fee::FeeSchedule::DEFAULT,
            fee_account: aqsha_core::sandbox::fee_account(&m.id),
        };
        let id = terminal.id.clone();
        let seed = PreparedSeed {
            terminals: vec![terminal],
            ..Default::default()
        };
        state
            .store
            .install(seed)
            .await
            .map_err(|e| EpayError::internal("adding a terminal failed", e))?;
        Ok::<_, EpayError>(
            (
                StatusCode::CREATED,
                Json(serde_json::json!({"id": id, "currency": currency.code()})),
            )
                .into_response(),
        )
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

pub async fn ready(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(request = %crate::request_id(), error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    #[serde(rename = "invoiceId")]
    invoice_id: Option<String>,
}

/// `GET /sandbox/callbacks?invoiceId=…`: the merchant's callback events and every attempt.
pub async fn callbacks(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<CallbackQuery>,
) -> Response {
    let m = match merchant(&state, &headers).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    match state.store.callbacks(&m.id, q.invoice_id.as_deref()).await {
        Ok(views) => Json(
            views
                .into_iter()
                .map(|v| {
                    let body: serde_json::Value =
                        serde_json::from_str(&v.event.body).unwrap_or(serde_json::Value::Null);
                    serde_json::json!({
                        "id": v.event.id,
                        "invoiceId": v.event.invoice_id,
                        "operationId": v.event.operation_id,
                        "url": v.event.url,
                        "kind": v.event.kind,
                        "status": v.status,
                        "createdAt": v.event.created_at,
                        "nextAttemptAt": v.next_attempt_at,
                        "deliveredAt": v.delivered_at,
                        "attempts": v.attempts,
                        "body": body,
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => EpayError::internal("callback list failed", e).into_response(),
    }
}

/// `POST /sandbox/callbacks/{id}/resend`: deliver an event again now, whatever its state.
pub async fn resend_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(event_id): axum::extract::Path<String>,
) -> Response {
    let m = match merchant(&state, &headers).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    match state.store.resend_callback(&m.id, &event_id).await {
        Ok(true) => {
            state.callbacks_wake.notify_one();
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({"id": event_id, "status": "pending"})),
            )
                .into_response()
        }
        Ok(false) => EpayError::new(
            StatusCode::NOT_FOUND,
            reason::NOT_PERMITTED_TO_MERCHANT,
            "no such callback event",
        )
        .into_response(),
        Err(e) => EpayError::internal("callback resend failed", e).into_response(),
    }
}

/// `GET /sandbox/callback-secret`: the key this merchant's callbacks are signed with.
pub async fn callback_secret(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let m = match merchant(&state, &headers).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    match state.store.callback_secret(&m.id).await {
        Ok(Some(secret)) => Json(serde_json::json!({"callbackSecret": secret})).into_response(),
        Ok(None) => EpayError::new(
            StatusCode::NOT_FOUND,
            reason::INVALID_MERCHANT,
            "no such merchant",
        )
        .into_response(),
        Err(e) => EpayError::internal("callback secret look-up failed", e).into_response(),
    }
}
