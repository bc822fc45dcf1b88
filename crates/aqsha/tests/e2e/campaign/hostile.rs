//! Hostile clients: connections that send nothing, and clients that send their headers one
//! byte at a time. Each reconnects when the server closes it, until the deadline.

use super::cluster::{pick, Urls};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the hostile clients did.
#[derive(Debug, Default)]
pub struct Stats {
    pub idle_target: usize,
    pub slow_target: usize,
    pub idle_opened: AtomicU64,
    pub idle_closed: AtomicU64,
    pub slow_opened: AtomicU64,
    pub slow_closed: AtomicU64,
    pub slow_bytes: AtomicU64,
    pub refused: AtomicU64,
    /// The most idle connections open at once.
    pub idle_peak: AtomicU64,
    idle_open: AtomicU64,
}

pub struct Running {
    stats: Arc<Stats>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn finish(self) -> Arc<Stats> {
        for t in self.tasks {
            t.await.unwrap();
        }
        self.stats
    }
}

pub fn spawn(urls: Urls, idle: usize, slow: usize, deadline: Instant) -> Running {
    let stats = Arc::new(Stats {
        idle_target: idle,
        slow_target: slow,
        ..Stats::default()
    });
    let mut tasks = Vec::new();
    for i in 0..idle + slow {
        let (urls, stats) = (urls.clone(), stats.clone());
        tasks.push(tokio::spawn(async move {
            // Spread the connects over the first second or so, as a crowd arrives.
            tokio::time::sleep(Duration::from_micros(300 * i as u64)).await;
            let mut rng = StdRng::seed_from_u64(i as u64);
            while Instant::now() < deadline {
                let Some(addr) = pick(&urls, &mut rng) else {
                    // All instances are down for a moment; observed by polling.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let addr = addr.trim_start_matches("http://").to_string();
                let Ok(stream) = TcpStream::connect(&addr).await else {
                    stats.refused.fetch_add(1, Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let until = tokio::time::Instant::from_std(deadline);
                if i < idle {
                    idle_once(stream, &stats, until).await;
                } else {
                    slow_once(stream, &stats, until).await;
                }
            }
        }));
    }
    Running { stats, tasks }
}

/// Holds a connection without sending a byte, until the server closes it or the deadline.
async fn idle_once(mut stream: TcpStream, stats: &Stats, until: tokio::time::Instant) {
    stats.idle_opened.fetch_add(1, Relaxed);
    let open = stats.idle_open.fetch_add(1, Relaxed) + 1;
    stats.idle_peak.fetch_max(open, Relaxed);
    let mut buf = [0u8; 256];
    tokio::select! {
        _ = stream.read(&mut buf) => { stats.idle_closed.fetch_add(1, Relaxed); }
        _ = tokio::time::sleep_until(until) => {}
    }
    stats.idle_open.fetch_sub(1, Relaxed);
}

/// Sends a request's headers one byte every 200 ms, never finishing them, until the server
/// closes the connection or the deadline.
async fn slow_once(stream: TcpStream, stats: &Stats, until: tokio::time::Instant) {
    stats.slow_opened.fetch_add(1, Relaxed);
    let (mut read, mut write) = stream.into_split();
    let headers = b"POST /payments/cards/auth HTTP/1.1\r\nHost: campaign\r\nX-Slow: ";
    let trickle = async {
        for &b in headers.iter().chain(std::iter::repeat(&b'a')) {
            if write.write_all(&[b]).await.is_err() {
                return;
            }
            stats.slow_bytes.fetch_add(1, Relaxed);
            // The trickle's pace is what makes this client slow.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let mut buf = [0u8; 1024];
    tokio::select! {
        _ = trickle => { stats.slow_closed.fetch_add(1, Relaxed); }
        _ = read.read(&mut buf) => { stats.slow_closed.fetch_add(1, Relaxed); }
        _ = tokio::time::sleep_until(until) => {}
    }
}
