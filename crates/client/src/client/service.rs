//! The calls made with a cached service token: a transfer's status (and waiting for a final
//! one), saved cards and their deactivation.

use super::{send, Answer, Client};
use crate::card::{AccountId, CardId, InvoiceId, TerminalId};
use crate::config::StatusPath;
use crate::error::{Error, Result};
use crate::status::{TransactionStatus, TransferState, WaitOptions};
use aqsha_wire::codes::reason;
use aqsha_wire::status::{DeactivateResponse, SavedCard, StatusResponse};
use reqwest::StatusCode;
use std::time::Instant;

impl Client {
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
        let response: StatusResponse = self
            .service_json(reqwest::Method::GET, &path, terminal)
            .await?;
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

    /// The customer's active saved cards. ePay answers "no saved cards" with code 1373;
    /// this returns an empty list for it.
    pub async fn saved_cards(&self, account: &AccountId) -> Result<Vec<SavedCard>> {
        let path = format!("/cards/{}", account.as_str());
        let terminal = self.terminal_for(None);
        match self
            .service_json(reqwest::Method::GET, &path, terminal)
            .await
        {
            Err(Error::Api(f)) if f.code() == reason::NO_SAVED_CARDS.code => Ok(Vec::new()),
            answer => answer,
        }
    }

    /// Deactivates a saved card.
    pub async fn deactivate_card(&self, card: &CardId) -> Result<DeactivateResponse> {
        let path = format!("/card/deactivate/{}", card.as_str());
        let terminal = self.terminal_for(None);
        self.service_json(reqwest::Method::POST, &path, terminal)
            .await
    }

    // ---- plumbing ----------------------------------------------------------------------

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
            let request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.secret());
            let answer = send(&url, request).await?;
            if answer.status == StatusCode::UNAUTHORIZED && !retried {
                retried = true;
                self.forget_service_token(terminal).await;
                continue;
            }
            return Ok(answer);
        }
    }

    /// A [`Client::service_call`] whose successful answer is JSON; any other answer is the
    /// API's error (or an unexpected response).
    async fn service_json<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        terminal: Option<&TerminalId>,
    ) -> Result<T> {
        let answer = self.service_call(method, path, terminal).await?;
        self.json_answer(&self.api_url(path), &answer)
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
