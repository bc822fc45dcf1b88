//! `aqsha bench`: the load generator. It runs the complete P2P flow — a token request, then a
//! transfer, each with a fresh invoice — from many concurrent clients for a fixed time, then the
//! same load against `GET /healthz` as a baseline, and prints what it measured.
//!
//! Before the run it creates its own sandbox terminals (so its invoice numbers never meet an
//! earlier run's under the last-six-digits rule) and its own funded cards (so long runs never
//! run dry), through the sandbox API.

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Args;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value = "test")]
    client_id: String,
    #[arg(
        long,
        default_value = "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG",
        hide_default_value = true
    )]
    client_secret: String,
    /// Concurrent clients, each running one flow after another.
    #[arg(long, short = 'c', default_value_t = 64)]
    concurrency: usize,
    /// Seconds of measured load, for the flow and again for the baseline.
    #[arg(long, short = 'd', default_value_t = 10)]
    duration: u64,
    /// Seconds of unmeasured load first, to warm up connections and caches.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Sandbox cards to create. Each flow picks a random sender and a different random
    /// receiver among them, as a gateway's traffic spreads over many cardholders.
    #[arg(long, default_value_t = 1024)]
    cards: usize,
    /// Opening balance of each card, in tenge. The server's per-merchant funding cap
    /// (`--sandbox-funding-cap`, 1,000,000,000 by default) bounds cards × balance; the default
    /// leaves room for one run, with enough on each card for about 5,000 transfers.
    #[arg(long, default_value_t = 500_000)]
    balance: u64,
    /// Fresh terminals to create and spread the invoices over.
    #[arg(long, default_value_t = 8)]
    terminals: usize,
    /// Amount of each transfer, in tenge.
    #[arg(long, default_value = "1")]
    amount: String,
    /// Skip the `/healthz` baseline.
    #[arg(long)]
    no_baseline: bool,
    /// PID of the server process, to report its peak memory (Linux).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
    /// Threads of the load generator itself.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

#[derive(Serialize, Debug)]
struct Report {
    url: String,
    concurrency: usize,
    duration_secs: f64,
    transfers: u64,
    transfers_per_sec: f64,
    flow_p50_ms: f64,
    flow_p90_ms: f64,
    flow_p99_ms: f64,
    flow_max_ms: f64,
    errors: Errors,
    baseline_requests_per_sec: Option<f64>,
    /// Complete flows per second over baseline requests per second.
    ratio: Option<f64>,
    server_peak_rss_mb: Option<f64>,
    server_rss_mb: Option<f64>,
}

#[derive(Serialize, Debug, Default)]
struct Errors {
    token: u64,
    transfer: u64,
    network: u64,
    /// A few of the answers that were not successes, for diagnosis.
    samples: Vec<String>,
}

struct Setup {
    cards: Vec<(String, String)>,
    terminals: Vec<String>,
    prefix: u64,
}

fn http_client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .timeout(Duration::from_secs(30))
        .build()?)
}

