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
    let mut verifier = CallbackVerifier::new().tolerance(Duration::from_secs(a.tolerance));
    if let Some(h) = &a.secret_hash {
        verifier = verifier.secret_hash(h.clone());
    }
    let signing = if a.no_signature_check {
        None
    } else if let Some(s) = &a.signing_secret {
        Some(s.clone())
    } else if resolved.config.endpoints.sandbox_base.is_some() {
        let client = Client::new(resolved.config.clone())?;
        Some(client.sandbox_callback_secret().await.context(
            "cannot fetch the callback signing key; give --signing-secret or --no-signature-check",
        )?)
    } else {
        None
    };
    if let Some(s) = signing {
        verifier = verifier.signing_secret(s);
    }
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
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        verifier: verifier.clone(),
        forward: forward.clone(),
        http,
        json,
        seen: tx,
    });
    let url = format!("http://{addr}");
    if json {
        say!(
            "{}",
            json!({"event": "listening", "url": url,
                   "signatureCheck": verifier.checks_signature(),
                   "secretHashCheck": verifier.checks_secret_hash(),
                   "forward": forward})
        );
    } else {
        say!("listening on {url}");
        note!(
            "signature check: {}; secret_hash check: {}; forward: {}",
            if verifier.checks_signature() {
                "on"
            } else {
                "off"
            },
            if verifier.checks_secret_hash() {
                "on"
            } else {
                "off"
            },
            forward.as_deref().unwrap_or("none")
        );
        note!("use postLink={url}/ok failurePostLink={url}/fail; Ctrl-C to stop");
    }
    let app = Router::new().fallback(handle).with_state(shared);
    let limit = a.count;
    let stop = async move {
        let mut n = 0usize;
        loop {
            tokio::select! {
                got = rx.recv() => {
                    if got.is_none() { break; }
                    n += 1;
                    if limit.is_some_and(|l| n >= l) { break; }
                }
                _ = tokio::signal::ctrl_c() => break,
            }
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
        .context("callback receiver failed")?;
    Ok(0)
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
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let signature = header(SIGNATURE_HEADER);
    let event_id = header(EVENT_ID_HEADER);
    let attempt = header(ATTEMPT_HEADER);
    let verdict = s.verifier.verify(signature.as_deref(), &body);

    let mut forwarded: Option<Value> = None;
    let mut answer = match &verdict {
        Ok(_) => StatusCode::OK,
        Err(CallbackError::Malformed(_)) => StatusCode::BAD_REQUEST,
        Err(_) => StatusCode::UNAUTHORIZED,
    };
    if let (Some(target), Ok(_)) = (&s.forward, &verdict) {
        let url = format!("{target}{}", uri.path());
        let mut req = s
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        for name in [SIGNATURE_HEADER, EVENT_ID_HEADER, ATTEMPT_HEADER] {
            if let Some(v) = header(name) {
                req = req.header(name, v);
            }
        }
        match req.send().await {
            Ok(r) => {
                let status = r.status();
                forwarded = Some(json!({"url": url, "status": status.as_u16()}));
                answer = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            }
            Err(e) => {
                forwarded = Some(json!({"url": url, "error": e.to_string()}));
                answer = StatusCode::BAD_GATEWAY;
            }
        }
    }

    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (verified, problem) = match &verdict {
        Ok(_) => (true, None),
        Err(e) => (false, Some(e.to_string())),
    };
    let signature_state = match (&verdict, s.verifier.checks_signature()) {
        (_, false) => "unchecked".to_string(),
        (Ok(cb), true) if cb.signature_verified => "valid".to_string(),
        (Err(CallbackError::MissingSignature), true) => "missing".to_string(),
        (Err(CallbackError::Signature(e)), true) => format!("invalid: {e}"),
        _ => "not reached".to_string(),
    };
    let secret_hash_state = match (&verdict, s.verifier.checks_secret_hash()) {
        (_, false) => "unchecked",
        (Ok(_), true) => "match",
        (Err(CallbackError::SecretHashMismatch), true) => "mismatch",
        _ => "not reached",
    };
    if s.json {
        say!(
            "{}",
            json!({
                "event": "callback",
                "path": uri.path(),
                "verified": verified,
                "problem": problem,
                "signature": signature_state,
                "secretHash": secret_hash_state,
                "eventId": event_id,
                "attempt": attempt,
                "answer": answer.as_u16(),
                "forward": forwarded,
                "body": body_json,
            })
        );
    } else {
        let b = &body_json;
        let text = |k: &str| b.get(k).map(value_text).unwrap_or_default();
        say!(
            "[{}] {} invoice {} {} {} code {} reasonCode {} {} | signature {} | secret_hash {}{} -> {}",
            if verified { "verified" } else { "REJECTED" },
            uri.path(),
            text("invoiceId"),
            text("amount"),
            text("currency"),
            text("code"),
            text("reasonCode"),
            text("reason"),
            signature_state,
            secret_hash_state,
            match &forwarded {
                Some(f) => format!(" | forwarded {}", value_text(f.get("status").unwrap_or(&f["error"]))),
                None => String::new(),
            },
            answer.as_u16()
        );
        if let Some(p) = &problem {
            say!("  problem: {p}");
        }
    }
    let _ = s.seen.send(());
    (answer, String::new())
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
