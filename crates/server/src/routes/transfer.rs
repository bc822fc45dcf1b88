//! `POST /payments/cards/auth` and `/p2p/transfer` (`docs/protocol.md#transfers`).
//!
//! This handler only parses: it reads the body as strictly as every ePay body (repeated keys and
//! control characters refused, errors that never repeat a value) and hands the typed request to
//! [`crate::ops::transfer`], which the hosted payment form calls as well.

use crate::auth::bearer;
use crate::error::EpayError;
use crate::ops::{self, transfer::TransferCall};
use crate::routes::read_body;
use crate::AppState;
use aqsha_wire::transfer::TransferRequest;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub async fn transfer(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match run(&state, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, EpayError> {
    let token = bearer(headers)?;
    let body = read_body(body).await?;
    aqsha_wire::json::unique_keys(&body)
        .map_err(|e| EpayError::input(format!("malformed JSON: {e}")))?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| EpayError::input(format!("malformed JSON: {e}")))?;
    if let Some(path) = aqsha_wire::json::control_character_at(&value) {
        return Err(EpayError::input(format!(
            "{path} holds a control character (newline, tab, NUL…); text fields take printable text only"
        )));
    }
    if value.get("order").is_none()
        && (value.get("cardId").is_some() || value.get("paymentType").is_some())
    {
        return Err(EpayError::input(
            "payments by saved card are not supported yet; this endpoint takes P2P transfers (order + card)",
        ));
    }
    let req: TransferRequest = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        // The message names the field and the expected type, never the value: it may be a
        // card number or a CVC sent as a JSON number.
        let why = aqsha_wire::json::without_values(&e.inner().to_string());
        EpayError::input(format!("field {path}: {why}"))
    })?;
    let call = TransferCall {
        token,
        request: req,
        sent: value,
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
