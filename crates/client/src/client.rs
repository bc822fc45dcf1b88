//! The client itself: tokens, transfers, status, saved cards.

mod sandbox;

pub use sandbox::SandboxCard;

use crate::card::{AccountId, CardId, InvoiceId, TerminalId};
use crate::config::{Config, StatusPath};
use crate::error::{describe, redact_url, snippet, ApiFailure, Error, Result, UnknownCause};
use crate::status::{TransactionStatus, TransferState, WaitOptions};
use crate::token::{
    parse_token_response, AccessToken, TokenBinding, SERVICE_SCOPE, TRANSFER_SCOPE,
};
use crate::transfer::{P2pTransfer, Receipt};
use aqsha_wire::codes::reason;
use aqsha_wire::status::{DeactivateResponse, SavedCard, StatusResponse};
use aqsha_wire::token::OAuthError;
use aqsha_wire::transfer::{ApiError, TransferResponse};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

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

    // ---- tokens ------------------------------------------------------------------------

    /// Requests a token with `grant_type=client_credentials`, this scope and these bound
    /// fields. Nothing is cached.
    pub async fn token(&self, scope: &str, binding: &TokenBinding) -> Result<AccessToken> {
        let creds = &self.config.credentials;
        let fields = TokenBinding {
            grant_type: Some("client_credentials".into()),
            scope: Some(scope.to_string()),
            client_id: Some(creds.client_id.clone()),
            client_secret: Some(creds.secret().to_string()),
            ..binding.clone()
        }
        .to_fields();
        self.request_token(fields).await
    }

    /// Sends a token request of these fields, as a form (or multipart, as configured).
    pub(crate) async fn request_token(
        &self,
        fields: Vec<(&'static str, String)>,
    ) -> Result<AccessToken> {
        let url = &self.config.endpoints.token_url;
        let request = if self.config.multipart_token_requests {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in fields {
                form = form.text(k, v);
            }
            self.http.post(url).multipart(form)
        } else {
            self.http.post(url).form(&fields)
        };
        let answer = match request.send().await {
            Ok(resp) => read(resp).await,
            Err(e) => Err(e),
        }
        .map_err(|e| Error::transport(url, &e))?;
        if answer.status.is_success() {
            return parse_token_response(&answer.body).map_err(|e| Error::UnexpectedResponse {
                url: redact_url(url),
                http_status: answer.status.as_u16(),
                body: e,
            });
        }
        match serde_json::from_slice::<OAuthError>(&answer.body) {
            Ok(o) => Err(Error::OAuth {
                http_status: answer.status.as_u16(),
                error: o.error,
                description: o.error_description,
            }),
            Err(_) => Err(unexpected(url, &answer)),
        }
    }

    /// A fresh transfer token bound to this transfer's invoice, amount, currency and terminal
    /// (and carrying its callback links and `secret_hash`). ePay: "for each operation you
    /// must receive and use the original token".
    pub async fn transfer_token(&self, t: &P2pTransfer) -> Result<AccessToken> {
        let terminal = self.transfer_terminal(t)?;
        let binding = TokenBinding {
            invoice_id: Some(t.invoice_id.to_string()),
            amount: Some(t.amount.to_string()),
            currency: Some(t.currency.code().to_string()),
            terminal: Some(terminal.to_string()),
            post_link: t.post_link.clone(),
            failure_post_link: t.failure_post_link.clone(),
            secret_hash: t.secret_hash.clone(),
            account_id: t.account_id.as_ref().map(|a| a.as_str().to_string()),
            ..Default::default()
        };
        self.token(TRANSFER_SCOPE, &binding).await
    }

    /// A service token (scope [`SERVICE_SCOPE`]) for read-only calls on a terminal, cached
    /// until shortly before it expires (see [`Config::token_refresh_margin`]).
    pub async fn service_token(&self, terminal: Option<&TerminalId>) -> Result<AccessToken> {
        let key = terminal.map(|t| t.to_string()).unwrap_or_default();
        let mut cache = self.service_tokens.lock().await;
        if let Some(t) = cache.get(&key) {
            if t.remaining() > self.config.token_refresh_margin {
                return Ok(t.clone());
            }
        }
        let binding = TokenBinding {
            terminal: terminal.map(|t| t.to_string()),
            ..Default::default()
        };
        let token = self.token(SERVICE_SCOPE, &binding).await?;
        if Duration::from_secs(token.expires_in) > self.config.token_refresh_margin {
            cache.insert(key, token.clone());
        } else {
            cache.remove(&key);
        }
        Ok(token)
    }

    async fn forget_service_token(&self, terminal: Option<&TerminalId>) {
        let key = terminal.map(|t| t.to_string()).unwrap_or_default();
        self.service_tokens.lock().await.remove(&key);
    }

    // ---- transfers ---------------------------------------------------------------------

    fn transfer_terminal<'a>(&'a self, t: &'a P2pTransfer) -> Result<&'a TerminalId> {
        self.terminal_for(t.terminal.as_ref()).ok_or_else(|| {
            Error::Config("no terminal: set one on the transfer or in the client config".into())
        })
    }

    fn check_transfer(&self, t: &P2pTransfer) -> Result<()> {
        if t.saves_a_card() && t.account_id.is_none() {
            return Err(Error::InvalidInput(
                "saving a card needs the order's account id (accountID)".into(),
            ));
        }
        if t.amount.is_zero() {
            return Err(Error::InvalidInput(
                "amount must be greater than zero".into(),
            ));
        }
        Ok(())
    }

    /// Makes a transfer (P2P, or an AFT/OCT built with [`P2pTransfer::fund`] or
    /// [`P2pTransfer::payout`]): gets a token bound to it, then sends it once.
    ///
    /// On [`Error::OutcomeUnknown`] (timeout, 5xx, a "poll" reason code) the transfer may or
    /// may not have happened. It is never sent again: resolve it with
    /// [`Client::wait_for_final`]. On [`Error::Api`] it was declined or refused and nothing
    /// moved.
    pub async fn transfer(&self, t: &P2pTransfer) -> Result<Receipt> {
        self.check_transfer(t)?;
        let token = self.transfer_token(t).await?;
        self.transfer_with_token(&token, t).await
    }

    /// Sends a transfer with a token the caller already has. A token is spent by the
    /// operation it authorises; sending the identical body again with the *same* token is
    /// answered with the first answer (Aqsha), never charged twice.
    pub async fn transfer_with_token(
        &self,
        token: &AccessToken,
        t: &P2pTransfer,
    ) -> Result<Receipt> {
        self.check_transfer(t)?;
        let terminal = self.transfer_terminal(t)?;
        let path = t.one_side_path();
        let url = self.api_url(path.unwrap_or(self.config.transfer_path.path()));
        let unknown = |cause| Error::OutcomeUnknown {
            invoice_id: t.invoice_id.to_string(),
            terminal: Some(terminal.to_string()),
            cause,
        };
        let body = t
            .body(terminal.as_str())
            .and_then(|b| serde_json::to_vec(&b))
            .map_err(|e| Error::InvalidInput(format!("cannot encode the transfer: {e}")))?;
        let sent = self
            .http
            .post(&url)
            .bearer_auth(token.secret())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            // Not connected: the request never left, nothing can have happened.
            Err(e) if e.is_connect() => return Err(Error::transport(&url, &e)),
            Err(e) if e.is_timeout() => return Err(unknown(UnknownCause::Timeout)),
            Err(e) => return Err(unknown(UnknownCause::Connection(describe(&e)))),
        };
        let answer = match read(resp).await {
            Ok(a) => a,
            Err(e) if e.is_timeout() => return Err(unknown(UnknownCause::Timeout)),
            Err(e) => return Err(unknown(UnknownCause::Connection(describe(&e)))),
        };
        let status = answer.status.as_u16();
        let value: Option<Value> = serde_json::from_slice(&answer.body).ok();
        if let Some(failure) = value.as_ref().and_then(|v| error_body(status, v)) {
            if answer.status.is_server_error() {
                return Err(unknown(UnknownCause::ServerError {
                    http_status: status,
                    failure: Some(Box::new(failure)),
                }));
            }
            if !failure.is_final() {
                return Err(unknown(UnknownCause::PollCode(Box::new(failure))));
            }
            return Err(Error::Api(Box::new(failure)));
        }
        if answer.status.is_server_error() {
            return Err(unknown(UnknownCause::ServerError {
                http_status: status,
                failure: None,
            }));
        }
        let unreadable = || {
            unknown(UnknownCause::UnreadableAnswer {
                http_status: status,
                body: snippet(&String::from_utf8_lossy(&answer.body), 300),
            })
        };
        if !answer.status.is_success() {
            return Err(unreadable());
        }
        let response: TransferResponse = value
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(unreadable)?;
        Receipt::from_response(response).map_err(|_| unreadable())
    }

    // ---- status ------------------------------------------------------------------------

    /// The invoice's status on the client's default terminal, via the P2P status path.
    pub async fn status(&self, invoice: &InvoiceId) -> Result<TransactionStatus> {
        self.status_on(None, self.config.status_path, invoice).await
    }

    /// The invoice's status on a terminal (the default one when `None`), via either path.
    pub async fn status_on(
        &self,
        terminal: Option<&TerminalId>,
        path: StatusPath,
        invoice: &InvoiceId,
    ) -> Result<TransactionStatus> {
        let terminal = self.terminal_for(terminal);
        let path = format!("{}{}", path.prefix(), invoice.as_str());
        let answer = self
            .service_call(reqwest::Method::GET, &path, terminal)
            .await?;
        let url = self.api_url(&path);
        if !answer.status.is_success() {
            return Err(self.api_error(&url, &answer));
        }
        let response: StatusResponse =
            serde_json::from_slice(&answer.body).map_err(|_| unexpected(&url, &answer))?;
        TransactionStatus::from_response(invoice.as_str(), response)
    }

    /// Polls the status with exponential backoff until the outcome is final; use it after
    /// [`Error::OutcomeUnknown`] instead of sending the transfer again. Uses the default
    /// terminal and [`WaitOptions::default`].
    pub async fn wait_for_final(&self, invoice: &InvoiceId) -> Result<TransactionStatus> {
        self.wait_for_final_with(None, invoice, WaitOptions::default())
            .await
    }

    /// [`Client::wait_for_final`] on a given terminal with given timing.
    pub async fn wait_for_final_with(
        &self,
        terminal: Option<&TerminalId>,
        invoice: &InvoiceId,
        options: WaitOptions,
    ) -> Result<TransactionStatus> {
        let started = Instant::now();
        let mut delay = options.initial_delay;
        let mut last: Option<TransactionStatus> = None;
        loop {
            match self
                .status_on(terminal, self.config.status_path, invoice)
                .await
            {
                Ok(s) if s.is_final() => return Ok(s),
                Ok(s)
                    if s.state == TransferState::NotFound
                        && started.elapsed() >= options.not_found_after =>
                {
                    return Ok(s)
                }
                Ok(s) => last = Some(s),
                Err(e) if transient(&e) => {}
                Err(e) => return Err(e),
            }
            if started.elapsed() + delay > options.deadline {
                return Err(Error::StillPending {
                    invoice_id: invoice.to_string(),
                    waited: started.elapsed(),
                    last: last.map(Box::new),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(options.max_delay);
        }
    }

    // ---- saved cards -------------------------------------------------------------------

    /// The customer's active saved cards. ePay answers "no saved cards" with code 1373;
    /// this returns an empty list for it.
    pub async fn saved_cards(&self, account: &AccountId) -> Result<Vec<SavedCard>> {
        let path = format!("/cards/{}", account.as_str());
        let terminal = self.terminal_for(None);
        let answer = self
            .service_call(reqwest::Method::GET, &path, terminal)
            .await?;
        let url = self.api_url(&path);
        if !answer.status.is_success() {
            return match self.api_error(&url, &answer) {
                Error::Api(f) if f.code() == reason::NO_SAVED_CARDS.code => Ok(Vec::new()),
                e => Err(e),
            };
        }
        serde_json::from_slice(&answer.body).map_err(|_| unexpected(&url, &answer))
    }

    /// Deactivates a saved card.
    pub async fn deactivate_card(&self, card: &CardId) -> Result<DeactivateResponse> {
        let path = format!("/card/deactivate/{}", card.as_str());
        let terminal = self.terminal_for(None);
        let answer = self
            .service_call(reqwest::Method::POST, &path, terminal)
            .await?;
        let url = self.api_url(&path);
        if !answer.status.is_success() {
            return Err(self.api_error(&url, &answer));
        }
        serde_json::from_slice(&answer.body).map_err(|_| unexpected(&url, &answer))
    }

    // ---- plumbing ----------------------------------------------------------------------

    /// Sends a request and reads a successful answer as JSON; any other answer is the API's
    /// error (or an unexpected response).
    pub(crate) async fn json_call<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T> {
        let answer = match request.send().await {
            Ok(r) => read(r).await,
            Err(e) => Err(e),
        }
        .map_err(|e| Error::transport(url, &e))?;
        if !answer.status.is_success() {
            return Err(self.api_error(url, &answer));
        }
        serde_json::from_slice(&answer.body).map_err(|_| unexpected(url, &answer))
    }

    /// A read-only (or idempotent) call with a cached service token; on 401 the token is
    /// replaced once, since a 401 means the call was not carried out.
    async fn service_call(
        &self,
        method: reqwest::Method,
        path: &str,
        terminal: Option<&TerminalId>,
    ) -> Result<Answer> {
        let url = self.api_url(path);
        let mut retried = false;
        loop {
            let token = self.service_token(terminal).await?;
            let answer = match self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.secret())
                .send()
                .await
            {
                Ok(r) => read(r).await,
                Err(e) => Err(e),
            }
            .map_err(|e| Error::transport(&url, &e))?;
            if answer.status == StatusCode::UNAUTHORIZED && !retried {
                retried = true;
                self.forget_service_token(terminal).await;
                continue;
            }
            return Ok(answer);
        }
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

/// Whether a failed status query may succeed if asked again.
fn transient(e: &Error) -> bool {
    match e {
        Error::Transport { .. } => true,
        Error::Status { result_code, .. } => result_code.trim() == "103",
        Error::UnexpectedResponse { http_status, .. } => *http_status >= 500,
        Error::OAuth { http_status, .. } => *http_status >= 500,
        Error::Api(f) => f.http_status >= 500 || !f.is_final(),
        _ => false,
    }
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
