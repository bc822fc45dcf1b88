//! Sending a transfer once, and reading what came back: a receipt, a wait for 3-D Secure, a
//! refusal, or an outcome not known (which is never sent again, only resolved by its status).

use super::{error_body, read, Client};
use crate::card::TerminalId;
use crate::error::{describe, snippet, Error, Result, UnknownCause};
use crate::secure3d::TransferOutcome;
use crate::token::AccessToken;
use crate::transfer::P2pTransfer;
use aqsha_wire::transfer::TransferResponse;
use serde_json::Value;

impl Client {
    pub(super) fn transfer_terminal<'a>(&'a self, t: &'a P2pTransfer) -> Result<&'a TerminalId> {
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
    /// [`TransferOutcome::Completed`] carries the receipt; [`TransferOutcome::Secure3d`]
    /// says that nothing has moved yet: the sender's card must pass 3-D Secure in the
    /// cardholder's browser first, and the outcome then comes by callback or status.
    ///
    /// On [`Error::OutcomeUnknown`] (timeout, 5xx, a "poll" reason code) the transfer may or
    /// may not have happened. It is never sent again: resolve it with
    /// [`Client::wait_for_final`]. On [`Error::Api`] it was declined or refused and nothing
    /// moved.
    pub async fn transfer(&self, t: &P2pTransfer) -> Result<TransferOutcome> {
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
    ) -> Result<TransferOutcome> {
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
        TransferOutcome::from_response(response).map_err(|_| unreadable())
    }
}
