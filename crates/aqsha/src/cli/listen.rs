//! `aqsha listen`: a local callback receiver, like `stripe listen`.
//!
//! Every POST it receives is treated as a postLink / failurePostLink callback: it is verified
//! (Aqsha's signature with the merchant's callback key, `secret_hash` if given), printed, and
//! optionally forwarded byte for byte, with its `X-Aqsha-*` headers, to another URL. The
//! sender gets 401 for a callback that fails verification, the forward target's status when
//! forwarding, and 200 otherwise.

use super::conn::ConnArgs;
use anyhow::{anyhow, Context};
use aqsha_client::callback::{ATTEMPT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER};
use aqsha_client::{CallbackError, CallbackVerifier, Client};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Router;
use clap::Args;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct ListenArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Address to listen on; port 0 picks a free one (printed on the first line).
    #[arg(long, default_value = "127.0.0.1:4242")]
    listen: SocketAddr,
    /// Forward each callback (raw body and X-Aqsha-* headers) to this URL; a callback's path
    /// is appended to it.
    #[arg(long)]
    forward: Option<String>,
    /// Expected secret_hash (the one given at token time).
    #[arg(long, env = "AQSHA_SECRET_HASH", hide_env_values = true)]
    secret_hash: Option<String>,
    /// Aqsha callback signing key. By default it is fetched from the server's sandbox API
    /// (GET /sandbox/callback-secret) when the server is an Aqsha one.
    #[arg(long, env = "AQSHA_CALLBACK_SECRET", hide_env_values = true)]
    signing_secret: Option<String>,
    /// Do not check signatures (ePay signs nothing).
    #[arg(long, conflicts_with = "signing_secret")]
    no_signature_check: bool,
    /// Accepted clock difference for signature timestamps, in seconds.
    #[arg(long, default_value_t = 300)]
    tolerance: u64,
    /// Exit after this many callbacks.
    #[arg(long)]
    count: Option<usize>,
}

struct Shared {
    verifier: CallbackVerifier,
    forward: Option<String>,
    http: reqwest::Client,
    json: bool,
    seen: tokio::sync::mpsc::UnboundedSender<()>,
}

pub async fn run(a: ListenArgs) -> anyhow::Result<u8> {
    let resolved = a.conn.resolve()?;
    let json = resolved.json;
    let verifier = verifier(&a, &resolved.config).await?;
    let http = reqwest::Client::builder()
        .timeout(resolved.config.timeout)
        .build()
        .map_err(|e| anyhow!("cannot build the HTTP client: {e}"))?;
    let forward = a
        .forward
        .as_ref()
        .map(|f| f.trim_end_matches('/').to_string());
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    announce(
        json,
        &format!("http://{addr}"),
        &verifier,
        forward.as_deref(),
    );
    let shared = Arc::new(Shared {
        verifier,
        forward,
        http,
        json,
        seen: tx,
    });
    let app = Router::new().fallback(handle).with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop_after(rx, a.count))
        .await
        .context("callback receiver failed")?;
    Ok(0)
}

/// The checks asked for: `secret_hash` if given, and the signature with the key given, or
/// fetched from an Aqsha server's sandbox API, unless switched off.
async fn verifier(
    a: &ListenArgs,
    config: &aqsha_client::Config,
) -> anyhow::Result<CallbackVerifier> {
    let mut verifier = CallbackVerifier::new().tolerance(Duration::from_secs(a.tolerance));
    if let Some(h) = &a.secret_hash {
        verifier = verifier.secret_hash(h.clone());
    }
    let signing = if a.no_signature_check {
        None
    } else if let Some(s) = &a.signing_secret {
        Some(s.clone())
    } else if config.endpoints.sandbox_base.is_some() {
        let client = Client::new(config.clone())?;
        Some(client.sandbox_callback_secret().await.context(
            "cannot fetch the callback signing key; give --signing-secret or --no-signature-check",
        )?)
    } else {
        None
    };
    if let Some(s) = signing {
        verifier = verifier.signing_secret(s);
    }
    Ok(verifier)
}

/// The first line (the URL, which tests and scripts read) and what is checked.
fn announce(json: bool, url: &str, verifier: &CallbackVerifier, forward: Option<&str>) {
    if json {
        say!(
            "{}",
            json!({"event": "listening", "url": url,
                   "signatureCheck": verifier.checks_signature(),
                   "secretHashCheck": verifier.checks_secret_hash(),
                   "forward": forward})
        );
        return;
    }
    let on = |b: bool| if b { "on" } else { "off" };
    say!("listening on {url}");
    note!(
        "signature check: {}; secret_hash check: {}; forward: {}",
        on(verifier.checks_signature()),
        on(verifier.checks_secret_hash()),
        forward.unwrap_or("none")
    );
    note!("use postLink={url}/ok failurePostLink={url}/fail; Ctrl-C to stop");
}

