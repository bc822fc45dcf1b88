//! Where the client connects and as whom.

use crate::card::TerminalId;
use std::fmt;
use std::time::Duration;

/// The token URL and the API base of one ePay-compatible service
/// (`docs/protocol.md#hosts-and-paths`).
///
/// ePay runs OAuth and the API on separate hosts, and its test API carries an `/api` prefix
/// that production lacks; an Aqsha server answers everything on one base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Full URL of the token endpoint.
    pub token_url: String,
    /// API base without a trailing slash; paths such as `/payments/cards/auth` are appended.
    pub api_base: String,
    /// Base of Aqsha's sandbox API (`/sandbox/...`); `None` for real ePay, which has none.
    pub sandbox_base: Option<String>,
}

impl Endpoints {
    /// ePay's test environment as the seed document names it:
    /// `testoauth.homebank.kz/epay2/oauth2/token` and `testepay.homebank.kz/api`.
    pub fn epay_test() -> Endpoints {
        Endpoints {
            token_url: "https://testoauth.homebank.kz/epay2/oauth2/token".into(),
            api_base: "https://testepay.homebank.kz/api".into(),
            sandbox_base: None,
        }
    }

    /// ePay's test environment on the newer `epayment.kz` hosts (no `/api` prefix).
    pub fn epay_test_epayment() -> Endpoints {
        Endpoints {
            token_url: "https://test-epay-oauth.epayment.kz/oauth2/token".into(),
            api_base: "https://test-epay-api.epayment.kz".into(),
            sandbox_base: None,
        }
    }

    /// ePay production: `epay-oauth.homebank.kz/oauth2/token` and `epay-api.homebank.kz`.
    pub fn epay_production() -> Endpoints {
        Endpoints {
            token_url: "https://epay-oauth.homebank.kz/oauth2/token".into(),
            api_base: "https://epay-api.homebank.kz".into(),
            sandbox_base: None,
        }
    }

    /// Any Aqsha server by its base URL (`http://127.0.0.1:8080`): the token endpoint at
    /// `{base}/oauth2/token`, the API at `{base}/...`, the sandbox API at `{base}/sandbox`.
    pub fn aqsha(base_url: &str) -> Result<Endpoints, crate::Error> {
        let base = normalize_base(base_url)?;
        Ok(Endpoints {
            token_url: format!("{base}/oauth2/token"),
            api_base: base.clone(),
            sandbox_base: Some(base),
        })
    }

    /// Explicit URLs, for a deployment that fits none of the presets.
    pub fn custom(token_url: &str, api_base: &str) -> Result<Endpoints, crate::Error> {
        let token_url = token_url.trim();
        check_http(token_url)?;
        Ok(Endpoints {
            token_url: token_url.to_string(),
            api_base: normalize_base(api_base)?,
            sandbox_base: None,
        })
    }
}

fn check_http(url: &str) -> Result<(), crate::Error> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(crate::Error::Config(format!(
            "{url:?} is not an http:// or https:// URL"
        )))
    }
}

fn normalize_base(url: &str) -> Result<String, crate::Error> {
    let u = url.trim().trim_end_matches('/');
    check_http(u)?;
    Ok(u.to_string())
}

/// The merchant's `client_id` and `client_secret`. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    client_secret: String,
}

impl Credentials {
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Credentials {
        Credentials {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        }
    }

    pub fn secret(&self) -> &str {
        &self.client_secret
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .finish()
    }
}

/// Which path a transfer is POSTed to. Both take the same body (`docs/protocol.md#transfers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransferPath {
    /// `/payments/cards/auth`, the documented path.
    #[default]
    PaymentsCardsAuth,
    /// `/p2p/transfer`, the path Halyk's SDK uses.
    P2pTransfer,
}

impl TransferPath {
    pub fn path(self) -> &'static str {
        match self {
            TransferPath::PaymentsCardsAuth => "/payments/cards/auth",
            TransferPath::P2pTransfer => "/p2p/transfer",
        }
    }
}

/// Which status path to ask (`docs/protocol.md#status`). Aqsha answers both with the same envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusPath {
    /// `/check-status/p2p/transaction/{invoice}`.
    #[default]
    P2p,
    /// `/check-status/payment/transaction/{invoice}`.
    Payment,
}

impl StatusPath {
    pub fn prefix(self) -> &'static str {
        match self {
            StatusPath::P2p => "/check-status/p2p/transaction/",
            StatusPath::Payment => "/check-status/payment/transaction/",
        }
    }
}

/// Everything a [`crate::Client`] needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub endpoints: Endpoints,
    pub credentials: Credentials,
    /// The terminal used when a call does not name one. Status queries are per terminal.
    pub terminal: Option<TerminalId>,
    /// Whole-request deadline for every HTTP call.
    pub timeout: Duration,
    /// Deadline for establishing a connection.
    pub connect_timeout: Duration,
    /// A cached service token is replaced when less than this is left of its life; a token
    /// that lives shorter than this is not cached at all.
    pub token_refresh_margin: Duration,
    pub transfer_path: TransferPath,
    pub status_path: StatusPath,
    /// Send the token request as `multipart/form-data` (the seed's "form-data") instead of
    /// `application/x-www-form-urlencoded` (what most real clients send).
    pub multipart_token_requests: bool,
}

impl Config {
    pub fn new(endpoints: Endpoints, credentials: Credentials) -> Config {
        Config {
            endpoints,
            credentials,
            terminal: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            token_refresh_margin: Duration::from_secs(60),
            transfer_path: TransferPath::default(),
            status_path: StatusPath::default(),
            multipart_token_requests: false,
        }
    }

    pub fn with_terminal(mut self, terminal: TerminalId) -> Config {
        self.terminal = Some(terminal);
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Config {
        self.timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_put_tokens_and_api_where_epay_has_them() {
        let t = Endpoints::epay_test();
        assert!(t
            .token_url
            .ends_with("testoauth.homebank.kz/epay2/oauth2/token"));
        assert!(t.api_base.ends_with("/api"));
        let p = Endpoints::epay_production();
        assert_eq!(p.token_url, "https://epay-oauth.homebank.kz/oauth2/token");
        assert_eq!(p.api_base, "https://epay-api.homebank.kz");
        let a = Endpoints::aqsha("http://127.0.0.1:8080/").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.token_url, "http://127.0.0.1:8080/oauth2/token");
        assert_eq!(a.api_base, "http://127.0.0.1:8080");
        assert!(Endpoints::aqsha("127.0.0.1:8080").is_err());
        let c = Credentials::new("test", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
