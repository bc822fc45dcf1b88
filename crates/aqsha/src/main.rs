#![doc = include_str!("../README.md")]
// The doc comments on the clap types below are the subcommands' `--help` text, written for a
// terminal (`<data-dir>`, bare URLs); rustdoc's HTML checks do not apply to them.
#![allow(rustdoc::invalid_html_tags, rustdoc::bare_urls)]

mod admin;
mod cli;
mod keys;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Every request allocates and frees many small buffers on one thread and the writer on
/// another; mimalloc's per-thread heaps do that with less CPU than glibc's arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "aqsha",
    version,
    about = "A P2P card-transfer gateway that speaks Halyk ePay's API"
)]
struct Cli {
    /// Log format on stderr: `text` or `json`.
    #[arg(long, env = "AQSHA_LOG_FORMAT", default_value = "text", global = true, value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway: the ePay API, the sandbox card network and its APIs.
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate(StoreArgs),
    /// Manage merchants.
    #[command(subcommand)]
    Merchant(admin::MerchantCommand),
    /// Rotate the vault's keys: list, rotate, reencrypt, retire.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Print the API's OpenAPI 3.1 description (the `/openapi.json` document), or with
    /// --markdown the page `docs/openapi.md` is made from.
    Openapi {
        #[arg(long)]
        markdown: bool,
    },
    /// Load-test a server with the complete P2P flow and print throughput and latency.
    #[cfg(feature = "bench")]
    Bench(Box<aqsha_bench::BenchArgs>),
    #[command(flatten)]
    Client(Box<cli::ClientCommand>),
}

#[derive(Args, Clone)]
struct StoreArgs {
    /// Directory for the SQLite database and the generated vault key.
    #[arg(long, env = "AQSHA_DATA_DIR", default_value = "./aqsha-data")]
    data_dir: PathBuf,
    /// Database URL: `sqlite://PATH` (default `sqlite://<data-dir>/aqsha.db`) or
    /// `postgres://USER@HOST:PORT/DB` (needs --master-key or --keyring, shared by every instance).
    #[arg(long, env = "AQSHA_DATABASE")]
    database: Option<String>,
    /// Vault master key, 64 hex characters. Prefer --master-key-file or the environment
    /// variable: a command-line argument is visible in the process list. When no key is
    /// given, it is read from (or generated into) `<data-dir>/master.key`.
    #[arg(long, env = "AQSHA_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    /// Keyring file (written by `aqsha keys rotate`); default `<data-dir>/keyring`. When it
    /// exists it is used instead of --master-key and master.key.
    #[arg(long, env = "AQSHA_KEYRING")]
    keyring: Option<PathBuf>,
    /// File holding the vault master key (64 hex characters); refused unless only its owner
    /// can read it (chmod 600).
    #[arg(long, env = "AQSHA_MASTER_KEY_FILE", conflicts_with = "master_key")]
    master_key_file: Option<PathBuf>,
    /// Do not install the sandbox merchant, terminals and cards on first start.
    #[arg(long, env = "AQSHA_NO_SEED")]
    no_seed: bool,
    /// Lifetime of issued access tokens, in seconds (ePay: 7200).
    #[arg(long, env = "AQSHA_TOKEN_TTL", default_value_t = aqsha_core::token::TOKEN_TTL_SECS)]
    token_ttl: i64,
}

#[derive(Args, Clone)]
struct CallbackArgs {
    /// Gaps between callback delivery attempts; the last one repeats.
    #[arg(
        long,
        env = "AQSHA_CALLBACK_RETRY_SCHEDULE",
        default_value = "10s,1m,5m,15m,1h,3h"
    )]
    callback_retry_schedule: String,
    /// Give up on a callback (mark it failed) once it is this old.
    #[arg(long, env = "AQSHA_CALLBACK_MAX_AGE", default_value = "3d")]
    callback_max_age: String,
    /// A callback attempt without a complete answer within this time has failed.
    #[arg(long, env = "AQSHA_CALLBACK_TIMEOUT", default_value = "10s")]
    callback_timeout: String,
    /// Which callback targets are allowed: `any`, or `public` to refuse loopback, private,
    /// link-local and reserved addresses (also after DNS resolution). Default: `any` in the
    /// sandbox mode, `public` in production mode.
    #[arg(long, env = "AQSHA_CALLBACK_TARGETS", value_parser = ["any", "public"])]
    callback_targets: Option<String>,
    /// Most callback attempts running at once for one merchant, so that one merchant's
    /// hanging endpoints cannot delay the others' callbacks (256 run at once in all).
    #[arg(long, env = "AQSHA_CALLBACK_PER_MERCHANT", default_value_t = aqsha_server::callbacks::DEFAULT_PER_MERCHANT as u64,
          value_parser = clap::value_parser!(u64).range(1..=256))]
    callback_per_merchant: u64,
    /// Send callbacks through this HTTP(S) proxy. Without it, proxy environment variables
    /// (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) are ignored for callbacks.
    #[arg(long, env = "AQSHA_CALLBACK_PROXY")]
    callback_proxy: Option<String>,
}

