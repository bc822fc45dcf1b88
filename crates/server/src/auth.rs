//! Who is calling: bearer tokens for the ePay API, client credentials for the sandbox API.

use crate::error::EpayError;
use crate::AppState;
use aqsha_core::store::{MerchantRecord, TokenRecord};
use aqsha_core::vault::{ct_eq, sha256_hex};
use axum::http::{header, HeaderMap};
use base64::Engine;

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
) -> Result<TokenRecord, EpayError> {
    let token = bearer(headers)?;
    let record = aqsha_core::token::open(&state.vault, token)
        .ok_or_else(|| EpayError::token("unknown token"))?;
    if record.expires_at <= chrono::Utc::now() {
        return Err(EpayError::token("token expired"));
    }
    require_active(state, &record.merchant_id).await?;
    // Status and saved-card calls are service calls (reference §4, §5): a token for them
    // carries `payment`, `transfer` or the service scope's `webapi`.
    if !record
        .scope
        .split_whitespace()
        .any(|s| matches!(s, "payment" | "transfer" | "webapi"))
    {
        return Err(EpayError::token(
            "token scope allows no service calls (needs payment, transfer or webapi)",
        ));
    }
    Ok(record)
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

/// Checks client credentials. An unknown client and a wrong secret take the same path and
/// the same time, so the answer reveals nothing about which client ids exist. The merchant is
/// read from the database each time (no cache), so a rotated secret stops working at once; a
/// disabled merchant is returned as such, for the caller to refuse.
pub async fn check_client(
    state: &AppState,
    client_id: &str,
    secret: &str,
) -> Result<Option<MerchantRecord>, aqsha_core::store::StoreError> {
    let merchant = state.store.merchant_by_client_id(client_id).await?;
    let presented = sha256_hex(secret.as_bytes());
    // Compare against a fixed stand-in when the client is unknown, to keep timing uniform.
    let stored = merchant
        .as_ref()
        .map(|m| m.secret_hash.as_str())
        .unwrap_or("0000000000000000000000000000000000000000000000000000000000000000");
    let ok = ct_eq(&presented, stored);
    Ok(merchant.filter(|_| ok))
}
