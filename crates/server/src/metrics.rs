//! Prometheus metrics at `GET /metrics` (docs/metrics.md): requests by route template and
//! status with their latency, transfers by outcome and reason code, token issuance, callback
//! attempts and queue age, and the store's group-commit writer and connection pools.
//!
//! Counting is on the hot path of every request, so it stays cheap: every label value is a
//! `&'static str`, a number, or the route template axum already holds (an `Arc<str>`, cloned
//! only the first time a label set is seen), so a request allocates nothing to be counted.
//! Labels never carry what a caller sent: the route is the template (`/cards/{account_id}`),
//! never the path, so no token, card or invoice reaches the output. What the store knows (its
//! writer, its pools, the callback queue) is read at scrape time, not tracked per request.

use crate::AppState;
use aqsha_core::stats::{HistogramSnapshot, PoolState, StoreStats};
use aqsha_core::vault::ct_eq;
use axum::extract::{MatchedPath, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, LabelValueEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt::Write;
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// The OpenMetrics text format, which Prometheus reads.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Request latency buckets in seconds: half a millisecond to the 30 s request timeout.
const LATENCY_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The server's counters, registered once at start; see the module documentation.
pub struct Metrics {
    registry: Registry,
    requests: HistogramFamily<RequestLabels>,
    transfers: Family<TransferLabels, Counter>,
    tokens: Family<TokenLabels, Counter>,
    callbacks: Family<CallbackLabels, Counter>,
    /// When set, a scrape must present it as `Authorization: Bearer …`.
    token: Option<String>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is never shown.
        f.debug_struct("Metrics")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

/// The route label: axum's route template, or `unmatched` for a path no route has.
#[derive(Clone, Debug)]
struct Route(Option<MatchedPath>);

impl Route {
    fn as_str(&self) -> &str {
        self.0.as_ref().map_or("unmatched", MatchedPath::as_str)
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Route) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Route {}
impl Hash for Route {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}
impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: Route,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransferLabels {
    outcome: &'static str,
    /// The reason code answered; empty where the answer has none of its own (a challenge, a
    /// replay of an earlier answer).
    code: Option<u32>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    grant: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallbackLabels {
    result: &'static str,
}

/// How a transfer request ended, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    Recorded(aqsha_core::transfer::Recorded),
    /// The same request answered again from its stored response.
    Replayed,
    /// Refused before anything was recorded (bad input, token, busy), with the error's code.
    Refused(u32),
}

impl Metrics {
    pub fn new(token: Option<String>) -> Metrics {
        let mut registry = Registry::with_prefix("aqsha");
        let requests: HistogramFamily<RequestLabels> =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register(
            "http_request_duration_seconds",
            "HTTP requests by method, route template and status, and the time to answer them \
             (_count is the number of requests)",
            requests.clone(),
        );
        let transfers = Family::<TransferLabels, Counter>::default();
        registry.register(
            "transfers",
            "Transfer requests (P2P, AFT, OCT, hosted form) by outcome (charged, declined, \
             pending, challenged, replayed, refused) and the reason code answered",
            transfers.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens",
            "Token requests by grant type and result (issued, throttled, or the OAuth error)",
            tokens.clone(),
        );
        let callbacks = Family::<CallbackLabels, Counter>::default();
        registry.register(
            "callback_attempts",
            "Callback delivery attempts by result (delivered, http_error, timeout, \
             connect_error, error, refused)",
            callbacks.clone(),
        );
        Metrics {
            registry,
            requests,
            transfers,
            tokens,
            callbacks,
            token: token.filter(|t| !t.is_empty()),
        }
    }

    /// One answered request. `route` is the matched template, `None` for an unmatched path.
    pub fn request(
        &self,
        method: &Method,
        route: Option<MatchedPath>,
        status: StatusCode,
        took: Duration,
    ) {
        let labels = RequestLabels {
            method: method_name(method),
            route: Route(route),
            status: status.as_u16(),
        };
        self.requests
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    pub fn transfer(&self, outcome: TransferOutcome) {
        use aqsha_core::transfer::Recorded;
        let (outcome, code) = match outcome {
            TransferOutcome::Recorded(Recorded::Charged) => ("charged", Some(0)),
            TransferOutcome::Recorded(Recorded::Declined(c)) => ("declined", Some(c)),
            TransferOutcome::Recorded(Recorded::Pending(c)) => ("pending", Some(c)),
            TransferOutcome::Recorded(Recorded::Challenged) => ("challenged", None),
            TransferOutcome::Replayed => ("replayed", None),
            TransferOutcome::Refused(c) => ("refused", Some(c)),
        };
        self.transfers
            .get_or_create(&TransferLabels { outcome, code })
            .inc();
    }

    /// A token request: `grant` as sent (`client_credentials`, `password`, else `other`),
    /// `result` `issued`, `throttled` or the RFC 6749 error code.
    pub fn token(&self, grant: &'static str, result: &'static str) {
        self.tokens
            .get_or_create(&TokenLabels { grant, result })
            .inc();
    }

    pub fn callback_attempt(&self, result: &'static str) {
        self.callbacks
            .get_or_create(&CallbackLabels { result })
            .inc();
    }

    /// Whether a scrape may read the figures: always without a token, else only with it.
    fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|presented| ct_eq(presented.trim(), token))
    }
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// `GET /metrics`: the figures in the OpenMetrics text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    summary = "Prometheus metrics (docs/metrics.md)",
    responses(
        (status = 200, description = "The figures, OpenMetrics text format", body = String,
            content_type = "application/openmetrics-text"),
        (status = 401, description = "`--metrics-token` is set and the request does not carry it",
            body = String, content_type = "text/plain"),
    ),
)]
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.metrics.admits(&headers) {
        let mut resp = (
            StatusCode::UNAUTHORIZED,
            "the metrics need Authorization: Bearer <the server's --metrics-token>\n",
        )
            .into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return resp;
    }
    let now = chrono::Utc::now();
    let queue_age = match state.store.oldest_due_callback(now).await {
        Ok(due) => Some(due.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1e3)),
        Err(e) => {
            // The rest of the figures are still worth having; the gauge is left out.
            tracing::warn!(error = %e, "reading the callback queue's age for /metrics failed");
            None
        }
    };
    let mut scraped = Registry::with_prefix("aqsha");
    scraped.register_collector(Box::new(Scraped {
        store: state.store.stats(),
        queue_age,
    }));
    let mut body = String::new();
    let encoded =
        prometheus_client::encoding::text::encode_registry(&mut body, &state.metrics.registry)
            .and_then(|()| prometheus_client::encoding::text::encode_registry(&mut body, &scraped))
            .and_then(|()| prometheus_client::encoding::text::encode_eof(&mut body));
    if encoded.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// What is read at scrape time: the store's figures and the callback queue's age.