impl CallbackArgs {
    fn settings(
        &self,
        mode: aqsha_server::config::Mode,
    ) -> anyhow::Result<aqsha_server::callbacks::CallbackSettings> {
        use aqsha_server::callbacks::{parse_duration, parse_schedule, CallbackSettings};
        let bad = |flag: &str, e: String| anyhow::anyhow!("--{flag}: {e}");
        Ok(CallbackSettings {
            retry_schedule: parse_schedule(&self.callback_retry_schedule)
                .map_err(|e| bad("callback-retry-schedule", e))?,
            max_age: parse_duration(&self.callback_max_age)
                .map_err(|e| bad("callback-max-age", e))?,
            timeout: parse_duration(&self.callback_timeout)
                .map_err(|e| bad("callback-timeout", e))?,
            public_only: match self.callback_targets.as_deref() {
                Some(t) => t == "public",
                None => mode == aqsha_server::config::Mode::Production,
            },
            per_merchant: usize::try_from(self.callback_per_merchant).unwrap_or(1),
            proxy: self.callback_proxy.clone(),
        })
    }
}

/// Timeouts and caps of `aqsha serve` (docs/api.md, "Limits, timeouts and shutdown").
#[derive(Args)]
struct LimitArgs {
    /// Time a client has to send a request's line and headers: from its first byte, and for
    /// a connection's first request from the accept. Also bounds the TLS handshake.
    #[arg(long, env = "AQSHA_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    header_read_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request before it is closed.
    #[arg(long, env = "AQSHA_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Time from a request's headers to its response, body included; past it the answer is
    /// 503 (code 100: query the status, or resend with the same token).
    #[arg(long, env = "AQSHA_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Most open client connections; more wait in the kernel's queue. Default: the open-file
    /// limit (raised to its hard limit at start) less 320, at most 10000.
    #[arg(long, env = "AQSHA_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Most requests handled at once; more are answered 503 with Retry-After.
    #[arg(long, env = "AQSHA_MAX_IN_FLIGHT", default_value_t = 1024)]
    max_in_flight: usize,
    /// Most writes waiting for the database writer; more are answered 503 with Retry-After.
    #[arg(long, env = "AQSHA_WRITER_QUEUE", default_value_t = aqsha_store::DEFAULT_WRITER_QUEUE)]
    writer_queue: usize,
    /// Longest request target (path and query) in bytes; longer gets 414.
    #[arg(long, env = "AQSHA_MAX_URI_BYTES", default_value_t = 8192)]
    max_uri_bytes: usize,
    /// Largest header block in bytes; larger gets 431.
    #[arg(long, env = "AQSHA_MAX_HEADER_BYTES", default_value_t = 32768)]
    max_header_bytes: usize,
    /// On SIGTERM: time requests in flight get to finish before connections are cut.
    #[arg(long, env = "AQSHA_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    shutdown_grace: Duration,
}

