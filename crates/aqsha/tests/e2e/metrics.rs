//! `GET /metrics` (docs/metrics.md): the counters move by what was done, with the labels it
//! was done under; the token is required when set; nothing a caller sent shows in the output.

use crate::callbacks::pay_with_links;
use crate::common::receiver::Receiver;
use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;

crate::tests! {
    both: [
        counters_move_by_what_was_done_with_its_labels,
        a_metrics_token_is_required_when_set,
    ],
    sqlite: [the_token_comes_from_the_environment_and_a_weak_one_is_refused],
}

const METRICS_TOKEN: &str = "scrape-me-0123456789abcdef";

/// One sample of the text format: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the OpenMetrics text format strictly: every line a comment or a sample, the last
/// one `# EOF`; a line that does not parse fails the test.
fn parse(text: &str) -> Vec<Sample> {
    assert_eq!(text.lines().last(), Some("# EOF"), "{text}");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| sample(l).unwrap_or_else(|| panic!("not a sample line: {l:?}")))
        .collect()
}

fn sample(line: &str) -> Option<Sample> {
    let (head, value) = line.rsplit_once(' ')?;
    let (name, labels) = match head.split_once('{') {
        Some((name, rest)) => (name, labels(rest.strip_suffix('}')?)?),
        None => (head, BTreeMap::new()),
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if name.is_empty() || !name.chars().all(valid) {
        return None;
    }
    let value = match value {
        "+Inf" => f64::INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// `a="x",b="y"`; values here never hold quotes or backslashes, and one that did would not
/// parse (and fail the test).
fn labels(mut text: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    while !text.is_empty() {
        let (key, rest) = text.split_once("=\"")?;
        let (value, rest) = rest.split_once('"')?;
        if value.contains('\\') || out.insert(key.to_string(), value.to_string()).is_some() {
            return None;
        }
        text = rest.strip_prefix(',').unwrap_or(rest);
        if rest.starts_with(',') && text.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// The value of the sample with exactly these labels; 0 when there is none (a counter not
/// yet moved).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name && s.labels == want)
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} twice: {found:?}");
    found.first().map_or(0.0, |s| s.value)
}

async fn scrape(s: &Server, bearer: Option<&str>) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let mut req = s.http.get(s.path("/metrics"));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, resp.text().await.unwrap(), headers)
}

async fn samples(s: &Server) -> (String, Vec<Sample>) {
    let (status, text, headers) = scrape(s, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let parsed = parse(&text);
    (text, parsed)
}

fn requests(samples: &[Sample], method: &str, route: &str, status: u16) -> f64 {
    let status = status.to_string();
    value(
        samples,
        "aqsha_http_request_duration_seconds_count",
        &[("method", method), ("route", route), ("status", &status)],
    )
}

fn transfers(samples: &[Sample], outcome: &str, code: &str) -> f64 {
    value(
        samples,
        "aqsha_transfers_total",
        &[("outcome", outcome), ("code", code)],
    )
}

fn tokens(samples: &[Sample], result: &str) -> f64 {
    value(
        samples,
        "aqsha_tokens_total",
        &[("grant", "client_credentials"), ("result", result)],
    )
}

async fn counters_move_by_what_was_done_with_its_labels(backend: Backend) {
    let s = Server::start(backend);
    let receiver = Receiver::start(&[]).await;
    let (_, before) = samples(&s).await;

    // A charge with a callback to a real receiver, then the same request again (a replay).
    let paid_invoice = invoice();
    let mut paid = seed_like_body(&paid_invoice, json!(1500));
    let (st, _) = pay_with_links(&s, &mut paid, &receiver.url, &receiver.url, "h").await;
    assert_eq!(st, StatusCode::OK);
    // A decline: wrong CVC, 466.
    let mut declined = seed_like_body(&invoice(), json!(700));
    declined["card"]["sender"]["cvc"] = json!("816");
    let token = s.token_for(&declined["order"]).await;
    let (st, r) = s.transfer(&token, &declined).await;
    assert_eq!((st, r["code"].clone()), (StatusCode::BAD_REQUEST, json!(466)));
    let (st, _) = s.transfer(&token, &declined).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "the same request replays its answer");
    // A token refused: a wrong secret.
    let (st, _) = s.token_raw(&[("client_secret", "not-the-secret")]).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // The status of the charge, by a path holding the invoice id.
    let status_token = s.token(&[("terminal", TERMINAL_2)]).await;
    let (st, _) = s
        .get_json(
            &format!("/check-status/p2p/transaction/{paid_invoice}"),
            &status_token,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    receiver.wait_for(1, 30).await;

    let (text, after) = eventually("the callback's attempt counted", EVENTUALLY, || async {
        let (text, after) = samples(&s).await;
        let delivered = |v: &[Sample]| {
            value(v, "aqsha_callback_attempts_total", &[("result", "delivered")])
        };
        (delivered(&after) == delivered(&before) + 1.0).then_some((text, after))
    })
    .await;
    let moved = |f: &dyn Fn(&[Sample]) -> f64| f(&after) - f(&before);
    assert_eq!(moved(&|v| transfers(v, "charged", "0")), 1.0);
    assert_eq!(moved(&|v| transfers(v, "declined", "466")), 1.0);
    assert_eq!(moved(&|v| transfers(v, "replayed", "")), 1.0);
    assert_eq!(moved(&|v| tokens(v, "issued")), 3.0, "two transfer tokens, one status token");
    assert_eq!(moved(&|v| tokens(v, "invalid_client")), 1.0);
    assert_eq!(moved(&|v| requests(v, "POST", "/payments/cards/auth", 200)), 1.0);
    assert_eq!(moved(&|v| requests(v, "POST", "/payments/cards/auth", 400)), 2.0);
    assert_eq!(moved(&|v| requests(v, "POST", "/oauth2/token", 200)), 3.0);
    assert_eq!(moved(&|v| requests(v, "POST", "/oauth2/token", 401)), 1.0);
    let status_route = "/check-status/p2p/transaction/{invoice}";
    assert_eq!(moved(&|v| requests(v, "GET", status_route, 200)), 1.0);
    assert!(requests(&after, "GET", "/metrics", 200) >= 1.0, "earlier scrapes are counted");

    // The writer: every batch counted in both histograms, the transfers among the commands.
    let name = backend_name(backend);
    let store = |v: &[Sample], n: &str| value(v, n, &[("backend", name)]);
    let batches = moved(&|v| store(v, "aqsha_store_batch_size_count"));
    assert!(batches >= 1.0);
    assert!(moved(&|v| store(v, "aqsha_store_batch_size_sum")) >= 3.0);
    assert_eq!(store(&after, "aqsha_store_commit_duration_seconds_count"), store(&after, "aqsha_store_batch_size_count"));
    let inf = [("backend", name), ("le", "+Inf")];
    assert_eq!(value(&after, "aqsha_store_batch_size_bucket", &inf), store(&after, "aqsha_store_batch_size_count"));
    assert_eq!(store(&after, "aqsha_store_queue_capacity"), 4096.0);
    assert!(store(&after, "aqsha_store_queue_depth") >= 0.0);
    let pool = |p: &str, st: &str| {
        value(&after, "aqsha_db_pool_connections", &[("backend", name), ("pool", p), ("state", st)])
    };
    assert!(pool("reader", "idle") + pool("reader", "in_use") >= 1.0);
    assert_eq!(pool("writer", "idle") + pool("writer", "in_use"), 1.0);
    let age = value(&after, "aqsha_callback_queue_age_seconds", &[]);
    assert!(age >= 0.0, "{age}");
    assert!(text.contains("# TYPE aqsha_callback_queue_age_seconds gauge"));

    // Nothing a caller sent: card numbers, tokens, invoice ids, the secret. (A CVC's three
    // digits could be part of any figure, so it is not looked for.)
    for secret in [VISA, &token, &status_token, &paid_invoice, CLIENT_SECRET, "not-the-secret"] {
        assert!(!text.contains(secret), "{secret} in /metrics");
    }
    s.assert_ledger_balanced().await;
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

async fn a_metrics_token_is_required_when_set(backend: Backend) {
    let s = Server::start_configured(backend, |c| {
        c.metrics_token = Some(METRICS_TOKEN.into());
    });
    for bearer in [None, Some("wrong-token-0123456789"), Some("")] {
        let (status, text, headers) = scrape(&s, bearer).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bearer:?}: {text}");
        assert_eq!(headers["www-authenticate"], "Bearer realm=\"metrics\"");
        assert!(!text.contains("aqsha_"), "{text}");
    }
    let (status, text, _) = scrape(&s, Some(METRICS_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let samples = parse(&text);
    assert_eq!(requests(&samples, "GET", "/metrics", 401), 3.0, "refused scrapes are counted");
    assert!(!text.contains(METRICS_TOKEN));
    // The other routes do not need it.
    let resp = s.http.get(s.path("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn the_token_comes_from_the_environment_and_a_weak_one_is_refused(backend: Backend) {
    let s = Server::start_with_env(backend, &[], &[("AQSHA_METRICS_TOKEN", Some(METRICS_TOKEN))]);
    assert_eq!(scrape(&s, None).await.0, StatusCode::UNAUTHORIZED);
    let (status, text, _) = scrape(&s, Some(METRICS_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    parse(&text);
    assert!(!s.log().contains(METRICS_TOKEN), "the token is never logged");
    drop(s);
    let dir = tempfile::tempdir().unwrap();
    for token in ["short", "has a space in it, and long"] {
        let out = std::process::Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--metrics-token", token, "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{token:?} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--metrics-token"), "{stderr}");
        assert!(!stderr.contains(token), "{stderr}");
    }
}
