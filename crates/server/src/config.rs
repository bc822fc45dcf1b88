//! Server configuration and start-up: open the store, load the vault key, seed, serve, drain.

use crate::{router, AppState};
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
}

/// The default per-merchant sandbox funding cap: 1,000,000,000 (tenge or dollars).
pub const DEFAULT_FUNDING_CAP: aqsha_core::money::Money =
    aqsha_core::money::Money::from_minor(100_000_000_000);

impl Config {
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
    let store = aqsha_store::open(&url)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if config.seed_sandbox {
        let seed = aqsha_core::sandbox::prepare(&vault)?;
        if store
            .install(seed)
            .await
            .map_err(|e| anyhow::anyhow!("seeding: {e}"))?
        {
            tracing::info!("seeded the sandbox: merchant \"test\", 4 terminals, 6 cards");
        }
    }
    // The public test cards are installed only by the seed, so reading them once at start
    // is enough; every instance reads the same set from the shared database.
    let public_cards = store
        .public_card_keys()
        .await
        .map_err(|e| anyhow::anyhow!("reading the public test cards: {e}"))?;
    Ok(AppState {
        store,
        vault,
        token_ttl_secs: config.token_ttl_secs,
        callbacks_wake: Arc::new(tokio::sync::Notify::new()),
        public_cards: Arc::new(aqsha_core::network::PublicCards::new(public_cards)),
        funding_cap: config.funding_cap,
        rules: config.rules,
        throttle: Arc::new(crate::throttle::Throttle::new(config.auth_throttle)),
    })
}

/// Serves until SIGTERM or Ctrl-C, then stops accepting and lets in-flight requests finish.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let state = prepare(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        mode = config.mode.name(),
        sandbox_api = config.sandbox_api,
        callback_targets = if config.callbacks.public_only { "public" } else { "any" },
        "listening"
    );
    // One plain line on stdout, for scripts and tests that start the server on port 0.
    println!("aqsha listening on http://{addr}");
    if addr.ip().is_unspecified() {
        tracing::warn!("listening on all interfaces");
    }
    let dispatcher = crate::callbacks::Dispatcher::new(
        state.store.clone(),
        config.callbacks.clone(),
        state.callbacks_wake.clone(),
    )?;
    // Deliveries in flight at shutdown are simply retried by the next start: each event's
    // lease runs out and it becomes due again.
    tokio::spawn(Arc::new(dispatcher).run());
    let app = router(state, config.sandbox_api);
    // The peer address is what failed authentications are counted by (crate::throttle).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server failed")?;
    tracing::info!("stopped: in-flight requests drained");
    Ok(())
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
    if matches!(url, DatabaseUrl::Postgres(_))
        && config.master_key.is_none()
        && config.keyring.is_none()
    {
        bail!(
            "--master-key / AQSHA_MASTER_KEY (or --keyring / AQSHA_KEYRING) is required with \
             PostgreSQL: every instance on one database must seal and fingerprint cards with the \
             same keys"
        );
    }
    if config.mode == Mode::Production && config.sandbox_api {
        bail!("--sandbox-api true cannot be used with --mode production: the sandbox API creates cards and money");
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