async fn setup(args: &BenchArgs, http: &reqwest::Client) -> anyhow::Result<Setup> {
    let mut terminals = Vec::new();
    for _ in 0..args.terminals.max(1) {
        let r = http
            .post(format!("{}/sandbox/terminals", args.url))
            .basic_auth(&args.client_id, Some(&args.client_secret))
            .json(&json!({"currency": "KZT"}))
            .send()
            .await
            .context("cannot reach the server")?;
        if !r.status().is_success() {
            bail!(
                "creating a terminal failed: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
        }
        let v: Value = r.json().await?;
        terminals.push(v["id"].as_str().unwrap_or_default().to_string());
    }
    // Cards are issued 32 at a time, so their commits group.
    let issue = |_| async {
        let r = http
            .post(format!("{}/sandbox/cards", args.url))
            .basic_auth(&args.client_id, Some(&args.client_secret))
            .json(&json!({"expire": "12/39", "cvc": "123", "balance": args.balance.to_string()}))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!(
                "creating a card failed: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
        }
        let v: Value = r.json().await?;
        Ok((
            v["pan"].as_str().unwrap_or_default().to_string(),
            "123".to_string(),
        ))
    };
    let cards: Vec<(String, String)> = futures_util::stream::iter(0..args.cards.max(2))
        .map(issue)
        .buffer_unordered(32)
        .collect::<Vec<anyhow::Result<_>>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    // Invoices are 15 digits: an 8-digit random run prefix, the terminal's index, and a 6-digit
    // counter per terminal, so the last six digits are unique per terminal.
    let prefix = rand::thread_rng().gen_range(10_000_000..100_000_000u64);
    Ok(Setup {
        cards,
        terminals,
        prefix,
    })
}

/// Where the bench sends its requests: the socket address and the `Host` header.
struct Target {
    addr: String,
    host: HeaderValue,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Target> {
        let url = reqwest::Url::parse(url).with_context(|| format!("bad --url {url:?}"))?;
        if url.scheme() != "http" {
            bail!(
                "the bench speaks plain http:// (the load generator stays on the server's network)"
            );
        }
        let host = url.host_str().context("--url has no host")?;
        let port = url.port_or_known_default().unwrap_or(80);
        let addr = format!("{host}:{port}");
        Ok(Target {
            host: HeaderValue::from_str(&addr)?,
            addr,
        })
    }
}

/// One bench client's keep-alive HTTP/1.1 connection. The load generator shares the machine
/// with the server, so it talks through hyper's connection API directly: no pool, no URL
/// parsing or redirect policy per request. A failed exchange drops the connection, and the
/// next request opens a new one.
struct Conn {
    target: Arc<Target>,
    send: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    fn new(target: Arc<Target>) -> Conn {
        Conn { target, send: None }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = tokio::net::TcpStream::connect(&self.target.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", self.target.addr))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(send)
    }

    /// Sends one request and reads the whole answer.
    async fn exchange(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, &str)],
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), String> {
        let mut send = match self.send.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.target.host.clone());
        for (name, value) in headers {
            req = req.header(name, *value);
        }
        let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
        send.ready().await.map_err(|e| e.to_string())?;
        let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        self.send = Some(send);
        Ok((status, body))
    }
}

/// What one flow needs, encoded once at setup: per terminal, the token request's fields but
/// the invoice and the terminal's JSON; per card, its sender and receiver JSON.
struct Requests {
    token_forms: Vec<String>,
    amount: String,
    senders: Vec<String>,
    receivers: Vec<String>,
    terminals: Vec<String>,
}

impl Requests {
    fn new(args: &BenchArgs, setup: &Setup) -> anyhow::Result<Requests> {
        let token_forms = setup
            .terminals
            .iter()
            .map(|terminal| {
                serde_urlencoded::to_string([
                    ("grant_type", "client_credentials"),
                    ("scope", "transfer"),
                    ("client_id", &args.client_id),
                    ("client_secret", &args.client_secret),
                    ("amount", &args.amount),
                    ("currency", "KZT"),
                    ("terminal", terminal),
                ])
            })
            .collect::<Result<_, _>>()?;
        let amount: u64 = args
            .amount
            .parse()
            .with_context(|| format!("--amount {:?} must be whole tenge", args.amount))?;
        let senders = setup
            .cards
            .iter()
            .map(|(pan, cvc)| {
                json!({"transferType": "TYPEPAN", "cardCred": pan, "cvc": cvc,
                    "expire": {"month": "12", "year": "39"}})
                .to_string()
            })
            .collect();
        let receivers = setup
            .cards
            .iter()
            .map(|(pan, _)| json!({"transferType": "TYPEPAN", "cardCred": pan}).to_string())
            .collect();
        let terminals = setup
            .terminals
            .iter()
            .map(|t| Value::from(t.as_str()).to_string())
            .collect();
        Ok(Requests {
            token_forms,
            amount: amount.to_string(),
            senders,
            receivers,
            terminals,
        })
    }
}

#[derive(serde::Deserialize)]
struct IssuedToken {
    access_token: String,
}

