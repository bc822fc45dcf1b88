//! Aqsha's sandbox API (`/sandbox/*`, `docs/sandbox.md`, HTTP Basic with the client
//! credentials): calls that exist only on Aqsha servers; real ePay has no such API.

use super::{send, unexpected, Answer, Client};
use crate::error::{Error, Result};
use crate::money::{Amount, Currency};
use serde::Serialize;
use serde_json::{json, Value};

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
    /// Enrolled in 3-D Secure: transfers paid with its number wait for the ACS challenge.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secure3d: bool,
}

impl Client {
    /// The key Aqsha signs this merchant's callbacks with (`GET /sandbox/callback-secret`).
    /// Only Aqsha has it; real ePay signs nothing.
    pub async fn sandbox_callback_secret(&self) -> Result<String> {
        let (url, answer, v) = self
            .sandbox(reqwest::Method::GET, "/sandbox/callback-secret", None)
            .await?;
        v.get("callbackSecret")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| unexpected(&url, &answer))
    }

    /// Moves `amount` into the merchant's settlement account (what OCT payouts are paid
    /// from) from its sandbox funding account (`POST /sandbox/merchant/fund`). Returns the
    /// account's new balance.
    pub async fn sandbox_fund(&self, amount: Amount, currency: Currency) -> Result<Amount> {
        let body = json!({"amount": amount.to_wire(), "currency": currency.code()});
        let (url, answer, v) = self
            .sandbox(reqwest::Method::POST, "/sandbox/merchant/fund", Some(body))
            .await?;
        v.get("balance")
            .map(|b| b.to_string())
            .and_then(|b| Amount::parse_non_negative(&b).ok())
            .ok_or_else(|| unexpected(&url, &answer))
    }

    /// Issues a test card (`POST /sandbox/cards`). Returns the card as the sandbox shows it,
    /// with its full number (`pan`), which is given only this once.
    pub async fn sandbox_issue_card(&self, card: &SandboxCard) -> Result<Value> {
        let body = serde_json::to_value(card).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let (_, _, v) = self
            .sandbox(reqwest::Method::POST, "/sandbox/cards", Some(body))
            .await?;
        Ok(v)
    }

    /// One sandbox call: its URL, the answer and the JSON in it.
    async fn sandbox(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(String, Answer, Value)> {
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
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let answer = send(&url, request).await?;
        let v = self.json_answer(&url, &answer)?;
        Ok((url, answer, v))
    }
}
