//! The request parsers the fuzz targets (`fuzz/`, docs/fuzzing.md) drive: the same functions
//! the routes call, reached without a server, a store or a socket. Not an API: nothing outside
//! the fuzz crate should call these.

use crate::error::{EpayError, OAuthFailure};
use aqsha_core::search::Search;
use aqsha_wire::token::TokenRequest;
use aqsha_wire::transfer::{OneSideRequest, TransferRequest};
use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue};

/// The token endpoint's body under a `Content-Type` (`None`: no header, read as a form), or
/// the `error_description` it is refused with.
pub async fn token_request(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<TokenRequest, String> {
    let mut headers = HeaderMap::new();
    if let Some(ct) = content_type {
        let value = HeaderValue::from_str(ct).map_err(|e| format!("not a header value: {e}"))?;
        headers.insert(header::CONTENT_TYPE, value);
    }
    crate::routes::token::parse_fields(&headers, Bytes::copy_from_slice(body))
        .await
        .map_err(|e: OAuthFailure| e.body.error_description)
}

/// A transfer body as `POST /p2p/transfer` reads it: strict JSON, then the typed request.
pub fn transfer_request(body: &[u8]) -> Result<TransferRequest, String> {
    let value = crate::routes::transfer::read_json(body).map_err(message)?;
    crate::routes::transfer::typed(&value).map_err(message)
}

/// A one-sided body as `POST /chdebit/transfer` and `/chpayment/transfer` read it.
pub fn one_side_request(body: &[u8]) -> Result<OneSideRequest, String> {
    let value = crate::routes::transfer::read_json(body).map_err(message)?;
    crate::routes::transfer::typed(&value).map_err(message)
}

/// An operations search body as `POST /p2p/operations` reads it.
pub fn operations_search(body: &[u8]) -> Result<Search, String> {
    crate::routes::operations::read_search(body).map_err(message)
}

/// A sandbox card request (`POST /sandbox/cards`), read as the route reads it.
pub fn sandbox_card(body: &[u8]) -> Result<(), String> {
    crate::routes::sandbox::json_body::<crate::ops::sandbox::IssueCard>(body, "card request")
        .map(|_| ())
        .map_err(message)
}

/// A limits body (`PUT /sandbox/limits`), read and checked as the route does.
pub fn limits(body: &[u8]) -> Result<(), String> {
    let input: crate::ops::limits::LimitsInput =
        crate::routes::sandbox::json_body(body, "limits").map_err(message)?;
    crate::ops::limits::settings(&input).map_err(message)?;
    Ok(())
}

fn message(e: EpayError) -> String {
    e.body.message
}

/// The hosted form's post (`POST /payform/`) as the page reads it: the card number as typed
/// (spaces and dashes dropped) and the expiry field read as month and two-digit year.
/// `None` for a body the page refuses as a whole.
pub fn payform_post(body: &[u8]) -> Option<PayformPost> {
    let p = crate::pages::payform::submit::Posted::read(body)?;
    Some(PayformPost {
        number: p.number.clone(),
        expiry: crate::pages::payform::submit::expiry(&p.expire),
        expire_text: p.expire.clone(),
    })
}

/// What [`payform_post`] read of the card fields.
pub struct PayformPost {
    pub number: String,
    pub expire_text: String,
    pub expiry: Option<(String, String)>,
}