#[derive(Debug)]
struct Scraped {
    store: Option<StoreStats>,
    queue_age: Option<f64>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabel {
    backend: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    backend: &'static str,
    pool: &'static str,
    state: &'static str,
}

impl Collector for Scraped {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(age) = self.queue_age {
            e.encode_descriptor(
                "callback_queue_age_seconds",
                "How long the oldest undelivered callback has been due (0 when none is due)",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&age)?;
        }
        let Some(s) = &self.store else {
            return Ok(());
        };
        let backend = BackendLabel { backend: s.backend };
        histogram(
            &mut e,
            "store_batch_size",
            "Commands per group commit of the store's writer",
            &backend,
            &s.batch_size,
        )?;
        histogram(
            &mut e,
            "store_commit_duration_seconds",
            "Time from a group commit's BEGIN to its durable COMMIT, retries included",
            &backend,
            &s.commit_seconds,
        )?;
        for (name, help, value) in [
            (
                "store_queue_depth",
                "Writes waiting for the store's writer",
                s.queue_depth,
            ),
            (
                "store_queue_capacity",
                "Most writes that may wait for the writer (--writer-queue); past it, 503",
                s.queue_capacity,
            ),
        ] {
            e.encode_descriptor(name, help, None, MetricType::Gauge)?
                .encode_family(&backend)?
                .encode_gauge(&(value as i64))?;
        }
        pools(
            &mut e,
            s.backend,
            &[("reader", s.readers), ("writer", s.writer)],
        )
    }
}

fn histogram(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    labels: &BackendLabel,
    h: &HistogramSnapshot,
) -> Result<(), std::fmt::Error> {
    let buckets: Vec<(f64, u64)> = h
        .bounds
        .iter()
        .copied()
        .chain(std::iter::once(f64::MAX))
        .zip(h.counts.iter().copied())
        .collect();
    e.encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_family(labels)?
        .encode_histogram::<NoLabelSet>(h.sum, h.count, &buckets, None)
}

fn pools(
    e: &mut DescriptorEncoder,
    backend: &'static str,
    pools: &[(&'static str, PoolState)],
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(
        "db_pool_connections",
        "Database connections by pool (reader, writer) and state (in_use, idle)",
        None,
        MetricType::Gauge,
    )?;
    for (pool, p) in pools {
        for (state, n) in [
            ("in_use", p.in_use),
            ("idle", p.size.saturating_sub(p.in_use)),
        ] {
            m.encode_family(&PoolLabels {
                backend,
                pool,
                state,
            })?
            .encode_gauge(&(n as i64))?;
        }
    }
    Ok(())
}
