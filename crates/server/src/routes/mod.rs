//! Route handlers, one module per endpoint family.

pub mod cards;
pub mod limits;
mod login;
pub mod operations;
pub mod sandbox;
pub mod sandbox_callbacks;
pub mod sandbox_merchant;
pub mod scenario;
pub mod status;
pub mod token;
pub mod transfer;

use crate::error::EpayError;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::BODY_LIMIT;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// Unknown paths: a page under the pages' prefixes ([`crate::pages::is_page_path`]), the
/// API's error body everywhere else.
pub async fn not_found(uri: Uri, headers: HeaderMap) -> Response {
    if crate::pages::is_page_path(uri.path()) {
        return PageError::not_found(Lang::from_headers(&headers)).into_response();
    }
    EpayError::new(
        StatusCode::NOT_FOUND,
        aqsha_wire::reason::INVALID_TRANSACTION,
        "no such endpoint",
    )
    .into_response()
}

pub async fn method_not_allowed(uri: Uri, headers: HeaderMap) -> Response {
    if crate::pages::is_page_path(uri.path()) {
        let lang = Lang::from_headers(&headers);
        return PageError::new(StatusCode::METHOD_NOT_ALLOWED, lang).into_response();
    }
    EpayError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        aqsha_wire::reason::INVALID_TRANSACTION,
        "this endpoint does not take that HTTP method",
    )
    .into_response()
}

/// `GET /healthz`: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    summary = "Alive: the process answers",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")),
)]
pub async fn healthz() -> &'static str {
    "ok"
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
