//! Server configuration and start-up: open the store, load the vault key, seed, serve, drain.

use crate::{router, AppState};
use anyhow::{bail, Context};
use aqsha_core::vault::Vault;
use aqsha_store::DatabaseUrl;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    /// 64 hex characters; when absent the key is read from `master_key_file`, or else from
    /// (or generated into) `<data_dir>/master.key`.
    pub master_key: Option<String>,
    /// A file holding the key (64 hex characters), readable by its owner only.
    pub master_key_file: Option<PathBuf>,
    /// Seed the sandbox (test merchant, terminals, cards) on first start.
    pub seed_sandbox: bool,
    /// Lifetime of issued tokens in seconds.
    pub token_ttl_secs: i64,
    pub callbacks: crate::callbacks::CallbackSettings,
    /// Serve the `/sandbox/*` API.
    pub sandbox_api: bool,
}

impl Config {
    pub fn database_url(&self) -> anyhow::Result<DatabaseUrl> {
        let url = match &self.database {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("aqsha.db").display()),
        };
        DatabaseUrl::parse(&url).map_err(|e| anyhow::anyhow!("--database: {e}"))
    }
}

/// The vault's master key: configured, read from a key file, or kept in the data directory
/// (created on first start). A key file that group or others can read is refused.
pub fn load_master_key(config: &Config) -> anyhow::Result<[u8; 32]> {
    if let Some(hex) = &config.master_key {
        return Vault::parse_master_key(hex).context("--master-key / AQSHA_MASTER_KEY");
    }
    if let Some(path) = &config.master_key_file {
        return read_key_file(path);
    }
    let dir = &config.data_dir;
    aqsha_store::files::create_private_dir(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    if let Ok(Some(mode)) = aqsha_store::files::shared_mode(dir) {
        tracing::warn!(
            path = %dir.display(),
            mode = format!("{mode:o}"),
            "the data directory is open to group or others; run chmod 700 on it"
        );
    }
    let path = dir.join("master.key");
    if path.exists() {
        return read_key_file(&path);
    }
    let key = Vault::generate_master_key();
    write_private(&path, &hex::encode(key))?;
    tracing::warn!(
        path = %path.display(),
        "generated a new vault master key; card data in this database can only be read with it. \
         For production, give the key with --master-key-file or AQSHA_MASTER_KEY from a secret store"
    );
    Ok(key)
}

/// Reads a key file, refusing one that group or others may read: the key opens every card
/// in the vault, and a readable copy is as good as a leaked one.
fn read_key_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    if let Some(mode) = aqsha_store::files::shared_mode(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?
    {
        bail!(
            "key file {p} is readable by group or others (mode {mode:o}); the vault key must be \
             private to its owner: run `chmod 600 {p}`",
            p = path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    Vault::parse_master_key(text.trim()).with_context(|| format!("key file {}", path.display()))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    if !aqsha_store::files::create_private_file(path)
        .with_context(|| format!("cannot create {}", path.display()))?
    {
        bail!("{} appeared while it was being created", path.display());
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Opens the store, seeds it if asked, and returns the app state.
pub async fn prepare(config: &Config) -> anyhow::Result<AppState> {
    let url = config.database_url()?;
    let key = load_master_key(config)?;
    let vault = Arc::new(Vault::new(key));
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
    Ok(AppState {
        store,
        vault,
        token_ttl_secs: config.token_ttl_secs,
        callbacks_wake: Arc::new(tokio::sync::Notify::new()),
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
    axum::serve(listener, app)
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
    if config.master_key.is_some() && config.master_key_file.is_some() {
        bail!("give the vault key once: --master-key-file or --master-key / AQSHA_MASTER_KEY, not both");
    }
    if matches!(url, DatabaseUrl::Postgres(_))
        && config.master_key.is_none()
        && config.master_key_file.is_none()
    {
        bail!(
            "--master-key-file / AQSHA_MASTER_KEY_FILE (or AQSHA_MASTER_KEY) is required with \
             PostgreSQL: every instance on one database must seal and fingerprint cards with \
             the same key"
        );
    }
    if config.mode == Mode::Production && config.sandbox_api {
        bail!("--sandbox-api true cannot be used with --mode production: the sandbox API creates cards and money");
    }
    if let Some(proxy) = &config.callbacks.proxy {
        // Checked here, before the server listens; the URL may carry credentials, so it is
        // not repeated.
        if reqwest::Proxy::all(proxy).is_err() {
            bail!("--callback-proxy / AQSHA_CALLBACK_PROXY must be a proxy URL such as http://host:port");
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
