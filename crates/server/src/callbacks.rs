//! The callback dispatcher: delivers the outbox's postLink / failurePostLink events.
//!
//! Events are written in the same commit as the operation they report, so none is lost. This
//! task claims due events from the store (a lease per attempt, so several instances never send
//! one event at once and a crashed deliverer's events come back: at once when its instance
//! starts again, `crate::leases`, or when the lease runs out), POSTs each in its own task
//! (a slow endpoint holds only its own slot), and records every attempt. Merchants share the
//! slots fairly: each has at most `per_merchant` attempts running, and the claim skips a
//! merchant at its cap, so one merchant's hanging endpoints cannot hold every slot. A 2xx within the
//! timeout is a delivery; anything else is retried on the configured schedule until the event
//! is older than the maximum age, then it is marked failed. Delivery is at least once: the
//! `X-Aqsha-Event-Id` header lets receivers drop duplicates.

pub use crate::targets::is_public;
use crate::targets::PublicOnlyResolver;
use aqsha_core::records::{CallbackAttempt, RESPONSE_EXCERPT_CHARS};
use aqsha_core::store::{DueCallback, LeaseOwner, NextStep, Store};
use aqsha_wire::callback::{ATTEMPT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};

/// How callbacks are delivered.
#[derive(Debug, Clone)]
pub struct CallbackSettings {
    /// Gap before each retry; the last gap repeats.
    pub retry_schedule: Vec<Duration>,
    /// An event is given up (marked failed) once this old.
    pub max_age: Duration,
    /// An attempt that has no complete answer within this time failed.
    pub timeout: Duration,
    /// Refuse loopback, private and link-local targets (also after DNS resolution).
    pub public_only: bool,
    /// Most attempts running at once for one merchant (on this instance).
    pub per_merchant: usize,
    /// Send every callback through this HTTP(S) proxy. Without one, proxy environment
    /// variables (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`) are ignored: a proxy set for
    /// something else must not see (or redirect) signed callbacks.
    pub proxy: Option<String>,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        let m = |mins: u64| Duration::from_secs(mins * 60);
        CallbackSettings {
            retry_schedule: vec![Duration::from_secs(10), m(1), m(5), m(15), m(60), m(180)],
            max_age: Duration::from_secs(3 * 24 * 3600),
            timeout: Duration::from_secs(10),
            public_only: false,
            per_merchant: DEFAULT_PER_MERCHANT,
            proxy: None,
        }
    }
}

/// Parses `10s,1m,5m,1h`-style lists.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    let list = text
        .split(',')
        .map(|p| parse_duration(p.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    if list.is_empty() {
        return Err("the schedule needs at least one gap".into());
    }
    Ok(list)
}

/// Parses `500ms`, `10s`, `5m`, `1h`, `3d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit (ms, s, m, h, d)"))?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{text:?} is not a duration"))?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h, d)")),
    };
    Ok(Duration::from_millis(ms))
}

/// Most events held at once (running, or claimed and waiting for their merchant's slot).
const MAX_IN_FLIGHT: usize = 256;
/// Default of `--callback-per-merchant`.
pub const DEFAULT_PER_MERCHANT: usize = 16;
/// Most events one claim takes.
const CLAIM_BATCH: usize = 64;
/// How long an idle dispatcher waits before looking for due retries.
const POLL: Duration = Duration::from_millis(500);
/// Least time between two claims that found less than they could take. A claim runs in the
/// writer's transaction and seeks each merchant's due events, so it is not repeated on every
/// transfer's wake; a callback waits at most this much longer for its first attempt.
const MIN_CLAIM_GAP: Duration = Duration::from_millis(100);
/// At most this much of a receiver's answer is read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

