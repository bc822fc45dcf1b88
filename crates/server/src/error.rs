//! The API's error answers: the seed's error envelope for the ePay endpoints, RFC 6749 bodies for
//! the token endpoint. Internal errors are logged once, here, and never shown to the caller.

use aqsha_wire::codes::{reason, ReasonCode};
use aqsha_wire::token::OAuthError;
use aqsha_wire::transfer::ApiError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error in the seed's shape: `{"code","message","invoiceId","id","reference","accountId"}`.
#[derive(Debug)]
pub struct EpayError {
    pub status: StatusCode,
    pub body: Box<ApiError>,
    /// Sent as `WWW-Authenticate` on 401s (RFC 6750).
    pub bearer_challenge: Option<&'static str>,
    /// Sent as `Retry-After` (seconds) on 503s.
    pub retry_after: Option<u64>,
}

impl EpayError {
    pub fn new(status: StatusCode, code: ReasonCode, detail: impl AsRef<str>) -> EpayError {
        EpayError {
            status,
            body: Box::new(ApiError {
                code: code.code,
                message: format!("{}: {}", code.message, detail.as_ref()),
                invoice_id: String::new(),
                id: String::new(),
                reference: String::new(),
                account_id: String::new(),
            }),
            bearer_challenge: None,
            retry_after: None,
        }
    }

    /// Malformed input: HTTP 400 with reason code 477 (format error).
    pub fn input(detail: impl AsRef<str>) -> EpayError {
        EpayError::new(StatusCode::BAD_REQUEST, reason::FORMAT_ERROR, detail)
    }

    /// A missing, unknown, expired or spent token: HTTP 401.
    pub fn token(detail: impl AsRef<str>) -> EpayError {
        let mut e = EpayError::new(
            StatusCode::UNAUTHORIZED,
            reason::NOT_PERMITTED_TO_MERCHANT,
            detail,
        );
        e.bearer_challenge = Some("Bearer error=\"invalid_token\"");
        e
    }

    /// A token of a merchant that was disabled (`aqsha merchant disable`): HTTP 401 like any
    /// refused token (nothing recorded, the token not spent), with code 464 (invalid merchant)
    /// so an integration can tell that a new token will not help.
    pub fn merchant_disabled() -> EpayError {
        let mut e = EpayError::new(
            StatusCode::UNAUTHORIZED,
            reason::INVALID_MERCHANT,
            "this merchant is disabled",
        );
        e.bearer_challenge = Some("Bearer error=\"invalid_token\"");
        e
    }

    /// Something failed on our side. The outcome may be unknown to the caller, so the code is
    /// 100, a "poll" code: ask for the status, do not resend.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> EpayError {
        tracing::error!(request = %crate::request_id(), error = %err, "{context}");
        EpayError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            reason::SYSTEM_ERROR,
            "internal error; query the operation status before retrying",
        )
    }

    /// A store failure: "busy" (its write queue was full, nothing was done) is a 503 with
    /// `Retry-After`; anything else is [`EpayError::internal`].
    pub fn store(context: &str, err: aqsha_core::store::StoreError) -> EpayError {
        match err {
            aqsha_core::store::StoreError::Busy => {
                let mut e = EpayError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    reason::SYSTEM_ERROR,
                    "server busy, nothing was done; send the same request again after Retry-After",
                );
                e.retry_after = Some(crate::limits::RETRY_AFTER_SECS);
                e
            }
            other => EpayError::internal(context, other),
        }
    }

    pub fn with_order(mut self, invoice_id: &str, account_id: &str) -> EpayError {
        self.body.invoice_id = invoice_id.to_string();
        self.body.account_id = account_id.to_string();
        self
    }
}

impl IntoResponse for EpayError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(*self.body)).into_response();
        if let Some(ch) = self.bearer_challenge {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(ch));
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        close_if_unread(self.status, resp)
    }
}

/// An RFC 6749 §5.2 error from the token endpoint.
#[derive(Debug)]
pub struct OAuthFailure {
    pub status: StatusCode,
    pub body: OAuthError,
}

impl OAuthFailure {
    pub fn new(status: StatusCode, error: &str, description: impl Into<String>) -> OAuthFailure {
        OAuthFailure {
            status,
            body: OAuthError {
                error: error.to_string(),
                error_description: description.into(),
            },
        }
    }
    pub fn invalid_request(description: impl Into<String>) -> OAuthFailure {
        OAuthFailure::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
}

impl IntoResponse for OAuthFailure {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"aqsha\""),
            );
        }
        close_if_unread(self.status, resp)
    }
}

/// A 413 is sent before the rest of the body was read, so the connection cannot carry another
/// request: say so, or a client may reuse it and have its next request cut off.
fn close_if_unread(status: StatusCode, mut resp: Response) -> Response {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}
