//! Route handlers, one module per endpoint family.

pub mod cards;
pub mod sandbox;
pub mod status;
pub mod token;
pub mod transfer;

use crate::error::EpayError;
use crate::BODY_LIMIT;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub async fn not_found() -> Response {
    EpayError::new(
        StatusCode::NOT_FOUND,
        aqsha_wire::reason::INVALID_TRANSACTION,
        "no such endpoint",
    )
    .into_response()
}

pub async fn method_not_allowed() -> Response {
    EpayError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        aqsha_wire::reason::INVALID_TRANSACTION,
        "this endpoint does not take that HTTP method",
    )
    .into_response()
}

/// Reads a request body up to [`BODY_LIMIT`] bytes.
pub async fn read_body(body: Body) -> Result<Bytes, EpayError> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        EpayError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            aqsha_wire::reason::FORMAT_ERROR,
            format!("request body is larger than {BODY_LIMIT} bytes"),
        )
    })
}
