//! The server in the test process: the configuration `aqsha serve` builds from its defaults,
//! opened and bound by `aqsha_server::config::bind` and served on a thread of its own with its
//! own runtime, so that a test's blocking calls (a child process it waits for) never stall it
//! and dropping it shuts it down the way SIGTERM would.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

/// `aqsha serve --listen 127.0.0.1:0 --data-dir DIR [--database URL --master-key KEY]` with
/// every other setting at its default (the sandbox mode).
pub fn config(data_dir: &Path, database: Option<&str>) -> aqsha_server::Config {
    aqsha_server::Config {
        mode: aqsha_server::config::Mode::Sandbox,
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.to_path_buf(),
        database: database.map(str::to_string),
        // PostgreSQL needs the key given; on SQLite it is generated into the data directory.
        master_key: database.map(|_| super::TEST_MASTER_KEY.to_string()),
        keyring: None,
        master_key_file: None,
        seed_sandbox: true,
        sandbox_api: true,
        funding_cap: aqsha_server::config::DEFAULT_FUNDING_CAP,
        rules: Default::default(),
        auth_throttle: Default::default(),
        cabinet: Default::default(),
        metrics_token: None,
        token_ttl_secs: aqsha_core::token::TOKEN_TTL_SECS,
        callbacks: Default::default(),
        limits: Default::default(),
        tls: None,
        instance_id: None,
        lease_check_interval: aqsha_server::leases::DEFAULT_CHECK_INTERVAL,
    }
}

/// A running in-process server; dropping it stops the server and waits until its store is
/// closed (every queued write committed), as a SIGTERM to the process would.
pub struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Starts the server; returns its base URL once it listens.
    pub fn start(config: &aqsha_server::Config) -> (String, Running) {
        aqsha_server::config::validate(config).unwrap();
        let config = config.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let scheme = config.scheme();
                let bound = match aqsha_server::config::bind(config).await {
                    Ok(b) => b,
                    Err(e) => return drop(ready_tx.send(Err(format!("{e:#}")))),
                };
                let _ = ready_tx.send(Ok(format!("{scheme}://{}", bound.addr())));
                let served = bound.run(async {
                    let _ = stopped.await;
                });
                if let Err(e) = served.await {
                    panic!("in-process server failed: {e:#}");
                }
            });
        });
        let url = ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the in-process server did not start within 60 s")
            .unwrap_or_else(|e| panic!("the in-process server did not start: {e}"));
        let running = Running {
            stop: Some(stop),
            thread: Some(thread),
        };
        (url, running)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
