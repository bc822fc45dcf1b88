//! Who is calling: bearer tokens for the ePay API, client credentials for the sandbox API.

use crate::error::EpayError;
use crate::AppState;
use aqsha_core::records::MerchantRecord;
use aqsha_core::token::{CustomerBinding, TokenClaims};
use aqsha_core::vault::{ct_eq, sha256_hex};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::Engine;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The bearer token from `Authorization`, or why there is none.
pub fn bearer(headers: &HeaderMap) -> Result<&str, EpayError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| EpayError::token("missing Authorization: Bearer token"))?
        .to_str()
        .map_err(|_| EpayError::token("malformed Authorization header"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| EpayError::token("Authorization must be \"Bearer <token>\""))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(EpayError::token("Authorization must be \"Bearer <token>\""));
    }
    Ok(token.trim())
}

/// A live token for read-only service calls (status, saved cards). These do not spend it.
pub async fn service_token(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<TokenClaims, EpayError> {
    let token = bearer(headers)?;
    let record = aqsha_core::token::open(&state.vault, token)
        .ok_or_else(|| EpayError::token("unknown token"))?;
    if record.expires_at <= chrono::Utc::now() {
        return Err(EpayError::token("token expired"));
    }
    require_active(state, &record.merchant_id).await?;
    // Status and saved-card calls are service calls (`docs/protocol.md#status`,
    // `#saved-cards`): a token for them carries `payment`, `transfer` or the service scope's
    // `webapi`.
    if !["payment", "transfer", "webapi"]
        .iter()
        .any(|w| has_scope(&record, w))
    {
        return Err(EpayError::token(
            "token scope allows no service calls (needs payment, transfer or webapi)",
        ));
    }
    Ok(record)
}

/// Refuses a per-order token asking for another invoice's status (issue 12: a token reaches
/// its own order only). A spent transfer token can therefore still read its own outcome, and
/// nothing else.
pub fn may_read_invoice(
    state: &AppState,
    token: &TokenClaims,
    invoice: &str,
) -> Result<(), EpayError> {
    match &token.invoice_id {
        Some(own) if own != invoice && state.rules.binding == CustomerBinding::Strict => {
            Err(EpayError::token(
                "this token was issued for another invoice; a per-order token reads only its own \
                 invoice's status (use a service token, scope webapi, for others)",
            ))
        }
        _ => Ok(()),
    }
}

/// Refuses a token that may not manage saved cards (of this customer, when `account` is
/// known): a per-order token never may; otherwise a service token (scope `webapi`) or a token
/// issued for the customer (`accountId`). Returns the customer the token is confined to.
pub fn may_manage_cards<'t>(
    state: &AppState,
    token: &'t TokenClaims,
    account: Option<&str>,
) -> Result<Option<&'t str>, EpayError> {
    if state.rules.binding == CustomerBinding::Epay {
        return Ok(None);
    }
    if token.invoice_id.is_some() {
        return Err(EpayError::token(
            "a per-order token cannot manage saved cards; use a service token (scope webapi) or a \
             token issued for the customer (accountId)",
        ));
    }
    match (&token.account_id, account) {
        (Some(own), Some(asked)) if own != asked => Err(EpayError::token(
            "this token was issued for another customer (accountId)",
        )),
        (Some(own), _) => Ok(Some(own.as_str())),
        (None, _) if has_scope(token, "webapi") => Ok(None),
        (None, _) => Err(EpayError::token(
            "managing saved cards needs a service token (scope webapi) or a token issued for the \
             customer (accountId)",
        )),
    }
}

fn has_scope(token: &TokenClaims, word: &str) -> bool {
    token.has_scope(word)
}

/// Refuses the calls of a disabled merchant, whatever its token. The answer is the store's
/// cached view ([`aqsha_core::store::Store::merchant_active`]), so a merchant disabled on any
/// instance is refused here within the cache's TTL (5 s), with no round trip per call.
pub async fn require_active(state: &AppState, merchant_id: &str) -> Result<(), EpayError> {
    match state.store.merchant_active(merchant_id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(EpayError::merchant_disabled()),
        Err(e) => Err(EpayError::internal("merchant check failed", e)),
    }
}

/// `client_id`/`client_secret` from an `Authorization: Basic` header.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The address the request came from (the TCP peer; behind a proxy, the proxy's).
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Peer, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// What a client-credentials check found.
pub enum ClientCheck {
    Allowed(MerchantRecord),
    /// Unknown client or wrong secret: the two look alike.
    Denied,
    /// Too many failures (see [`crate::throttle`]); retry after this long.
    Throttled(Duration),
}

/// Checks client credentials. An unknown client and a wrong secret take the same path and
/// the same time, so the answer reveals nothing about which client ids exist. The merchant is
/// read from the database each time (no cache), so a rotated secret stops working at once; a
/// disabled merchant is returned as such, for the caller to refuse. Failures are counted per
/// client and per address, and logged with the client id, never the secret.
pub async fn check_client(
    state: &AppState,
    client_id: &str,
    secret: &str,
    peer: Option<IpAddr>,
) -> Result<ClientCheck, aqsha_core::store::StoreError> {
    if let Err(wait) = state.throttle.check(client_id, peer) {
        tracing::warn!(
            request = %crate::request_id(), client_id = ?shown(client_id), peer = ?peer,
            "client authentication refused: too many failures"
        );
        return Ok(ClientCheck::Throttled(wait));
    }
    let merchant = state.store.merchant_by_client_id(client_id).await?;
    let presented = sha256_hex(secret.as_bytes());
    // Compare against a fixed stand-in when the client is unknown, to keep timing uniform.
    let stored = merchant
        .as_ref()
        .map(|m| m.secret_hash.as_str())
        .unwrap_or("0000000000000000000000000000000000000000000000000000000000000000");
    let ok = ct_eq(&presented, stored);
    match merchant.filter(|_| ok) {
        Some(m) => {
            state.throttle.succeeded(client_id, peer);
            Ok(ClientCheck::Allowed(m))
        }
        None => {
            state.throttle.failed(client_id, peer);
            tracing::warn!(
                request = %crate::request_id(), client_id = ?shown(client_id), peer = ?peer,
                "client authentication failed"
            );
            Ok(ClientCheck::Denied)
        }
    }
}

/// A caller-chosen id as logged: at most 64 characters (Debug-quoted by the caller, so a
/// newline cannot forge a log line).
fn shown(client_id: &str) -> String {
    client_id.chars().take(64).collect()
}

/// `Retry-After` in whole seconds, at least one.
pub fn retry_after(resp: &mut axum::response::Response, wait: Duration) {
    let secs = wait.as_secs().max(1) + u64::from(wait.subsec_nanos() > 0);
    if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
}
