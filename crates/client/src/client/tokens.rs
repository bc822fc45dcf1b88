//! Tokens: a transfer token bound to one transfer, and service tokens cached per terminal.

use super::{send, unexpected, Client};
use crate::card::TerminalId;
use crate::error::{redact_url, Error, Result};
use crate::token::{
    parse_token_response, AccessToken, TokenBinding, SERVICE_SCOPE, TRANSFER_SCOPE,
};
use crate::transfer::P2pTransfer;
use aqsha_wire::token::OAuthError;
use std::time::Duration;

impl Client {
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
        let answer = send(url, request).await?;
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

    pub(super) async fn forget_service_token(&self, terminal: Option<&TerminalId>) {
        let key = terminal.map(|t| t.to_string()).unwrap_or_default();
        self.service_tokens.lock().await.remove(&key);
    }
}
