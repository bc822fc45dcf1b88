//! Aqsha's sandbox API (`docs/sandbox.md`): calls real ePay does not have, authenticated with
//! the merchant's client credentials over HTTP Basic.

use super::{read, unexpected, Client};
use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::Value;

/// A test card to issue with `POST /sandbox/cards`. A scenario card (`outcome`, with
/// `delay_ms`, `resolve_to`, `resolve_after_ms`) answers every transfer with the outcome
/// asked for (`docs/sandbox.md`, "Outcome table").
#[derive(Debug, Clone, Default, Serialize)]
pub struct SandboxCard {
    /// `MM/YY`.
    pub expire: String,
    pub cvc: String,
    /// Opening balance in major units, e.g. `"5000"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u32>,
    /// `"CHARGE"` or a final reason code, for a non-final outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve_after_ms: Option<u32>,
}

impl Client {
    /// The key Aqsha signs this merchant's callbacks with (`GET /sandbox/callback-secret`).
    /// Only Aqsha has it; real ePay signs nothing.
    pub async fn sandbox_callback_secret(&self) -> Result<String> {
        let (url, v) = self
            .sandbox(reqwest::Method::GET, "/sandbox/callback-secret", None)
            .await?;
        v.get("callbackSecret")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::UnexpectedResponse {
                url: crate::error::redact_url(&url),
                http_status: 200,
                body: "no callbackSecret in the answer".into(),
            })
    }

    /// Issues a test card (`POST /sandbox/cards`). Returns the card as the sandbox shows it,
    /// with its full number (`pan`), which is given only this once.
    pub async fn sandbox_issue_card(&self, card: &SandboxCard) -> Result<Value> {
        let body = serde_json::to_value(card).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let (_, v) = self
            .sandbox(reqwest::Method::POST, "/sandbox/cards", Some(&body))
            .await?;
        Ok(v)
    }

    /// One sandbox call: its URL (for errors) and its JSON answer.
    async fn sandbox(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(String, Value)> {
        let base =
            self.config.endpoints.sandbox_base.as_ref().ok_or_else(|| {
                Error::Config("the sandbox API exists only on Aqsha servers".into())
            })?;
        let url = format!("{base}{path}");
        let creds = &self.config.credentials;
        let mut request = self
            .http
            .request(method, &url)
            .basic_auth(&creds.client_id, Some(creds.secret()));
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = match request.send().await {
            Ok(r) => read(r).await,
            Err(e) => Err(e),
        }
        .map_err(|e| Error::transport(&url, &e))?;
        if !answer.status.is_success() {
            return Err(self.api_error(&url, &answer));
        }
        let v = serde_json::from_slice(&answer.body).map_err(|_| unexpected(&url, &answer))?;
        Ok((url, v))
    }
}
