//! `GET` and `PUT /sandbox/terminals/{id}/limits`: a terminal's transfer limits (issue 14,
//! item 3; `docs/api.md`, "Limits"), read and replaced by the terminal's own merchant with
//! its client credentials, like the rest of the sandbox API.
//!
//! The answer shows each limit as it applies and, under `defaults`, which ones are the
//! defaults. A `PUT` replaces the terminal's settings: a field left out (or `null`) goes back
//! to its default. Amounts are in the terminal's currency, as decimal numbers.

use crate::error::EpayError;
use crate::routes::read_body;
use crate::routes::sandbox::{json_body, SandboxMerchant};
use crate::AppState;
use aqsha_core::limits::{LimitSettings, TerminalLimits};
use aqsha_core::money::Money;
use aqsha_wire::WireAmount;
use axum::body::Body;
use axum::extract::{Path, State};

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// The limits as they apply, with the fields a `PUT` takes.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LimitsView {
    terminal_id: String,
    per_transfer: WireAmount,
    sender_daily_transfers: i64,
    receiver_daily: WireAmount,
    terminal_daily: WireAmount,
    terminal_total: WireAmount,
    /// The fields that have no setting of their own and take the default.
    defaults: Vec<&'static str>,
}

fn view(terminal_id: String, s: &LimitSettings) -> LimitsView {
    let l: TerminalLimits = s.effective();
    let amount = |m: Money| WireAmount::new(m.to_string());
    let defaults = [
        ("per_transfer", s.per_transfer.is_none()),
        ("sender_daily_transfers", s.sender_daily_transfers.is_none()),
        ("receiver_daily", s.receiver_daily.is_none()),
        ("terminal_daily", s.terminal_daily.is_none()),
        ("terminal_total", s.terminal_total.is_none()),
    ];
    LimitsView {
        terminal_id,
        per_transfer: amount(l.per_transfer),
        sender_daily_transfers: l.sender_daily_transfers,
        receiver_daily: amount(l.receiver_daily),
        terminal_daily: amount(l.terminal_daily),
        terminal_total: amount(l.terminal_total),
        defaults: defaults.iter().filter(|d| d.1).map(|d| d.0).collect(),
    }
}

fn no_terminal() -> EpayError {
    EpayError::new(
        axum::http::StatusCode::NOT_FOUND,
        aqsha_wire::codes::reason::INVALID_MERCHANT,
        "terminal is not one of this merchant's terminals",
    )
}

/// `GET /sandbox/terminals/{id}/limits`.
#[utoipa::path(
    get,
    path = "/sandbox/terminals/{terminal_id}/limits",
    tag = "sandbox",
    summary = "A terminal's transfer limits",
    params(("terminal_id" = String, Path, description = "One of the caller's terminals")),
    security(("clientBasic" = [])),
    responses(
        (status = 200, description = "The limits as they apply", body = LimitsView),
        (status = 404, description = "Not one of the caller's terminals (code 464)", body = aqsha_wire::transfer::ApiError),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn get_limits(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
    Path(terminal_id): Path<String>,
) -> Result<Response, Response> {
    let found = state.store.limit_settings(&m.id, &terminal_id).await;
    match found.map_err(|e| EpayError::store("reading limits failed", e).into_response())? {
        Some(s) => Ok(Json(view(terminal_id, &s)).into_response()),
        None => Err(no_terminal().into_response()),
    }
}

/// `PUT /sandbox/terminals/{id}/limits`.
#[utoipa::path(
    put,
    path = "/sandbox/terminals/{terminal_id}/limits",
    tag = "sandbox",
    summary = "Replace a terminal's limits (a field left out goes back to its default)",
    params(("terminal_id" = String, Path, description = "One of the caller's terminals")),
    request_body = crate::ops::limits::LimitsInput,
    security(("clientBasic" = [])),
    responses(
        (status = 200, description = "The limits as they now apply", body = LimitsView),
        (status = 400, description = "Malformed limits (code 477)", body = aqsha_wire::transfer::ApiError),
        (status = 404, description = "Not one of the caller's terminals (code 464)", body = aqsha_wire::transfer::ApiError),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn put_limits(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
    Path(terminal_id): Path<String>,
    body: Body,
) -> Result<Response, Response> {
    replace(&state, &m.id, terminal_id, body)
        .await
        .map_err(IntoResponse::into_response)
}

async fn replace(
    state: &AppState,
    merchant_id: &str,
    terminal_id: String,
    body: Body,
) -> Result<Response, EpayError> {
    let req: crate::ops::limits::LimitsInput = json_body(&read_body(body).await?, "limits")?;
    let s = crate::ops::limits::settings(&req)?;
    let set = state
        .store
        .set_limit_settings(merchant_id, &terminal_id, s)
        .await
        .map_err(|e| EpayError::store("changing limits failed", e))?;
    if !set {
        return Err(no_terminal());
    }
    Ok(Json(view(terminal_id, &s)).into_response())
}
