//! The sandbox API's callback history (`docs/api.md`, "Sandbox API"): HTTP Basic client
//! credentials, like the rest of the sandbox API (`routes::sandbox`).
//!
//! - `GET /sandbox/callbacks?invoiceId=…` — the caller's callback events and every attempt.
//! - `POST /sandbox/callbacks/{id}/resend` — deliver an event again now.
//! - `GET /sandbox/callback-secret` — the key the caller's callbacks are signed with.

use super::sandbox::SandboxMerchant;
use crate::error::EpayError;
use crate::AppState;
use aqsha_wire::codes::reason;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    #[serde(rename = "invoiceId")]
    invoice_id: Option<String>,
}

/// One callback event as the sandbox lists it, with every delivery attempt.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallbackEventView {
    id: String,
    invoice_id: String,
    operation_id: String,
    url: String,
    /// `success` (to `postLink`) or `failure` (to `failurePostLink`).
    kind: String,
    /// `pending`, `delivered` or `failed`.
    status: String,
    #[schema(value_type = String)]
    created_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Option<String>)]
    next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(value_type = Option<String>)]
    delivered_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Each attempt: `attempt`, `at`, `httpStatus`, `error`, `durationMs`, and when known
    /// `responseExcerpt` and `nextAttemptAt`.
    #[schema(value_type = Vec<Object>)]
    attempts: Vec<aqsha_core::records::CallbackAttempt>,
    /// The body that was (or will be) posted: the callback's JSON.
    #[schema(value_type = Object)]
    body: serde_json::Value,
}

impl From<aqsha_core::store::CallbackView> for CallbackEventView {
    fn from(v: aqsha_core::store::CallbackView) -> CallbackEventView {
        let body = serde_json::from_str(&v.event.body).unwrap_or(serde_json::Value::Null);
        CallbackEventView {
            id: v.event.id,
            invoice_id: v.event.invoice_id,
            operation_id: v.event.operation_id,
            url: v.event.url,
            kind: v.event.kind.as_str().into(),
            status: v.status.as_str().into(),
            created_at: v.event.created_at,
            next_attempt_at: v.next_attempt_at,
            delivered_at: v.delivered_at,
            attempts: v.attempts,
            body,
        }
    }
}

/// `GET /sandbox/callbacks?invoiceId=…`: the merchant's callback events and every attempt.
#[utoipa::path(
    get,
    path = "/sandbox/callbacks",
    tag = "sandbox",
    summary = "The caller's callback events and their delivery attempts",
    params(CallbackQuery),
    security(("clientBasic" = [])),
    responses(
        (status = 200, description = "The events", body = Vec<CallbackEventView>),
        (status = 400, description = "Malformed query", body = aqsha_wire::transfer::ApiError),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn callbacks(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
    axum::extract::Query(q): axum::extract::Query<CallbackQuery>,
) -> Response {
    match state.store.callbacks(&m.id, q.invoice_id.as_deref()).await {
        Ok(views) => Json(
            views
                .into_iter()
                .map(CallbackEventView::from)
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => EpayError::internal("callback list failed", e).into_response(),
    }
}

/// `POST /sandbox/callbacks/{id}/resend`: deliver an event again now, whatever its state.
#[utoipa::path(
    post,
    path = "/sandbox/callbacks/{event_id}/resend",
    tag = "sandbox",
    summary = "Deliver a callback event again now",
    params(("event_id" = String, Path, description = "The event's id")),
    security(("clientBasic" = [])),
    responses(
        (status = 202, description = "Queued", body = Resent),
        (status = 404, description = "No such callback event of the caller's", body = aqsha_wire::transfer::ApiError),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn resend_callback(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
    axum::extract::Path(event_id): axum::extract::Path<String>,
) -> Response {
    match crate::ops::callbacks::resend(&state, &m.id, &event_id).await {
        Ok(true) => (
            StatusCode::ACCEPTED,
            Json(Resent {
                id: event_id,
                status: "pending".into(),
            }),
        )
            .into_response(),
        Ok(false) => EpayError::new(
            StatusCode::NOT_FOUND,
            reason::NOT_PERMITTED_TO_MERCHANT,
            "no such callback event",
        )
        .into_response(),
        Err(e) => EpayError::store("callback resend failed", e).into_response(),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Resent {
    id: String,
    /// `pending`.
    status: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CallbackSecret {
    #[serde(rename = "callbackSecret")]
    callback_secret: String,
}

/// `GET /sandbox/callback-secret`: the key this merchant's callbacks are signed with.
#[utoipa::path(
    get,
    path = "/sandbox/callback-secret",
    tag = "sandbox",
    summary = "The key the caller's callbacks are signed with",
    security(("clientBasic" = [])),
    responses(
        (status = 200, description = "The key", body = CallbackSecret),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn callback_secret(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
) -> Response {
    match state.store.callback_secret(&m.id).await {
        Ok(Some(secret)) => Json(CallbackSecret {
            callback_secret: secret,
        })
        .into_response(),
        Ok(None) => EpayError::new(
            StatusCode::NOT_FOUND,
            reason::INVALID_MERCHANT,
            "no such merchant",
        )
        .into_response(),
        Err(e) => EpayError::internal("callback secret look-up failed", e).into_response(),
    }
}
