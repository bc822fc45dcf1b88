//! Limits and timeouts on what the server takes in, and the answers it gives when one is hit.
//!
//! The connection-level limits (how many connections, how long one may sit idle or take to
//! send its headers) are enforced by the accept loop in [`crate::listener`]; the request-level
//! ones are middleware here, so that their refusals are ordinary responses in the API's error
//! shape: an oversized URI (414) or header block (431), too many requests in flight (503), and
//! a request that took too long (503). Every refusal names the limit in its message.
//!
//! A refusal here has done nothing: the handler either never ran, or (a timeout) was dropped
//! before answering, and a transfer is committed whole or not at all. Resending the same
//! request with the same token is safe in every case (docs/api.md, "Retries and
//! idempotency"), so a 503's reason code is 100 — a "poll" code, not a final one — and it
//! carries `Retry-After`. A 414 or 431 is bad input, 477, like an oversized body's 413.

use crate::error::{EpayError, OAuthFailure};
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Most headers a request may carry; more get a JSON 431 from [`guard`]. hyper is told to
/// accept up to [`HYPER_MAX_HEADERS`], so that its own bare 431 is only for far more.
pub const MAX_HEADERS: usize = 100;
pub const HYPER_MAX_HEADERS: usize = 1000;

/// Every limit, with defaults that work on a small machine with the common 1,024 open files.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time to send a complete request line and headers, counted from the request's first
    /// byte, and for the first request of a connection from the moment it was accepted (a
    /// client that connects has something to say). Also bounds the TLS handshake.
    pub header_read_timeout: Duration,
    /// Time a kept-alive connection may wait, between requests, for the next one to begin.
    pub idle_timeout: Duration,
    /// Time from a request's headers to its response, body reading included.
    pub request_timeout: Duration,
    /// Open connections; further ones wait in the kernel's accept queue. `None`: derived from
    /// the open-file limit at start ([`default_max_connections`]).
    pub max_connections: Option<usize>,
    /// Requests being handled at once; more are answered 503 at once.
    pub max_in_flight: usize,
    /// Writes that may wait for the database writer; more are answered 503 at once.
    pub writer_queue: usize,
    /// Longest request target (path and query) in bytes; longer ones get a JSON 414.
    pub max_uri_bytes: usize,
    /// Largest header block (names, values and separators) in bytes; a larger one gets a
    /// JSON 431. Tokens travel in a header and can be about 8,000 characters long.
    pub max_header_bytes: usize,
    /// After SIGTERM: how long requests in flight get to finish before connections are cut.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: None,
            max_in_flight: 1024,
            writer_queue: aqsha_store::DEFAULT_WRITER_QUEUE,
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 32 * 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Descriptors kept free for everything but client connections: the database (SQLite's file,
/// WAL and readers, or PostgreSQL's sockets), callback deliveries (at most 256 at once, see
/// `callbacks::MAX_IN_FLIGHT`), the listener, logs and the runtime's own.
pub const RESERVED_FILES: u64 = 256 + 64;
/// Past this many connections, memory matters more than descriptors.
pub const MAX_DEFAULT_CONNECTIONS: u64 = 10_000;
/// hyper refuses, with its own bare 414, any request target longer than this.
pub const HYPER_MAX_URI: usize = 65_534;

/// The connection cap that fits under an open-file limit: the limit less [`RESERVED_FILES`],
/// at most [`MAX_DEFAULT_CONNECTIONS`]; on a tiny limit, half of it.
pub fn default_max_connections(open_files: u64) -> usize {
    let cap = if open_files > 2 * RESERVED_FILES {
        open_files - RESERVED_FILES
    } else {
        open_files / 2
    };
    cap.clamp(1, MAX_DEFAULT_CONNECTIONS) as usize
}

/// Raises the open-file soft limit to the hard limit and returns the limit in force (`None`
/// where it cannot be read). A server that runs out of descriptors stops accepting anything,
/// health checks included, so it takes all it is allowed.
pub fn raise_open_files() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// Refuses limits that cannot work, naming the flag.
pub fn validate(l: &Limits) -> anyhow::Result<()> {
    for (flag, d) in [
        ("header-read-timeout", l.header_read_timeout),
        ("idle-timeout", l.idle_timeout),
        ("request-timeout", l.request_timeout),
    ] {
        if d.is_zero() {
            anyhow::bail!("--{flag} must be longer than zero");
        }
    }
    for (flag, n) in [
        ("max-in-flight", l.max_in_flight),
        ("writer-queue", l.writer_queue),
        ("max-connections", l.max_connections.unwrap_or(1)),
    ] {
        if n == 0 {
            anyhow::bail!("--{flag} must be at least 1");
        }
    }
    if !(256..=HYPER_MAX_URI).contains(&l.max_uri_bytes) {
        anyhow::bail!("--max-uri-bytes must be between 256 and {HYPER_MAX_URI}");
    }
    // A token travels in the Authorization header and can be about 8,000 characters.
    if !(16 * 1024..=1024 * 1024).contains(&l.max_header_bytes) {
        anyhow::bail!("--max-header-bytes must be between 16384 and 1048576");
    }
    Ok(())
}

/// The shape a refusal is answered in, by the path asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The token endpoint: RFC 6749's error body.
    Token,
    /// Every other API path: the seed's error envelope.
    Epay,
    /// A page ([`crate::pages::is_page_path`]): an HTML error page, in the browser's language.
    Page(Lang),
}

