//! What the bench measured, and how it is printed.

use crate::BenchArgs;
use serde::Serialize;

#[derive(Serialize, Debug)]
pub(crate) struct Report {
    pub(crate) url: String,
    pub(crate) concurrency: usize,
    pub(crate) duration_secs: f64,
    pub(crate) transfers: u64,
    pub(crate) transfers_per_sec: f64,
    pub(crate) flow_p50_ms: f64,
    pub(crate) flow_p90_ms: f64,
    pub(crate) flow_p99_ms: f64,
    pub(crate) flow_max_ms: f64,
    pub(crate) errors: Errors,
    pub(crate) baseline_requests_per_sec: Option<f64>,
    /// Complete flows per second over baseline requests per second.
    pub(crate) ratio: Option<f64>,
    pub(crate) server_peak_rss_mb: Option<f64>,
    pub(crate) server_rss_mb: Option<f64>,
}

#[derive(Serialize, Debug, Default)]
pub(crate) struct Errors {
    pub(crate) token: u64,
    pub(crate) transfer: u64,
    pub(crate) network: u64,
    /// A few of the answers that were not successes, for diagnosis.
    pub(crate) samples: Vec<String>,
}

impl Errors {
    /// A failed flow: counted when measured, and kept as a sample while there are few.
    pub(crate) fn record(&mut self, measured: bool, kind: &str, detail: &str) {
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
    pub(crate) fn merge(&mut self, other: Errors) {
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
    pub(crate) fn new(
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

pub(crate) fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

/// Peak and current resident memory of a process, in MB, from /proc.
pub(crate) fn memory_mb(pid: u32) -> (Option<f64>, Option<f64>) {
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

pub(crate) fn print_human(r: &Report) {
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