/// One token + transfer. `Err` says which step failed and how.
async fn flow(
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

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

/// Peak and current resident memory of a process, in MB, from /proc.
fn memory_mb(pid: u32) -> (Option<f64>, Option<f64>) {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (None, None);
    };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let target = Arc::new(Target::parse(&args.url)?);
    let http = http_client(args.concurrency)?;
    let setup = Arc::new(setup(&args, &http).await?);
    if !args.json {
        eprintln!(
            "bench: {} clients, {} s warm-up + {} s measured, {} cards, {} terminals",
            args.concurrency,
            args.warmup,
            args.duration,
            setup.cards.len(),
            setup.terminals.len()
        );
    }
    let counters: Arc<Vec<AtomicU64>> = Arc::new(
        (0..setup.terminals.len())
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    let measure_from = Instant::now() + Duration::from_secs(args.warmup);
    let window = Window {
        measure_from,
        end: measure_from + Duration::from_secs(args.duration),
    };
    let requests = Arc::new(Requests::new(&args, &setup)?);
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|worker| {
            let (setup, requests, counters) = (setup.clone(), requests.clone(), counters.clone());
            let conn = Conn::new(target.clone());
            tokio::spawn(
                async move { client(conn, &setup, &requests, worker, &counters, window).await },
            )
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = Errors::default();
    for t in tasks {
        let (l, e) = t.await?;
        latencies.extend(l);
        errors.merge(e);
    }
    let memory = args.server_pid.map(memory_mb).unwrap_or((None, None));
    latencies.sort_unstable();
    let baseline = if args.no_baseline {
        None
    } else {
        Some(baseline(&args, &target).await)
    };
    let report = Report::new(&args, &latencies, errors, baseline, memory);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(())
}

/// When flows count: those begun from `measure_from` (after the warm-up) until `end`.
#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
}

/// One concurrent client: flow after flow on its own connection until the window ends. The
/// latencies (µs) of measured flows that succeeded, and the failures.
async fn client(
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

impl Errors {
    /// A failed flow: counted when measured, and kept as a sample while there are few.
    fn record(&mut self, measured: bool, kind: &str, detail: &str) {
        if measured {
            match kind {
                "token" => self.token += 1,
                "transfer" => self.transfer += 1,
                _ => self.network += 1,
            }
        }
        if self.samples.len() < 3 {
            self.samples.push(format!(
                "{kind}: {}",
                detail.chars().take(200).collect::<String>()
            ));
        }
    }

    /// Adds one client's failures; five samples in all are enough.
    fn merge(&mut self, other: Errors) {
        self.token += other.token;
        self.transfer += other.transfer;
        self.network += other.network;
        for s in other.samples {
            if self.samples.len() < 5 {
                self.samples.push(s);
            }
        }
    }
}

impl Report {
    /// The figures from the measured flows' sorted latencies.
    fn new(
        args: &BenchArgs,
        latencies: &[u32],
        errors: Errors,
        baseline: Option<f64>,
        memory: (Option<f64>, Option<f64>),
    ) -> Report {
        let secs = args.duration as f64;
        let tps = latencies.len() as f64 / secs;
        Report {
            url: args.url.clone(),
            concurrency: args.concurrency,
            duration_secs: secs,
            transfers: latencies.len() as u64,
            transfers_per_sec: tps,
            flow_p50_ms: percentile(latencies, 0.50),
            flow_p90_ms: percentile(latencies, 0.90),
            flow_p99_ms: percentile(latencies, 0.99),
            flow_max_ms: percentile(latencies, 1.0),
            errors,
            baseline_requests_per_sec: baseline,
            ratio: baseline.map(|b| if b > 0.0 { tps / b } else { 0.0 }),
            server_peak_rss_mb: memory.0,
            server_rss_mb: memory.1,
        }
    }
}

async fn baseline(args: &BenchArgs, target: &Arc<Target>) -> f64 {
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

fn print_human(r: &Report) {
    println!("complete transfers (token + transfer): {}", r.transfers);
    println!(
        "transfers per second:                  {:.0}",
        r.transfers_per_sec
    );
    println!(
        "flow latency ms:                       p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        r.flow_p50_ms, r.flow_p90_ms, r.flow_p99_ms, r.flow_max_ms
    );
    println!(
        "errors:                                token {}  transfer {}  network {}",
        r.errors.token, r.errors.transfer, r.errors.network
    );
    for s in &r.errors.samples {
        println!("  e.g. {s}");
    }
    if let (Some(b), Some(ratio)) = (r.baseline_requests_per_sec, r.ratio) {
        println!("baseline GET /healthz per second:      {b:.0}");
        println!("ratio (transfers/s over baseline/s):   {ratio:.3}");
    }
    if let Some(peak) = r.server_peak_rss_mb {
        println!(
            "server memory MB:                      peak {peak:.1}  now {:.1}",
            r.server_rss_mb.unwrap_or(0.0)
        );
    }
}
