//! Access tokens: the transfer token spent by one operation, and the service token cached for
//! read-only calls.

use aqsha_wire::token::TokenResponse;
use serde::Deserialize;
use std::fmt;
use std::time::{Duration, Instant};

/// The scope of transfer tokens (`docs/protocol.md#tokens`).
pub const TRANSFER_SCOPE: &str = "transfer";

/// The scope ePay documents for status, refunds and saved-card management.
pub const SERVICE_SCOPE: &str =
    "webapi usermanagement email_send verification statement statistics payment";

/// An access token. `Debug` hides its value.
#[derive(Clone)]
pub struct AccessToken {
    value: String,
    /// The token response, with `expires_in` as text whatever form it came in.
    pub response: TokenResponse,
    /// Lifetime in seconds as the server gave it.
    pub expires_in: u64,
    /// When this client received it.
    pub received_at: Instant,
}

impl AccessToken {
    /// The bearer value, for an `Authorization` header.
    pub fn secret(&self) -> &str {
        &self.value
    }

    pub fn scope(&self) -> &str {
        &self.response.scope
    }

    /// Time left before the server considers it expired, as seen from this client.
    pub fn remaining(&self) -> Duration {
        Duration::from_secs(self.expires_in).saturating_sub(self.received_at.elapsed())
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"***")
            .field("scope", &self.response.scope)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// `expires_in` as ePay's printed examples send it (a number) or as its own SDKs expect it and
/// Aqsha sends it (a string).
#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(u64),
    Text(String),
}

#[derive(Deserialize)]
struct LenientTokenResponse {
    access_token: String,
    expires_in: Option<Seconds>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
}

/// Parses a token response body, accepting `expires_in` as `7200` or `"7200"`.
pub fn parse_token_response(body: &[u8]) -> Result<AccessToken, String> {
    let r: LenientTokenResponse =
        serde_json::from_slice(body).map_err(|e| format!("not a token response: {e}"))?;
    if r.access_token.trim().is_empty() {
        return Err("access_token is empty".into());
    }
    let expires_in = match r.expires_in {
        Some(Seconds::Number(n)) => n,
        Some(Seconds::Text(t)) => t
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("expires_in {t:?} is not a number of seconds"))?,
        None => return Err("expires_in is missing".into()),
    };
    Ok(AccessToken {
        value: r.access_token.clone(),
        response: TokenResponse {
            access_token: r.access_token,
            expires_in: expires_in.to_string(),
            refresh_token: r.refresh_token.unwrap_or_default(),
            scope: r.scope.unwrap_or_default(),
            token_type: r.token_type.unwrap_or_else(|| "Bearer".into()),
        },
        expires_in,
        received_at: Instant::now(),
    })
}

/// What a token is bound to (invoice, amount, currency, terminal, customer), plus the callback
/// settings ePay takes at token time: the token request of the wire contract, whose
/// credentials the client fills in itself.
pub use aqsha_wire::token::TokenRequest as TokenBinding;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_as_number_or_string() {
        let seed = br#"{"access_token":"DCEB8O_ZM5U7SO_T_U5EJQ","expires_in": 7200,"refresh_token":"","scope":"transfer","token_type":"Bearer"}"#;
        let t = parse_token_response(seed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.expires_in, 7200);
        assert_eq!(t.response.expires_in, "7200");
        assert_eq!(t.secret(), "DCEB8O_ZM5U7SO_T_U5EJQ");
        assert!(!format!("{t:?}").contains("DCEB8O"));
        let aqsha = br#"{"access_token":"X","expires_in":"7200","refresh_token":"","scope":"transfer","token_type":"Bearer"}"#;
        assert_eq!(parse_token_response(aqsha).map(|t| t.expires_in), Ok(7200));
        assert!(parse_token_response(br#"{"access_token":"X","expires_in":"soon"}"#).is_err());
        assert!(parse_token_response(br#"{"access_token":"","expires_in":1}"#).is_err());
        assert!(parse_token_response(b"<html>").is_err());
    }
}
