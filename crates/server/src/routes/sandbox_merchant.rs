//! The sandbox API's merchant side (issue 14): the settlement account AFTs pay into and OCTs
//! pay out of, and the phone directory behind transfers to a phone. HTTP Basic
//! `client_id:client_secret`, like the rest of the sandbox API (`routes::sandbox`).
//!
//! - `GET /sandbox/merchant/balance` — the caller's settlement balance per currency.
//! - `POST /sandbox/merchant/fund` `{"amount": 5000, "currency": "KZT"}` — money into it from
//!   the caller's funding account, within the sandbox funding cap.
//! - `GET /sandbox/phones` — the public directory entries and the caller's own, masked.
//! - `POST /sandbox/phones` `{"phone": "7…", "iin": "…", "cardId": "…"}` — bind a phone to
//!   one of the caller's cards or a public one, for the caller's transfers only.

use super::sandbox::{json_body, SandboxMerchant};
use crate::error::EpayError;
use crate::routes::read_body;
use crate::AppState;
use aqsha_wire::WireAmount;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// One settlement balance.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Balance {
    currency: String,
    balance: WireAmount,
}

/// The settlement balances, one per currency the merchant has one in.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Balances {
    balances: Vec<Balance>,
}

/// A phone directory entry as listed: the phone masked, never the IIN.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PhoneView {
    phone: String,
    public: bool,
    #[serde(rename = "cardId")]
    card_id: String,
    #[serde(rename = "cardMask")]
    card_mask: String,
}

/// A phone entry just added: the phone masked.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PhoneAdded {
    phone: String,
    /// Always false: the caller's own entry.
    public: bool,
}

/// `GET /sandbox/merchant/balance`: `{"balances": [{"currency": "KZT", "balance": 150}]}`.
#[utoipa::path(
    get,
    path = "/sandbox/merchant/balance",
    tag = "sandbox",
    summary = "The caller's settlement balance per currency",
    security(("clientBasic" = [])),
    responses(
        (status = 200, description = "The balances", body = Balances),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn balance(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
) -> Response {
    match state.store.settlement_balances(&m.id).await {
        Ok(list) => Json(Balances {
            balances: list
                .into_iter()
                .map(|(c, b)| Balance {
                    currency: c.code().into(),
                    balance: WireAmount::new(b.to_string()),
                })
                .collect(),
        })
        .into_response(),
        Err(e) => EpayError::internal("settlement balance look-up failed", e).into_response(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct Fund {
    amount: WireAmount,
    #[serde(default)]
    currency: Option<String>,
}

/// `POST /sandbox/merchant/fund`: answers the settlement account's new balance.
#[utoipa::path(
    post,
    path = "/sandbox/merchant/fund",
    tag = "sandbox",
    summary = "Money into the caller's settlement account, within the funding cap",
    request_body = Fund,
    security(("clientBasic" = [])),
    responses(
        (status = 200, description = "The new balance", body = Balance),
        (status = 400, description = "Malformed amount, unsupported currency or over the cap", body = aqsha_wire::transfer::ApiError),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn fund(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
    body: Body,
) -> Response {
    fund_for(&state, &m.id, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn fund_for(state: &AppState, merchant_id: &str, body: Body) -> Result<Response, EpayError> {
    let body = read_body(body).await?;
    let req: Fund = json_body(&body, "funding request")?;
    let currency = crate::ops::sandbox::currency(req.currency.as_deref())?;
    let balance =
        crate::ops::sandbox::fund(state, merchant_id, currency, req.amount.as_str()).await?;
    let balance = Balance {
        currency: currency.code().into(),
        balance: WireAmount::new(balance.to_string()),
    };
    Ok(Json(balance).into_response())
}

/// `GET /sandbox/phones`: never a full number or an IIN, which are not kept.
#[utoipa::path(
    get,
    path = "/sandbox/phones",
    tag = "sandbox",
    summary = "The public phone directory entries and the caller's own, masked",
    security(("clientBasic" = [])),
    responses(
        (status = 200, description = "The entries", body = Vec<PhoneView>),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn list_phones(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
) -> Response {
    match state.store.phones(&m.id).await {
        Ok(list) => Json(
            list.into_iter()
                .map(|p| PhoneView {
                    phone: p.phone_mask,
                    public: p.public,
                    card_id: p.card_id,
                    card_mask: p.card_mask,
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => EpayError::internal("phone directory look-up failed", e).into_response(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewPhone {
    phone: String,
    iin: String,
    #[serde(rename = "cardId")]
    card_id: String,
}

/// `POST /sandbox/phones`: a new entry of the caller's own. A phone the caller has bound
/// before is refused; a public entry for the same phone is shadowed for the caller only.
#[utoipa::path(
    post,
    path = "/sandbox/phones",
    tag = "sandbox",
    summary = "Bind a phone to a card, for the caller's transfers only",
    request_body = NewPhone,
    security(("clientBasic" = [])),
    responses(
        (status = 201, description = "The entry", body = PhoneAdded),
        (status = 400, description = "Malformed phone or IIN, unknown card, or a phone the caller bound before", body = aqsha_wire::transfer::ApiError),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn add_phone(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
    body: Body,
) -> Response {
    add_phone_for(&state, m.id, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn add_phone_for(
    state: &AppState,
    merchant_id: String,
    body: Body,
) -> Result<Response, EpayError> {
    let body = read_body(body).await?;
    let req: NewPhone = json_body(&body, "phone request")?;
    let mask =
        crate::ops::sandbox::add_phone(state, &merchant_id, &req.phone, &req.iin, req.card_id)
            .await?;
    let view = Json(PhoneAdded {
        phone: mask,
        public: false,
    });
    Ok((StatusCode::CREATED, view).into_response())
}