pub struct Dispatcher {
    store: Arc<dyn Store>,
    http: reqwest::Client,
    settings: CallbackSettings,
    /// Whose leases this dispatcher's claims are (`crate::leases`).
    owner: LeaseOwner,
    wake: Arc<Notify>,
    /// Signalled when a merchant at its cap drops below it: the claim it was skipped by may
    /// now take its next events, at once (see [`Self::run`]).
    freed: Notify,
    held: Mutex<Held>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// The events this instance holds: claimed, and running or waiting for a slot of their
/// merchant. Every held event counts against [`MAX_IN_FLIGHT`], so the dispatcher never claims
/// more than it can run; a waiting event holds no running slot.
#[derive(Default)]
struct Held {
    total: usize,
    /// merchant id -> (events held, the merchant's running slots).
    by_merchant: HashMap<String, (usize, Arc<Semaphore>)>,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        settings: CallbackSettings,
        owner: LeaseOwner,
        wake: Arc<Notify>,
    ) -> anyhow::Result<Dispatcher> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .user_agent(concat!("aqsha/", env!("CARGO_PKG_VERSION")));
        builder = match &settings.proxy {
            // The URL is not repeated in the error: it may carry the proxy's credentials.
            Some(url) => builder.proxy(
                reqwest::Proxy::all(url)
                    .map_err(|e| anyhow::anyhow!("--callback-proxy is not a usable URL: {e}"))?,
            ),
            None => builder.no_proxy(),
        };
        // Through a proxy, the proxy resolves target names: the resolver would only see the
        // proxy's own name (an internal host, typically). Literal target addresses are still
        // checked before sending.
        if settings.public_only && settings.proxy.is_none() {
            builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
        }
        Ok(Dispatcher {
            store,
            http: builder.build()?,
            settings: CallbackSettings {
                per_merchant: settings.per_merchant.max(1),
                ..settings
            },
            owner,
            wake,
            freed: Notify::new(),
            held: Mutex::new(Held::default()),
            metrics: None,
        })
    }

    /// Counts every attempt's result in `metrics` (`aqsha_callback_attempts_total`).
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Dispatcher {
        self.metrics = Some(metrics);
        self
    }

    /// How long a claim holds an event. A claimed event may first wait for one of its
    /// merchant's running attempts (each done within the timeout, see [`Self::run`]) and then
    /// run its own, so the lease covers two attempts plus time to record them: a live
    /// deliverer always finishes before its lease runs out.
    pub fn lease(&self) -> Duration {
        self.settings.timeout * 2 + Duration::from_secs(5)
    }

    /// Runs until the process ends.
    ///
    /// Each claim takes at most `per_merchant` events of one merchant and none of a merchant
    /// already holding `per_merchant`. A merchant below its cap may so get more events than it
    /// has free slots; the extra ones wait for its running attempts, which were started before
    /// the claim and each end within the timeout, so the wait is bounded and the lease holds.
    pub async fn run(self: Arc<Self>) {
        let lease = self.lease();
        let per_merchant = self.settings.per_merchant;
        loop {
            let (free, skip) = match self.held.lock() {
                Ok(h) => (
                    MAX_IN_FLIGHT.saturating_sub(h.total).min(CLAIM_BATCH),
                    h.by_merchant
                        .iter()
                        .filter(|(_, (n, _))| *n >= per_merchant)
                        .map(|(m, _)| m.clone())
                        .collect::<Vec<_>>(),
                ),
                Err(_) => return,
            };
            let mut claimed = 0;
            if free > 0 {
                match self
                    .store
                    .claim_callbacks(Utc::now(), free, lease, &self.owner, per_merchant, skip)
                    .await
                {
                    Ok(due) => {
                        claimed = due.len();
                        for d in due {
                            let Some(slots) = self.hold(&d.event.merchant_id) else {
                                return;
                            };
                            let me = self.clone();
                            tokio::spawn(async move {
                                match slots.acquire_owned().await {
                                    Ok(slot) => me.deliver(d, slot).await,
                                    Err(_) => me.release(&d.event.merchant_id),
                                }
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "claiming callbacks failed"),
                }
            }
            if claimed == 0 || claimed < free {
                // A merchant with a backlog gets at most `per_merchant` events a claim, so
                // the claim finds less than it could take while that merchant still has due
                // events. Its slots freeing is what lets it go on: claim again at once then,
                // not after the gap or the poll (which capped one merchant at 160 and, once
                // transfers stopped waking the dispatcher, 32 callbacks a second).
                let idle_since = tokio::time::Instant::now();
                tokio::select! {
                    _ = self.freed.notified() => continue,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
                tokio::time::sleep_until(idle_since + MIN_CLAIM_GAP).await;
            }
        }
    }

    /// Counts a claimed event as held; returns its merchant's running slots.
    fn hold(&self, merchant: &str) -> Option<Arc<Semaphore>> {
        let mut h = self.held.lock().ok()?;
        h.total += 1;
        let per_merchant = self.settings.per_merchant;
        let entry = h
            .by_merchant
            .entry(merchant.to_string())
            .or_insert_with(|| (0, Arc::new(Semaphore::new(per_merchant))));
        entry.0 += 1;
        Some(entry.1.clone())
    }

    fn release(&self, merchant: &str) {
        if let Ok(mut h) = self.held.lock() {
            h.total = h.total.saturating_sub(1);
            if let Some(entry) = h.by_merchant.get_mut(merchant) {
                if entry.0 == self.settings.per_merchant {
                    self.freed.notify_one();
                }
                entry.0 = entry.0.saturating_sub(1);
                if entry.0 == 0 {
                    h.by_merchant.remove(merchant);
                }
            }
        }
    }

    /// One attempt of a held event, on one of its merchant's running slots. The slot and the
    /// hold are given back as soon as the POST is over: recording the attempt waits on the
    /// writer, which is no fault of the merchant's endpoint, and holding the slot through it
    /// made one busy merchant's callbacks queue behind the writer (docs/reliability.md). The
    /// event's lease still covers it until the record is written.
    async fn deliver(&self, d: DueCallback, slot: tokio::sync::OwnedSemaphorePermit) {
        let started = Instant::now();
        let at = Utc::now();
        let answer = self.attempt(&d).await;
        drop(slot);
        self.release(&d.event.merchant_id);
        let (http_status, excerpt, error, failure) = match answer {
            Ok((status, excerpt)) => (Some(status), Some(excerpt), None, None),
            Err(f) => (None, None, Some(f.why), Some((f.kind, f.permanent))),
        };
        let delivered = http_status.is_some_and(|s| (200..300).contains(&s));
        if let Some(m) = &self.metrics {
            m.callback_attempt(match failure {
                None if delivered => "delivered",
                None => "http_error",
                Some((kind, _)) => kind,
            });
        }
        let next = match failure {
            None if delivered => NextStep::Delivered,
            Some((_, true)) => NextStep::Failed,
            _ => self.next_try(d.attempt, d.event.created_at, Utc::now()),
        };
        let attempt = CallbackAttempt {
            attempt: d.attempt,
            at,
            http_status,
            error: error.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
            response_excerpt: excerpt,
            next_attempt_at: match next {
                NextStep::RetryAt(t) => Some(t),
                _ => None,
            },
        };
        tracing::info!(
            event = %d.event.id, attempt = d.attempt, status = ?http_status,
            error = error.as_deref().unwrap_or(""), next = ?next, "callback attempt"
        );
        if let Err(e) = self
            .store
            .finish_callback_attempt(&d.event.id, attempt, next)
            .await
        {
            // The lease runs out and the event is tried again: a duplicate, never a loss.
            tracing::error!(event = %d.event.id, error = %e, "recording a callback attempt failed");
        }
    }

    fn next_try(&self, attempt: u32, created: DateTime<Utc>, now: DateTime<Utc>) -> NextStep {
        let s = &self.settings.retry_schedule;
        let gap = s[(attempt as usize).saturating_sub(1).min(s.len() - 1)];
        let next = now + chrono::Duration::from_std(gap).unwrap_or(chrono::Duration::hours(3));
        let deadline = created
            + chrono::Duration::from_std(self.settings.max_age)
                .unwrap_or(chrono::Duration::days(3));
        if next > deadline {
            NextStep::Failed
        } else {
            NextStep::RetryAt(next)
        }
    }

    /// One POST: the answer's status and the start of its body, or why there is none.
    async fn attempt(&self, d: &DueCallback) -> Result<(u16, String), Failure> {
        let url = reqwest::Url::parse(&d.event.url)
            .map_err(|e| Failure::refused(format!("invalid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Failure::refused(
                "only http and https callback URLs are allowed",
            ));
        }
        if self.settings.public_only {
            if let Some(host) = url.host_str() {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                if let Ok(ip) = host.parse::<IpAddr>() {
                    if !is_public(ip) {
                        return Err(Failure::refused(format!(
                            "callback target {ip} is not a public address"
                        )));
                    }
                }
            }
        }
        let ts = Utc::now().timestamp();
        let signature = aqsha_wire::signature::sign(&d.secret, ts, d.event.body.as_bytes());
        let resp = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, &d.event.id)
            .header(ATTEMPT_HEADER, d.attempt.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(d.event.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        // Read at most a little of the answer, so a receiver cannot make us buffer an endless
        // body; the status is all that counts, and the start is kept for the merchant to see.
        let mut resp = resp;
        let mut read = 0;
        let mut head = Vec::new();
        while read < MAX_RESPONSE_BYTES {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    read += c.len();
                    let room = (RESPONSE_EXCERPT_CHARS * 4).saturating_sub(head.len());
                    head.extend_from_slice(&c[..c.len().min(room)]);
                }
                Ok(None) => break,
                Err(e) => return Err(describe(&e)),
            }
        }
        Ok((status, excerpt(&head)))
    }
}

/// The start of a receiver's answer as text: at most [`RESPONSE_EXCERPT_CHARS`] characters,
/// invalid UTF-8 and control characters replaced, so the page shows it as it is.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(RESPONSE_EXCERPT_CHARS)
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect()
}

/// An attempt that got no answer, or was not made.
struct Failure {
    why: String,
    /// Not retried: the target can never be reached (a bad URL, a refused address).
    permanent: bool,
    /// The result label in `/metrics`: `timeout`, `connect_error`, `error` or `refused`.
    kind: &'static str,
}

impl Failure {
    fn refused(why: impl Into<String>) -> Failure {
        Failure {
            why: why.into(),
            permanent: true,
            kind: "refused",
        }
    }
}

fn describe(e: &reqwest::Error) -> Failure {
    let (kind, label) = if e.is_timeout() {
        ("timed out", "timeout")
    } else if e.is_connect() {
        ("connection failed", "connect_error")
    } else {
        ("request failed", "error")
    };
    // The innermost cause says what happened (refused, reset, blocked address).
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    Failure {
        why: format!("{kind}: {cause}"),
        permanent: false,
        kind: label,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_schedules_parse() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(259_200)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5y").is_err());
        assert_eq!(parse_schedule("1s, 2s").map(|s| s.len()), Ok(2));
    }

    #[test]
    fn an_excerpt_is_short_printable_text() {
        assert_eq!(excerpt(b"ok\r\n\x00\xffdone"), "ok \n \u{fffd}done");
        let long = "\u{0436}".repeat(1000);
        assert_eq!(
            excerpt(long.as_bytes()).chars().count(),
            RESPONSE_EXCERPT_CHARS
        );
    }
}