impl Shape {
    pub fn of(req: &Request) -> Shape {
        let path = req.uri().path();
        if path == "/oauth2/token" || path == "/epay2/oauth2/token" {
            Shape::Token
        } else if crate::pages::is_page_path(path) {
            Shape::Page(Lang::from_headers(req.headers()))
        } else {
            Shape::Epay
        }
    }
}

/// A refusal in the shape the path asks for. 503s say when to come back; every refusal closes
/// the connection, because the request's body (if any) was not read.
pub fn refusal(
    shape: Shape,
    status: StatusCode,
    detail: &str,
    retry_after: Option<u64>,
) -> Response {
    let mut resp = match shape {
        Shape::Token => {
            let error = if status == StatusCode::SERVICE_UNAVAILABLE {
                "temporarily_unavailable"
            } else {
                "invalid_request"
            };
            OAuthFailure::new(status, error, detail).into_response()
        }
        Shape::Epay => {
            // Too large is bad input (477, final: the same request fails again); busy or too
            // slow is a "poll" code (100): nothing is known to have failed for good.
            let code = if status == StatusCode::SERVICE_UNAVAILABLE {
                aqsha_wire::reason::SYSTEM_ERROR
            } else {
                aqsha_wire::reason::FORMAT_ERROR
            };
            EpayError::new(status, code, detail).into_response()
        }
        // The page says what the status means; the limit's wording is for API clients.
        Shape::Page(lang) => PageError::new(status, lang).into_response(),
    };
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if let Some(secs) = retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// Seconds a refused client is asked to wait: a batch commits in milliseconds, so the queue
/// that was full is most likely drained by then.
pub const RETRY_AFTER_SECS: u64 = 1;

/// What the request middleware needs, shared by all requests.
#[derive(Clone)]
pub struct Guard {
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    request_timeout: Duration,
    max_uri_bytes: usize,
    max_header_bytes: usize,
    /// A flood is refused thousands of times a second; it is logged once in a while.
    full_log: Arc<crate::listener::Throttle>,
}

impl Guard {
    pub fn new(limits: &Limits) -> Guard {
        Guard {
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight)),
            max_in_flight: limits.max_in_flight,
            request_timeout: limits.request_timeout,
            max_uri_bytes: limits.max_uri_bytes,
            max_header_bytes: limits.max_header_bytes,
            full_log: Arc::new(crate::listener::Throttle::new(Duration::from_secs(10))),
        }
    }
}

/// Size checks, then the in-flight cap, then the request timeout, around every route. The
/// size checks run first because they cost nothing and need no slot.
pub async fn guard(
    axum::extract::State(g): axum::extract::State<Guard>,
    req: Request,
    next: Next,
) -> Response {
    if let Some((status, detail)) = oversized(&g, &req) {
        return refusal(Shape::of(&req), status, &detail, None);
    }
    // The liveness probe is never refused: a busy server is alive, and a balancer that took
    // "busy" for "dead" would move the load onto fewer instances.
    let _slot = if req.uri().path() == "/healthz" {
        None
    } else {
        match g.in_flight.clone().try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) => return busy(&g, Shape::of(&req)),
        }
    };
    // Read before the request moves into the handler; only a timeout uses it.
    let shape = Shape::of(&req);
    match tokio::time::timeout(g.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        // The handler is dropped here. A transfer it had handed to the writer still commits
        // (or not) as a whole; the caller learns which from the status, or by resending.
        Err(_) => refusal(
            shape,
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "request not completed within {} s; query the operation status, or send the \
                 same request again with the same token",
                g.request_timeout.as_secs_f64()
            ),
            Some(RETRY_AFTER_SECS),
        ),
    }
}

/// The first size limit the request's head is over, with the refusal's status and message.
fn oversized(g: &Guard, req: &Request) -> Option<(StatusCode, String)> {
    let target = req
        .uri()
        .path_and_query()
        .map_or(req.uri().path().len(), |p| p.as_str().len());
    if target > g.max_uri_bytes {
        let why = format!("request target longer than {} bytes", g.max_uri_bytes);
        return Some((StatusCode::URI_TOO_LONG, why));
    }
    // As sent: "name: value\r\n" per header.
    let head: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if head > g.max_header_bytes {
        let why = format!("headers larger than {} bytes", g.max_header_bytes);
        return Some((StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, why));
    }
    if req.headers().len() > MAX_HEADERS {
        let why = format!("more than {MAX_HEADERS} headers");
        return Some((StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, why));
    }
    None
}

/// The answer when every in-flight slot is taken.
fn busy(g: &Guard, shape: Shape) -> Response {
    if g.full_log.ready() {
        tracing::warn!(
            limit = g.max_in_flight,
            "in-flight request cap reached; answering 503 (logged every 10 s at most)"
        );
    }
    refusal(
        shape,
        StatusCode::SERVICE_UNAVAILABLE,
        &format!(
            "server busy ({} requests in flight), nothing was done; send the same \
             request again after Retry-After",
            g.max_in_flight
        ),
        Some(RETRY_AFTER_SECS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_room_under_the_open_file_limit() {
        assert_eq!(
            default_max_connections(1024),
            1024 - RESERVED_FILES as usize
        );
        assert_eq!(default_max_connections(1_048_576), 10_000);
        assert_eq!(default_max_connections(256), 128);
        assert_eq!(default_max_connections(0), 1);
    }
}
