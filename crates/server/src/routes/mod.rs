//! Route handlers, one module per endpoint family.

pub mod cards;
pub mod sandbox;
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

/// Longest callback URL taken. Links travel inside the token, so they are kept to what a URL
/// reasonably needs.
pub const MAX_LINK_LEN: usize = 2048;

/// The one rule for a `postLink` / `failurePostLink`, wherever it is given (token request,
/// transfer order): an http or https URL of at most [`MAX_LINK_LEN`] characters. An empty one
/// counts as absent, because the seed's own example sends `postLink: ""`. Says what is wrong.
pub fn check_callback_links(links: [(&str, &Option<String>); 2]) -> Result<(), String> {
    for (name, link) in links {
        let Some(l) = link.as_deref().filter(|l| !l.is_empty()) else {
            continue;
        };
        if !(l.starts_with("http://") || l.starts_with("https://")) {
            return Err(format!("{name} must be an http or https URL"));
        }
        if l.len() > MAX_LINK_LEN {
            return Err(format!("{name} is longer than {MAX_LINK_LEN} characters"));
        }
    }
    Ok(())
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
