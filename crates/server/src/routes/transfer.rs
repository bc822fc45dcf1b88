//! `POST /payments/cards/auth` and `/p2p/transfer` (`docs/protocol.md#transfers`), and the
//! one-sided `POST /chdebit/transfer` (AFT) and `/chpayment/transfer` (OCT).
//!
//! This handler only parses: it reads the body as strictly as every ePay body (repeated keys and
//! control characters refused, errors that never repeat a value) and hands the typed request to
//! [`crate::ops::transfer`], which the hosted payment form calls as well.

use crate::auth::bearer;
use crate::error::EpayError;
use crate::ops::transfer::{OneSideCall, OneSideKind, Sent, TransferCall};
use crate::ops::{self};
use crate::routes::read_body;
use crate::AppState;
use aqsha_wire::transfer::{OneSideRequest, TransferRequest};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Also served at `/p2p/transfer` and both under `/api`.
#[utoipa::path(
    post,
    path = "/payments/cards/auth",
    tag = "transfers",
    summary = "P2P transfer: card to card",
    request_body = aqsha_wire::transfer::TransferRequest,
    security(("bearer" = [])),
    responses(crate::openapi::answers::TransferAnswers)
)]
pub async fn transfer(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match run(&state, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

#[utoipa::path(
    post,
    path = "/chdebit/transfer",
    tag = "transfers",
    summary = "AFT: the sender's card funds the merchant (`card.sender` only)",
    request_body = aqsha_wire::transfer::OneSideRequest,
    security(("bearer" = [])),
    responses(crate::openapi::answers::TransferAnswers)
)]
/// `POST /chdebit/transfer`: an AFT, the sender's card funds the merchant.
pub async fn fund(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    one_side(&state, &headers, body, OneSideKind::Aft)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

#[utoipa::path(
    post,
    path = "/chpayment/transfer",
    tag = "transfers",
    summary = "OCT: the merchant pays out to the receiver's card (`card.receiver` only)",
    request_body = aqsha_wire::transfer::OneSideRequest,
    security(("bearer" = [])),
    responses(crate::openapi::answers::TransferAnswers)
)]
/// `POST /chpayment/transfer`: an OCT, the merchant pays out to the receiver's card.
pub async fn payout(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    one_side(&state, &headers, body, OneSideKind::Oct)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn one_side(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    kind: OneSideKind,
) -> Result<Response, EpayError> {
    let token = bearer(headers)?;
    let value = json_value(body).await?;
    let request: OneSideRequest = typed(&value)?;
    let call = OneSideCall {
        token,
        kind,
        request,
        sent: Sent {
            value,
            attempt: None,
            base_url: ops::base_url(state, headers),
        },
    };
    Ok(json_response(
        ops::transfer::one_side(state, call).await?.stored(),
    ))
}

/// The body as JSON, read as strictly as every ePay body.
async fn json_value(body: Body) -> Result<serde_json::Value, EpayError> {
    read_json(&read_body(body).await?)
}

/// [`json_value`] on bytes already read (also reached by the fuzz targets, `crate::fuzzing`).
pub(crate) fn read_json(body: &[u8]) -> Result<serde_json::Value, EpayError> {
    aqsha_wire::json::unique_keys(body)
        .map_err(|e| EpayError::input(format!("malformed JSON: {e}")))?;
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| EpayError::input(format!("malformed JSON: {e}")))?;
    // No transfer body holds a list: an array would be read as an object, field by field.
    if let Some(path) = aqsha_wire::json::unexpected_array_at(&value, &[]) {
        return Err(EpayError::input(format!(
            "{path} is a JSON array; an object, text or a number is expected there"
        )));
    }
    if let Some(path) = aqsha_wire::json::control_character_at(&value) {
        return Err(EpayError::input(format!(
            "{path} holds a control character (newline, tab, NUL…); text fields take printable text only"
        )));
    }
    Ok(value)
}

/// The JSON read into the endpoint's request type. The message names the field and the
/// expected type, never the value: it may be a card number or a CVC sent as a JSON number.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
) -> Result<T, EpayError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let why = aqsha_wire::json::without_values(&e.inner().to_string());
        EpayError::input(format!("field {path}: {why}"))
    })
}

async fn run(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, EpayError> {
    let token = bearer(headers)?;
    let value = json_value(body).await?;
    if value.get("order").is_none()
        && (value.get("cardId").is_some() || value.get("paymentType").is_some())
    {
        return Err(EpayError::input(
            "payments by saved card are not supported yet; this endpoint takes P2P transfers (order + card)",
        ));
    }
    let req: TransferRequest = typed(&value)?;
    let call = TransferCall {
        token,
        request: req,
        sent: Sent {
            value,
            attempt: None,
            base_url: ops::base_url(state, headers),
        },
    };
    Ok(json_response(
        ops::transfer::transfer(state, call).await?.stored(),
    ))
}

/// A stored answer, sent byte for byte.
fn json_response(response: aqsha_core::records::StoredResponse) -> Response {
    let status = StatusCode::from_u16(response.http_status).unwrap_or(StatusCode::OK);
    let mut resp = (status, response.body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
