//! The servers under test: one `aqsha serve` on SQLite, or two on one PostgreSQL database;
//! killed with SIGKILL and started again, their addresses and process ids shared with the
//! clients and the memory sampler.

use crate::common::{pg::PgDb, Backend, Server, TEST_MASTER_KEY};
use rand::rngs::StdRng;
use rand::Rng;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Short callback timeouts, so that the campaign's drain is short too: a lease is then
/// 2 x 1 s + 5 s (`Dispatcher::lease`).
const FLAGS: &[&str] = &[
    "--callback-retry-schedule",
    "300ms",
    "--callback-timeout",
    "1s",
];
/// How long the receiver hangs: longer than the callback timeout, so the attempt fails.
pub const HANG: Duration = Duration::from_millis(1_500);

/// Each instance's base URL, `None` while it is down.
pub type Urls = Arc<RwLock<Vec<Option<String>>>>;

pub struct Cluster {
    pub servers: Vec<Server>,
    /// Kept so the database lives as long as the campaign.
    _pg: Option<PgDb>,
    pub urls: Urls,
    pids: Arc<RwLock<Vec<Option<u32>>>>,
    /// When each kill happened.
    pub kills: Vec<Instant>,
}

impl Cluster {
    /// `per_merchant`: the servers' `--callback-per-merchant`.
    pub fn start(backend: Backend, per_merchant: usize) -> Cluster {
        let per_merchant = per_merchant.to_string();
        let mut flags = FLAGS.to_vec();
        flags.extend(["--callback-per-merchant", &per_merchant]);
        let (servers, pg) = match backend {
            Backend::Sqlite => (vec![Server::start_with(Backend::Sqlite, &flags)], None),
            Backend::Postgres => {
                let pg = PgDb::create();
                // One after the other: the first one installs the seed.
                let a = Server::start_instance(&pg.url, TEST_MASTER_KEY, &flags);
                let b = Server::start_instance(&pg.url, TEST_MASTER_KEY, &flags);
                (vec![a, b], Some(pg))
            }
        };
        let urls = servers.iter().map(|s| Some(s.url.clone())).collect();
        let pids = servers.iter().map(|s| Some(s.pid())).collect();
        Cluster {
            servers,
            _pg: pg,
            urls: Arc::new(RwLock::new(urls)),
            pids: Arc::new(RwLock::new(pids)),
            kills: Vec::new(),
        }
    }

    /// A server for the sandbox API and the checks (all of them are up between kills).
    pub fn admin(&self) -> &Server {
        &self.servers[0]
    }

    /// SIGKILLs one instance at random, leaves it down for a moment, and starts it again on
    /// the same data.
    pub async fn kill_one(&mut self, rng: &mut StdRng) {
        let i = rng.gen_range(0..self.servers.len());
        self.urls.write().unwrap()[i] = None;
        self.pids.write().unwrap()[i] = None;
        self.servers[i].crash();
        self.kills.push(Instant::now());
        // How long the instance stays down is part of the fault.
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=500))).await;
        let server = &mut self.servers[i];
        // `restart` blocks until the new process prints its address; the clients and the
        // receiver run on the runtime's workers meanwhile.
        tokio::task::block_in_place(|| server.restart());
        self.urls.write().unwrap()[i] = Some(server.url.clone());
        self.pids.write().unwrap()[i] = Some(server.pid());
    }

    /// Samples the instances' resident memory (VmRSS, summed over the live ones) every
    /// 250 ms until `until`: (time, KiB).
    pub fn sample_rss(&self, until: Instant) -> tokio::task::JoinHandle<Vec<(Instant, u64)>> {
        let pids = self.pids.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            while Instant::now() < until {
                tick.tick().await;
                let live: Vec<u32> = pids.read().unwrap().iter().flatten().copied().collect();
                // A sample taken while an instance is down would look like a drop in memory.
                if live.len() == pids.read().unwrap().len() {
                    let kib: u64 = live.iter().filter_map(|&p| vm_rss_kib(p)).sum();
                    samples.push((Instant::now(), kib));
                }
            }
            samples
        })
    }
}

/// The resident set size of a process, in KiB, from `/proc/PID/status`.
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A live instance's base URL, chosen at random; `None` while all are down.
pub fn pick(urls: &Urls, rng: &mut StdRng) -> Option<String> {
    let live: Vec<String> = urls.read().unwrap().iter().flatten().cloned().collect();
    (!live.is_empty()).then(|| live[rng.gen_range(0..live.len())].clone())
}
