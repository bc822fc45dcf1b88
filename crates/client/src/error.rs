//! The client's errors. Each says whether the operation is over (final) or whether its outcome
//! is unknown and must be resolved by asking for the status, never by sending it again.

use crate::status::TransactionStatus;
use aqsha_wire::codes::{self, ReasonCode};
use aqsha_wire::transfer::ApiError;
use std::fmt;
use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An ePay error body (`{"code","message","invoiceId",...}`) with its reason code looked up in
/// the table of `docs/protocol.md#reason-codes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// The HTTP status it came with.
    pub http_status: u16,
    /// The body as received.
    pub body: ApiError,
    /// The table entry for the code; `None` for a code ePay does not document.
    pub reason: Option<ReasonCode>,
}

impl ApiFailure {
    pub fn new(http_status: u16, body: ApiError) -> ApiFailure {
        let reason = codes::lookup(body.code);
        ApiFailure {
            http_status,
            body,
            reason,
        }
    }

    pub fn code(&self) -> u32 {
        self.body.code
    }

    /// What the code means, from the table; the server's message when the code is unknown.
    pub fn meaning(&self) -> &str {
        match &self.reason {
            Some(r) => r.message,
            None => self.body.message.trim(),
        }
    }

    /// Whether the operation is over. Codes outside the table count as not final: asking for
    /// the status is always safe, assuming the outcome is not.
    pub fn is_final(&self) -> bool {
        self.reason.is_some_and(|r| r.is_final)
    }

    pub fn message(&self) -> &str {
        self.body.message.trim()
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "code {} ({}, {}): {}",
            self.code(),
            self.meaning(),
            if self.is_final() {
                "final"
            } else {
                "not final: query the status"
            },
            self.message()
        )
    }
}

/// Why a transfer's outcome is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownCause {
    /// No complete answer within the client's timeout.
    Timeout,
    /// The connection failed after the request may have been sent.
    Connection(String),
    /// The server answered 5xx (possibly with an error body).
    ServerError {
        http_status: u16,
        failure: Option<Box<ApiFailure>>,
    },
    /// A "poll" reason code (`docs/protocol.md#reason-codes`): the server itself does not know yet.
    PollCode(Box<ApiFailure>),
    /// An answer that is neither a receipt nor an error body.
    UnreadableAnswer { http_status: u16, body: String },
}

impl fmt::Display for UnknownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnknownCause::Timeout => f.write_str("no answer within the timeout"),
            UnknownCause::Connection(e) => write!(f, "connection failed: {e}"),
            UnknownCause::ServerError {
                http_status,
                failure: Some(fl),
            } => write!(f, "server error HTTP {http_status}, {fl}"),
            UnknownCause::ServerError { http_status, .. } => {
                write!(f, "server error HTTP {http_status}")
            }
            UnknownCause::PollCode(fl) => write!(f, "{fl}"),
            UnknownCause::UnreadableAnswer { http_status, body } => {
                write!(f, "unreadable answer, HTTP {http_status}: {body}")
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input caught before anything was sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The client is not configured for this call.
    #[error("configuration: {0}")]
    Config(String),

    /// The token endpoint refused (RFC 6749 §5.2). Nothing was transferred.
    #[error("token request refused, HTTP {http_status}: {error}: {description}")]
    OAuth {
        http_status: u16,
        error: String,
        description: String,
    },

    /// The API answered with an error body whose code is final: a decline or a refusal. For a
    /// transfer this means nothing moved.
    #[error("{0}")]
    Api(Box<ApiFailure>),

    /// A transfer was sent (or may have been) and its outcome is unknown. Do not send it again
    /// with a new token: call [`crate::Client::wait_for_final`] for this invoice.
    #[error(
        "outcome of invoice {invoice_id} is unknown ({cause}); query its status, do not resend"
    )]
    OutcomeUnknown {
        invoice_id: String,
        terminal: Option<String>,
        cause: UnknownCause,
    },

    /// The status endpoint answered with a result code that is not an answer about the
    /// invoice (`103` error, `104` no terminal in the token, `109` not the client's terminal).
    #[error("status query failed: resultCode {result_code} ({result_message})")]
    Status {
        result_code: String,
        result_message: String,
    },

    /// [`crate::Client::wait_for_final`] ran out of time with the outcome still open.
    #[error("invoice {invoice_id} still has no final outcome after {waited:?}")]
    StillPending {
        invoice_id: String,
        waited: Duration,
        last: Option<Box<TransactionStatus>>,
    },

    /// A call that moves no money could not be completed (connection refused, timeout). It
    /// is safe to repeat.
    #[error("request to {url} failed: {message}")]
    Transport {
        url: String,
        message: String,
        timeout: bool,
    },

    /// An answer the client cannot read.
    #[error("unexpected answer from {url}, HTTP {http_status}: {body}")]
    UnexpectedResponse {
        url: String,
        http_status: u16,
        body: String,
    },

    /// A callback failed verification.
    #[error("callback rejected: {0}")]
    Callback(#[from] crate::callback::CallbackError),
}

