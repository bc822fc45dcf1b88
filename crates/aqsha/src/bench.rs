//! `aqsha bench`: the load generator. It runs the complete P2P flow — a token request, then a
//! transfer, each with a fresh invoice — from many concurrent clients for a fixed time, then the
//! same load against `GET /healthz` as a baseline, and prints what it measured.
//!
//! Before the run it creates its own sandbox terminals (so its invoice numbers never meet an
//! earlier run's under the last-six-digits rule) and its own funded cards (so long runs never
//! run dry), through the sandbox API.

use anyhow::{bail, Context};
use clap::Args;
use futures_util::StreamExt;
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
    /// Opening balance of each card, in tenge.
    #[arg(long, default_value_t = 1_000_000_000)]
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

/// One token + transfer. `Err` says which step failed and how.
async fn flow(
    args: &BenchArgs,
    http: &reqwest::Client,
    setup: &Setup,
    worker: usize,
    counters: &[AtomicU64],
) -> Result<(), (&'static str, String)> {
    let t = worker % setup.terminals.len();
    let seq = counters[t].fetch_add(1, Ordering::Relaxed) % 1_000_000;
    let invoice = format!("{:08}{}{:06}", setup.prefix, t % 10, seq);
    let terminal = &setup.terminals[t];
    let resp = http
        .post(format!("{}/oauth2/token", args.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "transfer"),
            ("client_id", &args.client_id),
            ("client_secret", &args.client_secret),
            ("invoiceID", &invoice),
            ("amount", &args.amount),
            ("currency", "KZT"),
            ("terminal", terminal),
        ])
        .send()
        .await
        .map_err(|e| ("network", e.to_string()))?;
    if !resp.status().is_success() {
        return Err(("token", resp.text().await.unwrap_or_default()));
    }
    let token: Value = resp.json().await.map_err(|e| ("token", e.to_string()))?;
    let token = token["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let n = setup.cards.len();
    let (s, r) = {
        let mut rng = rand::thread_rng();
        let s = rng.gen_range(0..n);
        (s, (s + rng.gen_range(1..n)) % n)
    };
    let ((sender, cvc), (receiver, _)) = (&setup.cards[s], &setup.cards[r]);
    let body = json!({
        "order": {"amount": args.amount.parse::<u64>().unwrap_or(1), "currency": "KZT", "id": invoice,
            "terminalId": terminal, "description": "bench"},
        "card": {
            "sender": {"transferType": "TYPEPAN", "cardCred": sender, "cvc": cvc,
                "expire": {"month": "12", "year": "39"}},
            "receiver": {"transferType": "TYPEPAN", "cardCred": receiver}
        }
    });
    let resp = http
        .post(format!("{}/payments/cards/auth", args.url))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .map_err(|e| ("network", e.to_string()))?;
    if !resp.status().is_success() {
        return Err(("transfer", resp.text().await.unwrap_or_default()));
    }
    // Read the body: the flow is complete when the answer is.
    resp.bytes().await.map_err(|e| ("network", e.to_string()))?;
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
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let end = measure_from + Duration::from_secs(args.duration);
    let args = Arc::new(args);
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        let (args, http, setup, counters) =
            (args.clone(), http.clone(), setup.clone(), counters.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Errors::default();
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let result = flow(&args, &http, &setup, worker, &counters).await;
                let measured = began >= measure_from;
                match result {
                    Ok(()) if measured => {
                        latencies.push(began.elapsed().as_micros().min(u128::from(u32::MAX)) as u32)
                    }
                    Ok(()) => {}
                    Err((kind, detail)) => {
                        if measured {
                            match kind {
                                "token" => errors.token += 1,
                                "transfer" => errors.transfer += 1,
                                _ => errors.network += 1,
                            }
                        }
                        if errors.samples.len() < 3 {
                            errors.samples.push(format!(
                                "{kind}: {}",
                                detail.chars().take(200).collect::<String>()
                            ));
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = Errors::default();
    for t in tasks {
        let (l, e) = t.await?;
        latencies.extend(l);
        errors.token += e.token;
        errors.transfer += e.transfer;
        errors.network += e.network;
        for s in e.samples {
            if errors.samples.len() < 5 {
                errors.samples.push(s);
            }
        }
    }
    let memory = args.server_pid.map(memory_mb).unwrap_or((None, None));
    latencies.sort_unstable();
    let secs = args.duration as f64;
    let tps = latencies.len() as f64 / secs;
    let baseline = if args.no_baseline {
        None
    } else {
        Some(baseline(&args, &http).await)
    };
    let report = Report {
        url: args.url.clone(),
        concurrency: args.concurrency,
        duration_secs: secs,
        transfers: latencies.len() as u64,
        transfers_per_sec: tps,
        flow_p50_ms: percentile(&latencies, 0.50),
        flow_p90_ms: percentile(&latencies, 0.90),
        flow_p99_ms: percentile(&latencies, 0.99),
        flow_max_ms: percentile(&latencies, 1.0),
        errors,
        baseline_requests_per_sec: baseline,
        ratio: baseline.map(|b| if b > 0.0 { tps / b } else { 0.0 }),
        server_peak_rss_mb: memory.0,
        server_rss_mb: memory.1,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(())
}

async fn baseline(args: &BenchArgs, http: &reqwest::Client) -> f64 {
    let end = Instant::now() + Duration::from_secs(args.duration);
    let count = Arc::new(AtomicU64::new(0));
    let url = format!("{}/healthz", args.url);
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (http, url, count) = (http.clone(), url.clone(), count.clone());
            tokio::spawn(async move {
                while Instant::now() < end {
                    if let Ok(r) = http.get(&url).send().await {
                        if r.status().is_success() && r.bytes().await.is_ok() {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
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
