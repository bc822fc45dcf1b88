#![doc = include_str!("../README.md")]

mod conn;
mod flow;
mod report;
mod setup;

use clap::Args;
use conn::{Conn, Target};
use flow::{baseline, client, Window};
use report::{memory_mb, print_human, Errors, Report};
use setup::{http_client, setup, Requests};
use std::sync::atomic::AtomicU64;
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

/// `aqsha bench`: sets up its terminals and cards, runs the flows, then the baseline, and
/// prints the report.
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
