//! The callback dispatcher: delivers the outbox's postLink / failurePostLink events.
//!
//! Events are written in the same commit as the operation they report, so none is lost. This
//! task claims due events from the store (a lease per attempt, so several instances never send
//! one event at once and a crashed deliverer's events come back), POSTs each in its own task
//! (a slow endpoint holds only its own slot), and records every attempt. A 2xx within the
//! timeout is a delivery; anything else is retried on the configured schedule until the event
//! is older than the maximum age, then it is marked failed. Delivery is at least once: the
//! `X-Aqsha-Event-Id` header lets receivers drop duplicates.

use aqsha_core::store::{CallbackAttempt, DueCallback, NextStep, Store};
use aqsha_wire::callback::{ATTEMPT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER};
use chrono::{DateTime, Utc};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
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
}

impl Default for CallbackSettings {
    fn default() -> Self {
        let m = |mins: u64| Duration::from_secs(mins * 60);
        CallbackSettings {
            retry_schedule: vec![Duration::from_secs(10), m(1), m(5), m(15), m(60), m(180)],
            max_age: Duration::from_secs(3 * 24 * 3600),
            timeout: Duration::from_secs(10),
            public_only: false,
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

/// Most events delivered at once; one slow endpoint occupies one slot.
const MAX_IN_FLIGHT: usize = 256;
/// How long an idle dispatcher waits before looking for due retries.
const POLL: Duration = Duration::from_millis(500);
/// At most this much of a receiver's answer is read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

pub struct Dispatcher {
    store: Arc<dyn Store>,
    http: reqwest::Client,
    settings: CallbackSettings,
    wake: Arc<Notify>,
    slots: Arc<Semaphore>,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        settings: CallbackSettings,
        wake: Arc<Notify>,
    ) -> anyhow::Result<Dispatcher> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .user_agent(concat!("aqsha/", env!("CARGO_PKG_VERSION")));
        if settings.public_only {
            builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
        }
        Ok(Dispatcher {
            store,
            http: builder.build()?,
            settings,
            wake,
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    /// Runs until the process ends.
    pub async fn run(self: Arc<Self>) {
        // The lease outlives an attempt, so a live deliverer always finishes first.
        let lease = self.settings.timeout + Duration::from_secs(5);
        loop {
            let free = self.slots.available_permits().min(64);
            let mut claimed = 0;
            if free > 0 {
                match self.store.claim_callbacks(Utc::now(), free, lease).await {
                    Ok(due) => {
                        claimed = due.len();
                        for d in due {
                            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                                return;
                            };
                            let me = self.clone();
                            tokio::spawn(async move {
                                me.deliver(d).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "claiming callbacks failed"),
                }
            }
            if claimed == 0 || claimed < free {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
            }
        }
    }

    async fn deliver(&self, d: DueCallback) {
        let started = Instant::now();
        let at = Utc::now();
        let (http_status, error, permanent) = match self.attempt(&d).await {
            Ok(status) => (Some(status), None, false),
            Err((e, permanent)) => (None, Some(e), permanent),
        };
        let attempt = CallbackAttempt {
            attempt: d.attempt,
            at,
            http_status,
            error: error.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
        };
        let next = match http_status {
            Some(s) if (200..300).contains(&s) => NextStep::Delivered,
            _ if permanent => NextStep::Failed,
            _ => self.next_try(d.attempt, d.event.created_at, Utc::now()),
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

    /// One POST. `Err((why, permanent))`: a permanent error is not retried.
    async fn attempt(&self, d: &DueCallback) -> Result<u16, (String, bool)> {
        let url =
            reqwest::Url::parse(&d.event.url).map_err(|e| (format!("invalid URL: {e}"), true))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(("only http and https callback URLs are allowed".into(), true));
        }
        if self.settings.public_only {
            if let Some(host) = url.host_str() {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                if let Ok(ip) = host.parse::<IpAddr>() {
                    if !is_public(ip) {
                        return Err((
                            format!("callback target {ip} is not a public address"),
                            true,
                        ));
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
            .map_err(|e| (describe(&e), false))?;
        let status = resp.status().as_u16();
        // Read (and drop) at most a little of the answer, so a receiver cannot make us buffer
        // an endless body; the status is all that counts.
        let mut resp = resp;
        let mut read = 0;
        while read < MAX_RESPONSE_BYTES {
            match resp.chunk().await {
                Ok(Some(c)) => read += c.len(),
                Ok(None) => break,
                Err(e) => return Err((describe(&e), false)),
            }
        }
        Ok(status)
    }
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    // The innermost cause says what happened (refused, reset, blocked address).
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    format!("{kind}: {cause}")
}

/// Addresses a production callback may go to: not loopback, private, link-local, shared
/// (CGNAT), multicast, unspecified or documentation ranges.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// Resolves host names and keeps only public addresses, so a name pointing at an internal
/// host is refused as well as a literal internal address.
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addrs.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
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
    fn only_public_addresses_pass() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(
                !is_public(ip.parse().unwrap_or_else(|e| panic!("{e}"))),
                "{ip}"
            );
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(
                is_public(ip.parse().unwrap_or_else(|e| panic!("{e}"))),
                "{ip}"
            );
        }
    }
}
