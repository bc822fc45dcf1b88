//! The password grant (`grant_type=password`): a token for the merchant's cabinet login, for
//! the operations list (`POST /p2p/operations`, reference §2 and §6).
//!
//! The login is the merchant's cabinet e-mail (case-insensitive) and its password, checked
//! against the argon2id hash stored with the merchant. Failures are limited like client
//! secrets' ([`crate::throttle`], keyed `login:<login>`): after `per_client` failures (10 by
//! default) within the window (60 s), the login is refused for the rest of the window to every
//! address except those that logged in as it successfully in the last hour, and an address
//! with too many failures is refused outright. A refused attempt answers 429 with
//! `Retry-After` and `invalid_grant`, whether or not its password was right. A wrong password
//! answers 400 `invalid_grant` (RFC 6749 §5.2), the same for an unknown login.

use crate::auth::{retry_after, Peer};
use crate::error::OAuthFailure;
use crate::AppState;
use aqsha_core::provision::{hash_password, verify_password};
use aqsha_core::records::MerchantRecord;
use aqsha_wire::token::TokenRequest;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

/// A hash no password is checked against in earnest: an unknown login is verified against it,
/// so that it takes as long as a known one and the answer's timing does not tell them apart.
fn stand_in_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("aqsha stand-in").unwrap_or_default())
}

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
    let key = format!("login:{}", login.to_lowercase());
    if let Err(wait) = state.throttle.check(&key, peer.0) {
        tracing::warn!(
            request = %crate::request_id(), login = ?shown(login), peer = ?peer.0,
            "login refused: too many failures"
        );
        let mut r = OAuthFailure::new(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_grant",
            "too many failed logins for this user or from this address; retry later",
        )
        .into_response();
        retry_after(&mut r, wait);
        return Ok(Err(r));
    }
    let found = state
        .store
        .merchant_by_login(login)
        .await
        .map_err(|e| super::token::internal(&e))?;
    let hash = found
        .as_ref()
        .map_or_else(|| stand_in_hash().to_string(), |(_, h)| h.clone());
    let given = password.clone();
    // argon2id takes tens of milliseconds of CPU by design: off the async threads.
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &given))
        .await
        .unwrap_or(false);
    match found.filter(|_| ok) {
        Some((m, _)) if !m.disabled => {
            state.throttle.succeeded(&key, peer.0);
            Ok(Ok((m, login.to_lowercase())))
        }
        Some(_) => Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "this merchant is disabled",
        )),
        None => {
            state.throttle.failed(&key, peer.0);
            tracing::warn!(
                request = %crate::request_id(), login = ?shown(login), peer = ?peer.0,
                "login failed"
            );
            Err(OAuthFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "wrong username or password",
            ))
        }
    }
}

/// A login as logged: at most 64 characters, Debug-quoted by the caller.
fn shown(login: &str) -> String {
    login.chars().take(64).collect()
}
