//! `aqsha merchant …`: merchant administration. Each command opens the database itself (the
//! server need not be stopped) and changes it in one transaction; a running server sees the
//! change at once at its token endpoint, and within its cache's TTL on bearer calls
//! (docs/api.md, "Administration").

use crate::StoreArgs;
use anyhow::{bail, Context};
use aqsha_core::fee::FeeSchedule;
use aqsha_core::money::Currency;
use aqsha_core::provision::{random_secret, random_uuid};
use aqsha_core::store::{MerchantChange, Store};
use aqsha_server::ops::credentials::{
    rotate_callback_secret, rotate_client_secret, CLIENT_SECRET_LEN,
};
use aqsha_store::DatabaseUrl;
use clap::Subcommand;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

/// Length of generated cabinet passwords.
const CABINET_PASSWORD_LEN: usize = 20;

#[derive(Subcommand)]
pub enum MerchantCommand {
    /// Create a merchant with one KZT terminal; prints its client secret and callback signing
    /// secret once, as JSON.
    Add {
        /// The merchant's client_id.
        #[arg(long)]
        client_id: String,
        /// Terminal id (a UUID); generated when absent.
        #[arg(long)]
        terminal: Option<String>,
        /// Display name; the client_id when absent.
        #[arg(long)]
        name: Option<String>,
        /// The merchant cabinet's login (an e-mail address); a password for it is generated
        /// and printed once, as `cabinet_password`.
        #[arg(long)]
        cabinet_email: Option<String>,
        /// The cabinet's time zone, an IANA name (`Europe/London`); the merchant can change
        /// it in the cabinet.
        #[arg(long, default_value = aqsha_core::cabinet::DEFAULT_TIME_ZONE)]
        time_zone: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List merchants: client id, name, enabled or disabled, terminals. Never secrets.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Replace the client secret; prints the new one once. The old one stops working at once.
    RotateSecret {
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Replace the key callbacks are signed with; prints the new one once. Attempts from now
    /// on, including retries of older events, are signed with it.
    RotateCallbackSecret {
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Refuse the merchant's logins and tokens, including tokens issued before.
    Disable {
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Accept the merchant's logins and tokens again.
    Enable {
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn run(command: MerchantCommand) -> anyhow::Result<()> {
    match command {
        MerchantCommand::Add {
            client_id,
            terminal,
            name,
            cabinet_email,
            time_zone,
            store,
        } => {
            let zone = aqsha_server::pages::cabinet::format::Zone::parse(&time_zone)
                .with_context(|| {
                    format!("--time-zone {time_zone:?} is not an IANA time zone (Asia/Almaty, Europe/London)")
                })?;
            let who = Who {
                client_id: &client_id,
                terminal,
                name,
                cabinet_email,
                time_zone: zone.name(),
            };
            add(who, &store).await
        }
        MerchantCommand::List { json, store } => list(json, &store).await,
        MerchantCommand::RotateSecret { client_id, store } => {
            let store = open(&store).await?;
            let secret = rotate_client_secret(store.as_ref(), &client_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .with_context(|| format!("no merchant with client_id {client_id:?}"))?;
            println!(
                "{}",
                json!({"client_id": client_id, "client_secret": secret})
            );
            eprintln!("the old client secret no longer works; this one is not shown again");
            Ok(())
        }
        MerchantCommand::RotateCallbackSecret { client_id, store } => {
            let store = open(&store).await?;
            let secret = rotate_callback_secret(store.as_ref(), &client_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .with_context(|| format!("no merchant with client_id {client_id:?}"))?;
            println!(
                "{}",
                json!({"client_id": client_id, "callback_secret": secret})
            );
            Ok(())
        }
        MerchantCommand::Disable { client_id, store } => {
            change_merchant(&store, &client_id, MerchantChange::Disabled(true)).await?;
            println!("merchant {client_id} disabled");
            Ok(())
        }
        MerchantCommand::Enable { client_id, store } => {
            change_merchant(&store, &client_id, MerchantChange::Disabled(false)).await?;
            println!("merchant {client_id} enabled");
            Ok(())
        }
    }
}

/// The merchant `aqsha merchant add` creates.
struct Who<'a> {
    client_id: &'a str,
    terminal: Option<String>,
    name: Option<String>,
    cabinet_email: Option<String>,
    time_zone: &'static str,
}

async fn add(who: Who<'_>, store: &StoreArgs) -> anyhow::Result<()> {
    let Who {
        client_id,
        terminal,
        name,
        cabinet_email,
        time_zone,
    } = who;
    let cabinet_email = cabinet_email.map(|e| e.trim().to_lowercase());
    if let Some(e) = &cabinet_email {
        let (user, domain) = e.split_once('@').unwrap_or_default();
        if user.is_empty()
            || !domain.contains('.')
            || e.len() > 254
            || e.contains(char::is_whitespace)
        {
            bail!("--cabinet-email {e:?} is not an e-mail address");
        }
    }
    let mut config = store.config(unused_addr());
    // Adding a merchant never installs the sandbox as a side effect.
    config.seed_sandbox = false;
    aqsha_server::config::validate(&config)?;
    let state = aqsha_server::config::prepare(&config).await?;
    let secret = random_secret(CLIENT_SECRET_LEN);
    let terminal = terminal.unwrap_or_else(random_uuid);
    let mut merchant = aqsha_core::provision::new_merchant(
        name.as_deref().unwrap_or(client_id),
        client_id,
        &secret,
        &[(terminal.clone(), Currency::Kzt)],
        FeeSchedule::DEFAULT,
    );
    let cabinet_password = cabinet_email
        .as_ref()
        .map(|_| random_secret(CABINET_PASSWORD_LEN));
    if let Some(p) = &cabinet_password {
        merchant.cabinet_email = cabinet_email.clone();
        merchant.cabinet_password_hash =
            Some(aqsha_core::provision::hash_password(p).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    merchant.time_zone = Some(time_zone.to_string());
    let callback_secret = merchant.callback_secret.clone();
    let seed = aqsha_core::provision::NewRecords {
        merchants: vec![merchant],
        ..Default::default()
    };
    state
        .store
        .install(seed)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| {
            format!("cannot create merchant {client_id:?} (does it exist already?)")
        })?;
    let mut shown = json!({"client_id": client_id, "client_secret": secret,
               "callback_secret": callback_secret, "terminal": terminal,
               "time_zone": time_zone});
    if let (Some(e), Some(p)) = (cabinet_email, cabinet_password) {
        shown["cabinet_email"] = json!(e);
        shown["cabinet_password"] = json!(p);
    }
    println!("{shown}");
    Ok(())
}

async fn list(as_json: bool, store: &StoreArgs) -> anyhow::Result<()> {
    let merchants = open(store)
        .await?
        .merchants()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let status = |disabled: bool| if disabled { "disabled" } else { "enabled" };
    if as_json {
        let list: Vec<_> = merchants
            .iter()
            .map(|m| {
                let terminals: Vec<_> = m
                    .terminals
                    .iter()
                    .map(|(id, c)| json!({"id": id, "currency": c.code()}))
                    .collect();
                json!({"client_id": m.client_id, "name": m.name,
                       "status": status(m.disabled), "terminals": terminals})
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    let width = |f: fn(&aqsha_core::store::MerchantSummary) -> usize, title: &str| {
        merchants.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let (wc, wn) = (
        width(|m| m.client_id.chars().count(), "CLIENT_ID"),
        width(|m| m.name.chars().count(), "NAME"),
    );
    println!(
        "{:wc$}  {:wn$}  {:8}  TERMINALS",
        "CLIENT_ID", "NAME", "STATUS"
    );
    for m in &merchants {
        let terminals: Vec<String> = m
            .terminals
            .iter()
            .map(|(id, c)| format!("{id} ({})", c.code()))
            .collect();
        println!(
            "{:wc$}  {:wn$}  {:8}  {}",
            m.client_id,
            m.name,
            status(m.disabled),
            terminals.join(", ")
        );
    }
    Ok(())
}

async fn change_merchant(
    store: &StoreArgs,
    client_id: &str,
    change: MerchantChange,
) -> anyhow::Result<()> {
    let found = open(store)
        .await?
        .update_merchant(client_id, change)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if !found {
        bail!("no merchant with client_id {client_id:?}");
    }
    Ok(())
}

/// Opens an existing database, without the vault key: these commands touch no card data.
async fn open(store: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    let url = store.config(unused_addr()).database_url()?;
    if let DatabaseUrl::Sqlite(path) = &url {
        if !path.exists() {
            bail!(
                "no database at {}: give the server's --data-dir or --database",
                path.display()
            );
        }
    }
    aqsha_store::open(&url)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn unused_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}
