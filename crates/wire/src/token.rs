//! `POST /oauth2/token` (`docs/protocol.md#tokens`).

use serde::{Deserialize, Serialize};

/// The token request's fields, whatever body they came in (form, multipart or JSON). Values are
/// kept as text: forms carry nothing else, and amounts are parsed exactly by the domain.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Default, Clone)]
pub struct TokenRequest {
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub grant_type: Option<String>,
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub scope: Option<String>,
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub client_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(nullable = false, format = Password))]
    pub client_secret: Option<String>,
    #[cfg_attr(feature = "openapi", serde(rename = "invoiceID"))]
    #[cfg_attr(
        feature = "openapi",
        schema(nullable = false, pattern = r"^[0-9]{6,16}$", example = "000000001")
    )]
    pub invoice_id: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            nullable = false,
            pattern = r"^[0-9]+(\.[0-9]{1,2})?$",
            example = "100.50"
        )
    )]
    pub amount: Option<String>,
    #[cfg_attr(feature = "openapi", schema(nullable = false, example = "KZT"))]
    pub currency: Option<String>,
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub terminal: Option<String>,
    #[cfg_attr(feature = "openapi", serde(rename = "postLink"))]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub post_link: Option<String>,
    #[cfg_attr(feature = "openapi", serde(rename = "failurePostLink"))]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub failure_post_link: Option<String>,
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub secret_hash: Option<String>,
    /// The shop's customer the token is for (`accountId`): a token bound to a customer may
    /// pay from that customer's saved cards and manage them, and no other customer's.
    #[cfg_attr(feature = "openapi", serde(rename = "accountId"))]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub account_id: Option<String>,
    /// The merchant's cabinet login and password, for `grant_type=password` (the operations
    /// list, `POST /p2p/operations`).
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub username: Option<String>,
    #[cfg_attr(feature = "openapi", schema(nullable = false, format = Password))]
    pub password: Option<String>,
}

impl TokenRequest {
    /// Builds the request from name/value pairs. Names are matched as ePay's clients send them
    /// (`invoiceID`, also `invoiceId`); unknown names are ignored; empty values count as absent,
    /// because the seed's own example sends `postLink: ""`.
    pub fn from_fields<I, K, V>(fields: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut r = TokenRequest::default();
        for (k, v) in fields {
            let v: String = v.into();
            let v = v.trim().to_string();
            if v.is_empty() {
                continue;
            }
            let slot = match k.as_ref() {
                "grant_type" => &mut r.grant_type,
                "scope" => &mut r.scope,
                "client_id" => &mut r.client_id,
                "client_secret" => &mut r.client_secret,
                "invoiceID" | "invoiceId" | "invoice_id" => &mut r.invoice_id,
                "amount" => &mut r.amount,
                "currency" => &mut r.currency,
                "terminal" | "terminalId" | "terminalID" => &mut r.terminal,
                "postLink" => &mut r.post_link,
                "failurePostLink" => &mut r.failure_post_link,
                "secret_hash" => &mut r.secret_hash,
                "accountId" | "accountID" | "account_id" => &mut r.account_id,
                "username" => &mut r.username,
                "password" => &mut r.password,
                _ => continue,
            };
            *slot = Some(v);
        }
        r
    }
}

impl TokenRequest {
    /// The request as form fields, in ePay's names, absent fields left out: what a client
    /// sends. [`TokenRequest::from_fields`] reads them back.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        [
            ("grant_type", &self.grant_type),
            ("scope", &self.scope),
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
            ("invoiceID", &self.invoice_id),
            ("amount", &self.amount),
            ("currency", &self.currency),
            ("terminal", &self.terminal),
            ("postLink", &self.post_link),
            ("failurePostLink", &self.failure_post_link),
            ("secret_hash", &self.secret_hash),
            ("accountId", &self.account_id),
            ("username", &self.username),
            ("password", &self.password),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }
}

// Hand-written so a secret can never reach a log through `{:?}`.
impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("invoice_id", &self.invoice_id)
            .field("amount", &self.amount)
            .field("currency", &self.currency)
            .field("terminal", &self.terminal)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// The success body. `expires_in` is sent as a string: Halyk's own iOS SDK fails to decode a
/// number there, and every other client reads either (`docs/protocol.md#tokens`, "Ours").
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    /// Seconds, as decimal text (`"7200"`).
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9]+$", example = "7200"))]
    pub expires_in: String,
    pub refresh_token: String,
    pub scope: String,
    pub token_type: String,
}

/// An RFC 6749 §5.2 error body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OAuthError {
    pub error: String,
    pub error_description: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_epay_field_names_and_skips_empty_values() {
        let r = TokenRequest::from_fields([
            ("invoiceID", "000000001"),
            ("postLink", ""),
            ("scope", " transfer "),
            ("client_secret", "s3cret"),
        ]);
        assert_eq!(r.invoice_id.as_deref(), Some("000000001"));
        assert_eq!(r.post_link, None);
        assert_eq!(r.scope.as_deref(), Some("transfer"));
        assert!(!format!("{r:?}").contains("s3cret"));
    }

    #[test]
    fn fields_round_trip() {
        let r = TokenRequest {
            grant_type: Some("client_credentials".into()),
            invoice_id: Some("000000001".into()),
            account_id: Some("testUser1".into()),
            post_link: Some("https://shop/ok".into()),
            ..Default::default()
        };
        let back = TokenRequest::from_fields(r.to_fields());
        assert_eq!(back.to_fields(), r.to_fields());
        assert_eq!(back.invoice_id.as_deref(), Some("000000001"));
        assert_eq!(back.account_id.as_deref(), Some("testUser1"));
    }
}
