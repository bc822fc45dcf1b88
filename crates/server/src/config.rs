//! Server configuration and start-up: open the store, load the vault key, seed, serve, drain.
//!
//! Shutdown (SIGTERM or Ctrl-C) runs in this order: stop accepting; let requests in flight
//! finish, for at most the grace period ([`crate::listener`]); close the store, which commits
//! every write already queued and answers its caller ([`aqsha_core::store::Store::close`]);
//! exit. A transfer is thus either committed, or was never acknowledged: nothing is answered
//! before its commit, and nothing queued is abandoned half-done (a batch is one transaction).

use crate::{router_with, AppState};
use anyhow::{bail, Context};
use aqsha_core::vault::Vault;
use aqsha_store::DatabaseUrl;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// What a deployment is for. The sandbox (the default) seeds the documented test merchant and
/// serves the `/sandbox/*` API, which creates cards and money; production does neither unless
/// asked, and defaults every other setting to its stricter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Sandbox,
    Production,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "sandbox" => Some(Mode::Sandbox),
            "production" => Some(Mode::Production),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Sandbox => "sandbox",
            Mode::Production => "production",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Defaults to `sqlite://<data_dir>/aqsha.db`.
    pub database: Option<String>,
    /// 64 hex characters; when absent the key is read from, or generated into,
    /// `<data_dir>/master.key`. A keyring file, when there is one, takes precedence
    /// ([`crate::keyfile`]).
    pub master_key: Option<String>,
    /// The keyring file; `None` means `<data_dir>/keyring` (used only if it exists).
    pub keyring: Option<PathBuf>,
    /// A file holding the master key (64 hex characters), readable by its owner only
    /// (`--master-key-file`); used like `master_key`.
    pub master_key_file: Option<PathBuf>,
    /// Seed the sandbox (test merchant, terminals, cards) on first start.
    pub seed_sandbox: bool,
    /// Lifetime of issued tokens in seconds.
    pub token_ttl_secs: i64,
    pub callbacks: crate::callbacks::CallbackSettings,
    /// Serve the `/sandbox/*` API.
    pub sandbox_api: bool,
    /// Most money one merchant may create in the sandbox (opening balances and top-ups of its
    /// own cards), per currency.
    pub funding_cap: aqsha_core::money::Money,
    /// How far a token reaches into the merchant's customers (`--customer-binding`), and the
    /// wrong CVC/expiry answers that block a card (`--card-guess-limit`, `--card-guess-block`).
    pub rules: aqsha_core::transfer::TransferRules,
    /// Failed client authentications allowed per client and per address.
    pub auth_throttle: crate::throttle::ThrottleSettings,
    /// Timeouts, caps and the shutdown grace period.
    pub limits: crate::limits::Limits,
    /// Serve HTTPS with this certificate and key; plain HTTP when absent.
    pub tls: Option<crate::tls::TlsFiles>,
    /// The merchant cabinet's session idle time and login lock.
    pub cabinet: crate::pages::cabinet::CabinetSettings,
    /// Who this instance is on its leases (`--instance-id`); `None`: the id kept in the data
    /// directory ([`crate::leases`]).
    pub instance_id: Option<String>,
    /// How often to look for another process using this instance id.
    pub lease_check_interval: std::time::Duration,
    /// When set, `GET /metrics` requires `Authorization: Bearer <this>` (`--metrics-token`).
    pub metrics_token: Option<String>,
}

/// The default per-merchant sandbox funding cap: 1,000,000,000 (tenge or dollars).
pub const DEFAULT_FUNDING_CAP: aqsha_core::money::Money =
    aqsha_core::money::Money::from_minor(100_000_000_000);

impl Config {
    /// `"https"` or `"http"`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    pub fn database_url(&self) -> anyhow::Result<DatabaseUrl> {
        let url = match &self.database {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("aqsha.db").display()),
        };
        DatabaseUrl::parse(&url).map_err(|e| anyhow::anyhow!("--database: {e}"))
    }
}

