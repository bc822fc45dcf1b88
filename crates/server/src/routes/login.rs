//! The password grant (`grant_type=password`): a token for the merchant's cabinet login, for
//! the operations list (`POST /p2p/operations`, reference §2 and §6).
//!
//! The login is the merchant's cabinet e-mail (case-insensitive) and its password, checked
//! by [`crate::ops::login::check`], the same check as the cabinet's login form, with its two
//! limits (the process's throttle and the durable ten-failure lock). A refused attempt answers
//! 429 with `Retry-After` and `invalid_grant`, whether or not its password was right. A wrong password
//! answers 400 `invalid_grant` (RFC 6749 §5.2), the same for an unknown login.

use crate::auth::{retry_after, Peer};
use crate::error::OAuthFailure;
use crate::ops::login::LoginCheck;
use crate::AppState;
use aqsha_core::records::MerchantRecord;
use aqsha_wire::token::TokenRequest;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The merchant and login of a password-grant request, or the refusal. `Ok(Err(response))` is
/// the throttle's 429, answered as it is.
pub(super) async fn authenticate(
    state: &AppState,
    req: &TokenRequest,
    peer: &Peer,
) -> Result<Result<(MerchantRecord, String), Response>, OAuthFailure> {
    let (Some(login), Some(password)) = (&req.username, &req.password) else {
        return Err(OAuthFailure::invalid_request(
            "username and password are required for grant_type=password",
        ));
    };
    if req.invoice_id.is_some() || req.amount.is_some() || req.terminal.is_some() {
        return Err(OAuthFailure::invalid_request(
            "a password-grant token lists operations and is bound to no order: \
             leave out invoiceID, amount and terminal",
        ));
    }
    let check = crate::ops::login::check(state, login, password, peer.0)
        .await
        .map_err(|e| super::token::internal(&e))?;
    match check {
        LoginCheck::Allowed(m, login) => Ok(Ok((m, login))),
        LoginCheck::Locked(wait) => {
            let mut r = OAuthFailure::new(
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_grant",
                "too many failed logins for this user or from this address; retry later",
            )
            .into_response();
            retry_after(&mut r, wait);
            Ok(Err(r))
        }
        LoginCheck::Disabled => Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "this merchant is disabled",
        )),
        LoginCheck::Denied { .. } => Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "wrong username or password",
        )),
    }
}
