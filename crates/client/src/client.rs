//! The client itself, and the plumbing its calls share: sending a request, reading the answer,
//! telling the API's error bodies from unexpected ones. The calls live by role in `tokens`,
//! `transfers`, `service` (status, saved cards) and `sandbox`.

mod sandbox;
mod service;
mod tokens;
mod transfers;

pub use sandbox::SandboxCard;

use crate::card::TerminalId;
use crate::config::Config;
use crate::error::{redact_url, snippet, ApiFailure, Error, Result};
use crate::token::AccessToken;
use aqsha_wire::transfer::ApiError;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;

/// An async client for one merchant on one ePay-compatible service.
///
/// It is cheap to share (`Arc<Client>`) and safe to use from many tasks at once; service
/// tokens are cached per terminal and shared between tasks.
pub struct Client {
    pub(crate) http: reqwest::Client,
    config: Config,
    /// Service tokens by terminal id (`""` for none). A tokio mutex, held while a token is
    /// fetched, so that concurrent callers wait for one request instead of each making one.
    service_tokens: tokio::sync::Mutex<HashMap<String, AccessToken>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How an HTTP answer arrived: status and body bytes.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl Client {
    pub fn new(config: Config) -> Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("aqsha-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            config,
            service_tokens: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn api_url(&self, path: &str) -> String {
        format!("{}{}", self.config.endpoints.api_base, path)
    }

    fn terminal_for<'a>(&'a self, t: Option<&'a TerminalId>) -> Option<&'a TerminalId> {
        t.or(self.config.terminal.as_ref())
    }

    // ---- plumbing ----------------------------------------------------------------------

    /// Sends a request and reads a successful answer as JSON; any other answer is the API's
    /// error (or an unexpected response).
    pub(crate) async fn json_call<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T> {
        let answer = send(url, request).await?;
        self.json_answer(url, &answer)
    }

    /// A successful answer read as JSON; any other answer is the API's error (or an
    /// unexpected response).
    fn json_answer<T: serde::de::DeserializeOwned>(&self, url: &str, answer: &Answer) -> Result<T> {
        if !answer.status.is_success() {
            return Err(self.api_error(url, answer));
        }
        serde_json::from_slice(&answer.body).map_err(|_| unexpected(url, answer))
    }

    fn api_error(&self, url: &str, answer: &Answer) -> Error {
        let status = answer.status.as_u16();
        match serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|v| error_body(status, &v))
        {
            Some(f) => Error::Api(Box::new(f)),
            None => unexpected(url, answer),
        }
    }
}

/// Sends a request and reads its whole answer; a failure to do either is a transport error.
async fn send(url: &str, request: reqwest::RequestBuilder) -> Result<Answer> {
    match request.send().await {
        Ok(r) => read(r).await,
        Err(e) => Err(e),
    }
    .map_err(|e| Error::transport(url, &e))
}

async fn read(resp: reqwest::Response) -> std::result::Result<Answer, reqwest::Error> {
    let status = resp.status();
    let body = resp.bytes().await?.to_vec();
    Ok(Answer { status, body })
}

fn unexpected(url: &str, answer: &Answer) -> Error {
    Error::UnexpectedResponse {
        url: redact_url(url),
        http_status: answer.status.as_u16(),
        body: snippet(&String::from_utf8_lossy(&answer.body), 300),
    }
}

/// The SDK's rule (`docs/protocol.md#transfers`): a body with an integer `code` and a string
/// `message` is an error, whatever the HTTP status. Missing optional fields are read as empty.
fn error_body(http_status: u16, v: &Value) -> Option<ApiFailure> {
    let code = v.get("code")?.as_u64()?;
    let message = v.get("message")?.as_str()?;
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some(ApiFailure::new(
        http_status,
        ApiError {
            code: u32::try_from(code).unwrap_or(u32::MAX),
            message: message.to_string(),
            invoice_id: text("invoiceId"),
            id: text("id"),
            reference: text("reference"),
            account_id: text("accountId"),
        },
    ))
}