/// Opens the store, seeds it if asked, and returns the app state.
pub async fn prepare(config: &Config) -> anyhow::Result<AppState> {
    let url = config.database_url()?;
    let keys = crate::keyfile::load(config, true)?;
    let vault = Arc::new(keys.ring.vault());
    tracing::info!(
        key_id = vault.key_id(),
        "vault keys loaded; sealing under this key id"
    );
    let options = aqsha_store::StoreOptions {
        writer_queue: config.limits.writer_queue,
    };
    let store = aqsha_store::open_with(&url, &options)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if config.seed_sandbox {
        let seed = aqsha_core::seed::prepare(&vault)?;
        if store
            .install(seed)
            .await
            .map_err(|e| anyhow::anyhow!("seeding: {e}"))?
        {
            tracing::info!("seeded the sandbox: merchant \"test\", 4 terminals, 7 cards");
        }
        let phones = aqsha_core::seed::phones(&vault)?;
        if store
            .install(phones)
            .await
            .map_err(|e| anyhow::anyhow!("seeding the phone directory: {e}"))?
        {
            tracing::info!("seeded the sandbox's public phone directory");
        }
    }
    // The public test cards are installed only by the seed, so reading them once at start
    // is enough; every instance reads the same set from the shared database.
    let public_cards = store
        .public_card_keys()
        .await
        .map_err(|e| anyhow::anyhow!("reading the public test cards: {e}"))?;
    Ok(AppState::new(crate::App {
        store,
        vault,
        token_ttl_secs: config.token_ttl_secs,
        callbacks_wake: Arc::new(tokio::sync::Notify::new()),
        public_cards: Arc::new(aqsha_core::network::PublicCards::new(public_cards)),
        funding_cap: config.funding_cap,
        // Scenario cards and magic amounts answer only where the sandbox API is on: a
        // production deployment answers every card and amount naturally.
        rules: aqsha_core::transfer::TransferRules {
            sandbox_outcomes: config.sandbox_api,
            ..config.rules
        },
        throttle: Arc::new(crate::throttle::Throttle::new(config.auth_throttle)),
        tls: config.tls.is_some(),
        cabinet: config.cabinet,
        metrics: Arc::new(crate::metrics::Metrics::new(config.metrics_token.clone())),
    }))
}

/// Serves until SIGTERM or Ctrl-C, then shuts down as the module documentation says.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let bound = bind(config).await?;
    // One plain line on stdout, for scripts and tests that start the server on port 0.
    println!(
        "aqsha listening on {}://{}",
        bound.config.scheme(),
        bound.addr
    );
    bound.run(shutdown_signal()).await
}

/// A server whose store is open and whose listener is bound, not serving yet: [`serve`] in
/// two steps, so that a caller (the end-to-end tests' in-process server) learns the address
/// and chooses when to stop.
pub struct Bound {
    config: Config,
    state: AppState,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    max_connections: usize,
    identity: crate::leases::Identity,
}

/// Connections the kernel queues for the accept loop. The usual 128 (std's and tokio's)
/// overflowed when thousands of clients reconnected at once after a restart (the crash
/// campaign, docs/reliability.md): the overflow's clients retried seconds later. The kernel
/// caps it at `net.core.somaxconn` (4096 on current kernels).
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std and tokio do: a restarted server can take its port back at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Opens the store (seeding it if asked) and binds the listener.
pub async fn bind(config: Config) -> anyhow::Result<Bound> {
    let (open_files, max_connections) = connection_cap(&config);
    let tls = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
    let state = prepare(&config).await?;
    let identity = crate::leases::identity(config.instance_id.as_deref(), &config.data_dir);
    let listener =
        listen(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    log_listening(&config, addr, open_files, max_connections);
    Ok(Bound {
        config,
        state,
        listener,
        addr,
        tls,
        max_connections,
        identity,
    })
}

/// Raises the open-files limit as far as allowed and picks the connection cap from it (or
/// from `--max-connections`), warning when the cap leaves too few descriptors for the rest.
fn connection_cap(config: &Config) -> (Option<u64>, usize) {
    let open_files = crate::limits::raise_open_files();
    let max_connections = match (config.limits.max_connections, open_files) {
        (Some(n), _) => n,
        (None, Some(files)) => crate::limits::default_max_connections(files),
        (None, None) => crate::limits::default_max_connections(1024),
    };
    if let Some(files) = open_files {
        if max_connections as u64 + crate::limits::RESERVED_FILES > files {
            tracing::warn!(
                open_files = files,
                max_connections,
                "--max-connections leaves fewer than {} descriptors for the database and \
                 callbacks; the server may run out of open files",
                crate::limits::RESERVED_FILES
            );
        }
    }
    (open_files, max_connections)
}

/// The start-up line with every setting an operator may want to check, and the warnings
/// about risky combinations.
fn log_listening(
    config: &Config,
    addr: std::net::SocketAddr,
    open_files: Option<u64>,
    max_connections: usize,
) {
    let l = &config.limits;
    tracing::info!(
        %addr,
        scheme = config.scheme(),
        mode = config.mode.name(),
        sandbox_api = config.sandbox_api,
        callback_targets = if config.callbacks.public_only { "public" } else { "any" },
        open_files = open_files.unwrap_or(0),
        max_connections,
        max_in_flight = l.max_in_flight,
        writer_queue = l.writer_queue,
        header_read_timeout_s = l.header_read_timeout.as_secs_f64(),
        idle_timeout_s = l.idle_timeout.as_secs_f64(),
        request_timeout_s = l.request_timeout.as_secs_f64(),
        shutdown_grace_s = l.shutdown_grace.as_secs_f64(),
        callback_per_merchant = config.callbacks.per_merchant,
        callback_proxy = config.callbacks.proxy.is_some(),
        "listening"
    );
    if config.callbacks.public_only && config.callbacks.proxy.is_some() {
        tracing::warn!(
            "callbacks go through --callback-proxy: literal target addresses are still checked, \
             but host names are resolved by the proxy, which must refuse internal targets itself"
        );
    }
    if addr.ip().is_unspecified() {
        tracing::warn!("listening on all interfaces");
    }
    if config.metrics_token.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            "/metrics answers anyone who reaches this listener: set --metrics-token \
             (AQSHA_METRICS_TOKEN) unless only a private network reaches it"
        );
    }
}