impl Error {
    /// The reason code, when the server gave one.
    pub fn reason_code(&self) -> Option<u32> {
        match self {
            Error::Api(f) => Some(f.code()),
            Error::OutcomeUnknown {
                cause: UnknownCause::PollCode(f),
                ..
            }
            | Error::OutcomeUnknown {
                cause:
                    UnknownCause::ServerError {
                        failure: Some(f), ..
                    },
                ..
            } => Some(f.code()),
            _ => None,
        }
    }

    /// The table entry for [`Error::reason_code`].
    pub fn reason(&self) -> Option<ReasonCode> {
        self.reason_code().and_then(codes::lookup)
    }

    /// Whether the operation is settled, so that nothing more will happen to it. `false` for
    /// an unknown outcome, which must be resolved by asking for the status.
    pub fn is_final(&self) -> bool {
        match self {
            Error::OutcomeUnknown { .. } | Error::StillPending { .. } => false,
            Error::Api(f) => f.is_final(),
            _ => true,
        }
    }

    /// True when a transfer may have happened and its status must be checked.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::OutcomeUnknown { .. } | Error::StillPending { .. }
        )
    }

    pub(crate) fn transport(url: &str, e: &reqwest::Error) -> Error {
        Error::Transport {
            url: redact_url(url),
            message: describe(e),
            timeout: e.is_timeout(),
        }
    }
}

/// A reqwest error with its causes, without the URL (which may carry ids).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The URL without its query string.
pub(crate) fn redact_url(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// At most `n` characters of a body, for error messages.
pub(crate) fn snippet(body: &str, n: usize) -> String {
    let t = body.trim();
    if t.chars().count() <= n {
        t.to_string()
    } else {
        let cut: String = t.chars().take(n).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: u32) -> ApiFailure {
        ApiFailure::new(
            400,
            ApiError {
                code,
                message: " Not permitted to merchant".into(),
                invoice_id: "8161284658529816".into(),
                id: String::new(),
                reference: String::new(),
                account_id: String::new(),
            },
        )
    }

    #[test]
    fn codes_carry_meaning_and_finality() {
        let f = failure(487);
        assert!(f.is_final());
        assert_eq!(f.meaning(), "Not permitted to merchant");
        assert!(f.to_string().contains("code 487"));
        let poll = failure(454);
        assert!(!poll.is_final());
        let unknown = failure(9999);
        assert!(!unknown.is_final());
        assert_eq!(unknown.meaning(), "Not permitted to merchant");
        let e = Error::OutcomeUnknown {
            invoice_id: "123456".into(),
            terminal: None,
            cause: UnknownCause::PollCode(Box::new(poll)),
        };
        assert_eq!(e.reason_code(), Some(454));
        assert!(!e.is_final());
        assert!(Error::Api(Box::new(failure(484))).is_final());
    }
}
