//! The load: each client's loop of token-plus-transfer flows, and the `/healthz` baseline.

use crate::conn::{Conn, Target};
use crate::report::Errors;
use crate::setup::{Requests, Setup};
use crate::BenchArgs;
use bytes::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::Method;
use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(serde::Deserialize)]
pub(crate) struct IssuedToken {
    pub(crate) access_token: String,
}

/// One token + transfer. `Err` says which step failed and how.
pub(crate) async fn flow(
    conn: &mut Conn,
    setup: &Setup,
    requests: &Requests,
    worker: usize,
    counters: &[AtomicU64],
) -> Result<(), (&'static str, String)> {
    let t = worker % setup.terminals.len();
    let seq = counters[t].fetch_add(1, Ordering::Relaxed) % 1_000_000;
    let invoice = format!("{:08}{}{:06}", setup.prefix, t % 10, seq);
    let form = format!("{}&invoiceID={invoice}", requests.token_forms[t]);
    let (status, body) = conn
        .exchange(
            Method::POST,
            "/oauth2/token",
            &[(CONTENT_TYPE, "application/x-www-form-urlencoded")],
            Bytes::from(form),
        )
        .await
        .map_err(|e| ("network", e))?;
    if !status.is_success() {
        return Err(("token", String::from_utf8_lossy(&body).into_owned()));
    }
    let token: IssuedToken = serde_json::from_slice(&body).map_err(|e| ("token", e.to_string()))?;
    let n = setup.cards.len();
    let (s, r) = {
        let mut rng = rand::thread_rng();
        let s = rng.gen_range(0..n);
        (s, (s + rng.gen_range(1..n)) % n)
    };
    let transfer = format!(
        r#"{{"order":{{"amount":{},"currency":"KZT","id":"{invoice}","terminalId":{},"description":"bench"}},"card":{{"sender":{},"receiver":{}}}}}"#,
        requests.amount, requests.terminals[t], requests.senders[s], requests.receivers[r]
    );
    let bearer = format!("Bearer {}", token.access_token);
    let (status, body) = conn
        .exchange(
            Method::POST,
            "/payments/cards/auth",
            &[(CONTENT_TYPE, "application/json"), (AUTHORIZATION, &bearer)],
            Bytes::from(transfer),
        )
        .await
        .map_err(|e| ("network", e))?;
    if !status.is_success() {
        return Err(("transfer", String::from_utf8_lossy(&body).into_owned()));
    }
    Ok(())
}

/// When flows count: those begun from `measure_from` (after the warm-up) until `end`.
#[derive(Clone, Copy)]
pub(crate) struct Window {
    pub(crate) measure_from: Instant,
    pub(crate) end: Instant,
}

/// One concurrent client: flow after flow on its own connection until the window ends. The
/// latencies (µs) of measured flows that succeeded, and the failures.
pub(crate) async fn client(
    mut conn: Conn,
    setup: &Setup,
    requests: &Requests,
    worker: usize,
    counters: &[AtomicU64],
    window: Window,
) -> (Vec<u32>, Errors) {
    let mut latencies = Vec::new();
    let mut errors = Errors::default();
    loop {
        let began = Instant::now();
        if began >= window.end {
            break;
        }
        let result = flow(&mut conn, setup, requests, worker, counters).await;
        let measured = began >= window.measure_from;
        match result {
            Ok(()) if measured => {
                latencies.push(began.elapsed().as_micros().min(u128::from(u32::MAX)) as u32)
            }
            Ok(()) => {}
            Err((kind, detail)) => errors.record(measured, kind, &detail),
        }
    }
    (latencies, errors)
}

pub(crate) async fn baseline(args: &BenchArgs, target: &Arc<Target>) -> f64 {
    let end = Instant::now() + Duration::from_secs(args.duration);
    let count = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (mut conn, count) = (Conn::new(target.clone()), count.clone());
            tokio::spawn(async move {
                while Instant::now() < end {
                    let answer = conn
                        .exchange(Method::GET, "/healthz", &[], Bytes::new())
                        .await;
                    if answer.is_ok_and(|(status, _)| status.is_success()) {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    count.load(Ordering::Relaxed) as f64 / args.duration as f64
}