impl Bound {
    /// The address the listener is bound to (the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then drains and closes the store.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let Bound {
            config,
            state,
            listener,
            tls,
            max_connections,
            identity,
            ..
        } = self;
        let owner = identity.owner.clone();
        // Before anything claims: what this instance's earlier runs held (deliveries and
        // resolutions in flight when it crashed or stopped) is due again now.
        crate::leases::reclaim(state.store.as_ref(), &owner).await;
        let dispatcher = crate::callbacks::Dispatcher::new(
            state.store.clone(),
            config.callbacks.clone(),
            owner.clone(),
            state.callbacks_wake.clone(),
        )?
        .with_metrics(state.metrics.clone());
        // Deliveries in flight at shutdown are retried by the next start of this instance,
        // at once; by another instance when their lease runs out.
        tokio::spawn(Arc::new(dispatcher).run());
        // Pending operations (non-final sandbox outcomes) resolve when due; one interrupted
        // here is claimed again by the next start (or another instance once its lease has
        // passed).
        tokio::spawn(crate::resolver::run(
            state.store.clone(),
            owner.clone(),
            state.callbacks_wake.clone(),
        ));
        tokio::spawn(crate::leases::watch(
            state.store.clone(),
            owner,
            config.lease_check_interval,
        ));
        let store = state.store.clone();
        let app = router_with(state, config.sandbox_api, &config.limits);
        crate::listener::serve(
            listener,
            app,
            config.limits.clone(),
            max_connections,
            tls,
            shutdown,
        )
        .await;
        // The writer finishes its queue whatever the grace period left behind: requests cut
        // off there may have queued transfers, and each commits whole (or fails whole) here.
        // Bounded too, for a database that no longer answers.
        if tokio::time::timeout(config.limits.shutdown_grace, store.close())
            .await
            .is_err()
        {
            tracing::warn!("the database writer did not finish within the grace period; exiting");
        } else {
            tracing::info!("stopped");
        }
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received, draining");
}

/// Refuses configuration that cannot work, before anything starts.
pub fn validate(config: &Config) -> anyhow::Result<()> {
    let url = config.database_url()?;
    if config.master_key.is_some() && config.master_key_file.is_some() {
        bail!("give the vault key once: --master-key-file or --master-key / AQSHA_MASTER_KEY, not both");
    }
    if matches!(url, DatabaseUrl::Postgres(_))
        && config.master_key.is_none()
        && config.master_key_file.is_none()
        && config.keyring.is_none()
    {
        bail!(
            "--master-key-file / AQSHA_MASTER_KEY_FILE (or AQSHA_MASTER_KEY, or --keyring / \
             AQSHA_KEYRING) is required with PostgreSQL: every instance on one database must \
             seal and fingerprint cards with the same keys"
        );
    }
    if config.mode == Mode::Production && config.sandbox_api {
        bail!("--sandbox-api true cannot be used with --mode production: the sandbox API creates cards and money");
    }
    crate::limits::validate(&config.limits)?;
    if let Some(id) = &config.instance_id {
        crate::leases::validate_id(id).map_err(|e| anyhow::anyhow!(e))?;
    }
    if config.lease_check_interval.is_zero() {
        bail!("--lease-check-interval must be more than 0");
    }
    if let Some(proxy) = &config.callbacks.proxy {
        // Checked here, before the server listens; the URL may carry credentials, so it is
        // not repeated.
        if reqwest::Proxy::all(proxy).is_err() {
            bail!("--callback-proxy / AQSHA_CALLBACK_PROXY must be a proxy URL such as http://host:port");
        }
    }
    if let Some(t) = &config.metrics_token {
        // A short token is guessable, and a blank or spaced one cannot be sent as a bearer
        // token reliably.
        if t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()) {
            bail!("--metrics-token / AQSHA_METRICS_TOKEN must be at least 16 printable characters without spaces");
        }
    }
    if !(1..=86_400).contains(&config.token_ttl_secs) {
        bail!("--token-ttl / AQSHA_TOKEN_TTL must be between 1 and 86400 seconds");
    }
    if let Some(k) = &config.master_key {
        if Vault::parse_master_key(k).is_err() {
            bail!("--master-key / AQSHA_MASTER_KEY must be 64 hexadecimal characters (32 bytes)");
        }
    }
    Ok(())
}