/// Resolves after `limit` callbacks (if given), or on Ctrl-C.
async fn stop_after(mut seen: tokio::sync::mpsc::UnboundedReceiver<()>, limit: Option<usize>) {
    let mut n = 0usize;
    loop {
        tokio::select! {
            got = seen.recv() => {
                if got.is_none() { break; }
                n += 1;
                if limit.is_some_and(|l| n >= l) { break; }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    if method != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "callbacks are POSTed\n".into(),
        );
    }
    let signature = header(&headers, SIGNATURE_HEADER);
    let verdict = s.verifier.verify(signature.as_deref(), &body);
    let (answer, forwarded) = match (&s.forward, &verdict) {
        (Some(target), Ok(_)) => {
            let (answer, report) = forward(&s.http, target, &uri, &headers, &body).await;
            (answer, Some(report))
        }
        (_, Ok(_)) => (StatusCode::OK, None),
        (_, Err(CallbackError::Malformed(_))) => (StatusCode::BAD_REQUEST, None),
        (_, Err(_)) => (StatusCode::UNAUTHORIZED, None),
    };
    let seen = Seen {
        path: uri.path(),
        verdict: &verdict,
        answer,
        forwarded,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        event_id: header(&headers, EVENT_ID_HEADER),
        attempt: header(&headers, ATTEMPT_HEADER),
    };
    if s.json {
        seen.print_json(&s.verifier);
    } else {
        seen.print_line(&s.verifier);
    }
    let _ = s.seen.send(());
    (answer, String::new())
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Sends a verified callback on, byte for byte with its `X-Aqsha-*` headers: the answer for
/// the sender (the target's status, 502 if it could not be reached) and what to report.
async fn forward(
    http: &reqwest::Client,
    target: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> (StatusCode, Value) {
    let url = format!("{target}{}", uri.path());
    let mut req = http
        .post(&url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    for name in [SIGNATURE_HEADER, EVENT_ID_HEADER, ATTEMPT_HEADER] {
        if let Some(v) = header(headers, name) {
            req = req.header(name, v);
        }
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let answer = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            (answer, json!({"url": url, "status": status}))
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            json!({"url": url, "error": e.to_string()}),
        ),
    }
}

/// One received callback, as printed.
struct Seen<'a> {
    path: &'a str,
    verdict: &'a Result<aqsha_client::Callback, CallbackError>,
    answer: StatusCode,
    forwarded: Option<Value>,
    body: Value,
    event_id: Option<String>,
    attempt: Option<String>,
}

impl Seen<'_> {
    fn problem(&self) -> Option<String> {
        self.verdict.as_ref().err().map(ToString::to_string)
    }

    /// What became of the signature and of `secret_hash`: unchecked, or the check's result.
    fn states(&self, verifier: &CallbackVerifier) -> (String, &'static str) {
        let signature = match (self.verdict, verifier.checks_signature()) {
            (_, false) => "unchecked".to_string(),
            (Ok(cb), true) if cb.signature_verified => "valid".to_string(),
            (Err(CallbackError::MissingSignature), true) => "missing".to_string(),
            (Err(CallbackError::Signature(e)), true) => format!("invalid: {e}"),
            _ => "not reached".to_string(),
        };
        let secret_hash = match (self.verdict, verifier.checks_secret_hash()) {
            (_, false) => "unchecked",
            (Ok(_), true) => "match",
            (Err(CallbackError::SecretHashMismatch), true) => "mismatch",
            _ => "not reached",
        };
        (signature, secret_hash)
    }

    fn print_json(&self, verifier: &CallbackVerifier) {
        let (signature, secret_hash) = self.states(verifier);
        say!(
            "{}",
            json!({
                "event": "callback",
                "path": self.path,
                "verified": self.verdict.is_ok(),
                "problem": self.problem(),
                "signature": signature,
                "secretHash": secret_hash,
                "eventId": self.event_id,
                "attempt": self.attempt,
                "answer": self.answer.as_u16(),
                "forward": self.forwarded,
                "body": self.body,
            })
        );
    }

    fn print_line(&self, verifier: &CallbackVerifier) {
        let (signature, secret_hash) = self.states(verifier);
        let text = |k: &str| self.body.get(k).map(value_text).unwrap_or_default();
        let forwarded = match &self.forwarded {
            Some(f) => format!(
                " | forwarded {}",
                value_text(f.get("status").unwrap_or(&f["error"]))
            ),
            None => String::new(),
        };
        say!(
            "[{}] {} invoice {} {} {} code {} reasonCode {} {} | signature {} | secret_hash {}{} -> {}",
            if self.verdict.is_ok() { "verified" } else { "REJECTED" },
            self.path,
            text("invoiceId"),
            text("amount"),
            text("currency"),
            text("code"),
            text("reasonCode"),
            text("reason"),
            signature,
            secret_hash,
            forwarded,
            self.answer.as_u16()
        );
        if let Some(p) = self.problem() {
            say!("  problem: {p}");
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
