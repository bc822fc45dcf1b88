//! Answers several handlers share, described once for their `#[utoipa::path]` attributes
//! (`responses(TransferAnswers)`). Descriptions only: these types are never built; the
//! handlers answer with the wire types named in them.
#![allow(dead_code)]
// Never built, so their size does not matter.
#![allow(clippy::large_enum_variant)]

use aqsha_wire::transfer::{ApiError, TransferResponse};

/// What a transfer answers: P2P, AFT and OCT alike.
#[derive(utoipa::IntoResponses)]
pub(crate) enum TransferAnswers {
    /// Charged (`status` `CHARGE`), or waiting for 3-D Secure (`status` `NEW`, with `secure3D`).
    #[response(status = 200)]
    Done(TransferResponse),
    /// A malformed body (code 477) or a decline: `code` is the reason code (docs/api.md,
    /// "Declines and reason codes").
    #[response(status = 400)]
    Refused(ApiError),
    /// A missing, unknown, expired or spent token (code 487), or a disabled merchant (464);
    /// `WWW-Authenticate: Bearer`.
    #[response(status = 401)]
    Token(ApiError),
    /// An internal error, code 100: query the status before retrying.
    #[response(status = 500)]
    Internal(ApiError),
}

/// The sandbox API's refusals of its HTTP Basic client credentials, and its internal error.
#[derive(utoipa::IntoResponses)]
pub(crate) enum SandboxRefusals {
    /// No or wrong HTTP Basic client credentials; `WWW-Authenticate: Basic`.
    #[response(status = 401)]
    Unauthenticated(ApiError),
    /// Too many failed authentications; `Retry-After`.
    #[response(status = 429)]
    Throttled(ApiError),
    /// An internal error (code 100).
    #[response(status = 500)]
    Internal(ApiError),
}