impl LimitArgs {
    fn limits(&self) -> aqsha_server::limits::Limits {
        aqsha_server::limits::Limits {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            request_timeout: self.request_timeout,
            max_connections: self.max_connections,
            max_in_flight: self.max_in_flight,
            writer_queue: self.writer_queue,
            max_uri_bytes: self.max_uri_bytes,
            max_header_bytes: self.max_header_bytes,
            shutdown_grace: self.shutdown_grace,
        }
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    aqsha_server::callbacks::parse_duration(text)
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, env = "AQSHA_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// `sandbox` (default): seed the documented test merchant and cards, serve the sandbox
    /// API. `production`: no route that creates cards or money, no test merchant unless
    /// `--seed-sandbox`, callbacks to public addresses only unless told otherwise.
    #[arg(long, env = "AQSHA_MODE", default_value = "sandbox", value_parser = ["sandbox", "production"])]
    mode: String,
    /// Serve the /sandbox/* API (card network, test cards and terminals, callback history).
    /// Default: on in the sandbox mode; production mode refuses it.
    #[arg(long, env = "AQSHA_SANDBOX_API", action = clap::ArgAction::Set)]
    sandbox_api: Option<bool>,
    /// Install the public test merchant, terminals and cards even in production mode.
    #[arg(long, env = "AQSHA_SEED_SANDBOX")]
    seed_sandbox: bool,
    /// Most money one merchant may create in the sandbox (opening balances and top-ups of the
    /// cards it issues), per currency, in major units.
    #[arg(long, env = "AQSHA_SANDBOX_FUNDING_CAP", default_value = "1000000000")]
    sandbox_funding_cap: String,
    /// How far a token reaches into the merchant's customers: `strict` (a per-order token
    /// reaches its own order only; saved cards need a service token or one issued for the
    /// customer with `accountId`) or `epay` (ePay's looser behaviour). See docs/api.md.
    #[arg(long, env = "AQSHA_CUSTOMER_BINDING", default_value = "strict", value_parser = ["strict", "epay"])]
    customer_binding: String,
    /// Wrong CVC or expiry answers for one card (counted per merchant) that block it.
    #[arg(long, env = "AQSHA_CARD_GUESS_LIMIT", default_value_t = 3)]
    card_guess_limit: u32,
    /// How long a card stays blocked (for the merchant that guessed) after that many.
    #[arg(long, env = "AQSHA_CARD_GUESS_BLOCK", default_value = "30m")]
    card_guess_block: String,
    /// How long a 3-D Secure challenge waits for the cardholder before its transfer fails
    /// with 473 (docs/protocol.md, "3-D Secure").
    #[arg(long, env = "AQSHA_SECURE3D_EXPIRY", default_value = "10m")]
    secure3d_expiry: String,
    /// Failed client authentications (token endpoint, sandbox API) per client per minute;
    /// past it the client is refused (429) to addresses it has not authenticated from.
    #[arg(long, env = "AQSHA_AUTH_FAILURES_PER_CLIENT", default_value_t = 10)]
    auth_failures_per_client: u32,
    /// Failed client authentications per source address per minute; past it the address is
    /// refused (429) for every client.
    #[arg(long, env = "AQSHA_AUTH_FAILURES_PER_ADDRESS", default_value_t = 30)]
    auth_failures_per_address: u32,
    /// Serve HTTPS: the certificate chain (PEM, leaf first). Needs --tls-key.
    #[arg(long, env = "AQSHA_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Serve HTTPS: the certificate's private key (PEM). Needs --tls-cert.
    #[arg(long, env = "AQSHA_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// This instance's name on its callback and resolution leases, the same on every restart:
    /// a restarted instance re-sends at once what its previous run had in flight. Default: an
    /// id kept in `<data-dir>/instance-id`. Never give two running instances the same one.
    #[arg(long, env = "AQSHA_INSTANCE_ID")]
    instance_id: Option<String>,
    /// How often to look for another running process using this instance id (it is logged).
    #[arg(long, env = "AQSHA_LEASE_CHECK_INTERVAL", default_value = "30s", value_parser = parse_duration, hide = true)]
    lease_check_interval: Duration,
    /// Require `Authorization: Bearer <this>` on `GET /metrics` (docs/metrics.md). Set it
    /// whenever anyone but your Prometheus can reach the listener: without it the figures
    /// (routes, volumes, reason codes) are public. At least 16 characters.
    #[arg(long, env = "AQSHA_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    callbacks: CallbackArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

impl StoreArgs {
    fn config(&self, listen: SocketAddr) -> aqsha_server::Config {
        if let Some(key) = &self.master_key {
            // clap takes the flag over the variable: a key that is not the variable's value
            // came from the command line.
            if std::env::var("AQSHA_MASTER_KEY").ok().as_deref() != Some(key.as_str()) {
                tracing::warn!(
                    "--master-key on the command line is visible to every user in the process \
                     list; use --master-key-file or AQSHA_MASTER_KEY"
                );
            }
        }
        aqsha_server::Config {
            mode: Default::default(),
            listen,
            data_dir: self.data_dir.clone(),
            database: self.database.clone(),
            master_key: self.master_key.clone(),
            keyring: self.keyring.clone(),
            master_key_file: self.master_key_file.clone(),
            seed_sandbox: !self.no_seed,
            sandbox_api: true,
            funding_cap: aqsha_server::config::DEFAULT_FUNDING_CAP,
            rules: Default::default(),
            auth_throttle: Default::default(),
            cabinet: Default::default(),
            token_ttl_secs: self.token_ttl,
            callbacks: Default::default(),
            limits: Default::default(),
            tls: None,
            instance_id: None,
            lease_check_interval: aqsha_server::leases::DEFAULT_CHECK_INTERVAL,
            metrics_token: None,
        }
    }
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AQSHA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(&cli.log_format);
    // The load generator runs on as few threads as it is told (one by default): on a small
    // machine it shares the cores with the server it measures, and one thread does the work
    // of 64 clients with the least overhead.
    let runtime = match &cli.command {
        #[cfg(feature = "bench")]
        Command::Bench(args) if args.threads <= 1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        #[cfg(feature = "bench")]
        Command::Bench(args) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build(),
        _ => tokio::runtime::Runtime::new(),
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = match cli.command {
        Command::Client(c) => return runtime.block_on(cli::run(*c)),
        other => other,
    };
    match runtime.block_on(run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Client(c) => match cli::run(*c).await {
            code if code == ExitCode::SUCCESS => Ok(()),
            _ => Err(anyhow::anyhow!("command failed")),
        },
        Command::Serve(args) => {
            let mut config = args.store.config(args.listen);
            let mode = aqsha_server::config::Mode::parse(&args.mode)
                .context("--mode must be sandbox or production")?;
            config.mode = mode;
            config.callbacks = args.callbacks.settings(mode)?;
            let sandbox = mode == aqsha_server::config::Mode::Sandbox;
            config.sandbox_api = args.sandbox_api.unwrap_or(sandbox);
            config.seed_sandbox = !args.store.no_seed && (sandbox || args.seed_sandbox);
            config.rules = aqsha_core::transfer::TransferRules {
                binding: aqsha_core::token::CustomerBinding::parse(&args.customer_binding)
                    .context("--customer-binding must be strict or epay")?,
                wrong_answer_limit: args.card_guess_limit,
                block_for: chrono::Duration::from_std(
                    aqsha_server::callbacks::parse_duration(&args.card_guess_block)
                        .map_err(|e| anyhow::anyhow!("--card-guess-block: {e}"))?,
                )
                .context("--card-guess-block is too long")?,
                // Set from the sandbox API's switch when the server starts (`config.rs`).
                sandbox_outcomes: false,
                secure3d_expiry: chrono::Duration::from_std(
                    aqsha_server::callbacks::parse_duration(&args.secure3d_expiry)
                        .map_err(|e| anyhow::anyhow!("--secure3d-expiry: {e}"))?,
                )
                .context("--secure3d-expiry is too long")?,
            };
            if config.rules.secure3d_expiry < chrono::Duration::seconds(1) {
                anyhow::bail!("--secure3d-expiry must be at least 1s");
            }
            config.auth_throttle = aqsha_server::throttle::ThrottleSettings {
                per_client: args.auth_failures_per_client,
                per_address: args.auth_failures_per_address,
                ..Default::default()
            };
            if config.rules.wrong_answer_limit == 0 {
                anyhow::bail!("--card-guess-limit must be at least 1");
            }
            config.funding_cap =
                aqsha_core::money::Money::parse_positive(&args.sandbox_funding_cap)
                    .map_err(|e| anyhow::anyhow!("--sandbox-funding-cap: {e}"))?;
            config.limits = args.limits.limits();
            config.instance_id = args.instance_id;
            config.lease_check_interval = args.lease_check_interval;
            if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
                config.tls = Some(aqsha_server::tls::TlsFiles { cert, key });
            }
            config.metrics_token = args.metrics_token;
            aqsha_server::config::validate(&config)?;
            aqsha_server::config::serve(config).await
        }
        #[cfg(feature = "bench")]
        Command::Bench(args) => aqsha_bench::run(*args).await,
        Command::Keys(command) => keys::run(command).await,
        Command::Migrate(store) => {
            let config = store.config(unused_addr());
            aqsha_server::config::validate(&config)?;
            aqsha_store::open(&config.database_url()?)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("migrations applied");
            Ok(())
        }
        Command::Merchant(m) => admin::run(m).await,
        Command::Openapi { markdown } => {
            let json = aqsha_server::openapi::json();
            if markdown {
                let doc: serde_json::Value = serde_json::from_str(json)?;
                print!("{}", aqsha_server::openapi::markdown::render(&doc));
            } else {
                println!("{json}");
            }
            Ok(())
        }
    }
}

fn unused_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}
