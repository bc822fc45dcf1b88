//! `aqsha keys`: rotating the vault's sealing keys (docs/api.md, "Key rotation").
//!
//! The order an operator follows: `rotate` (a new active key in the keyring file), restart
//! every instance with that file, `reencrypt` (every stored card number under the new key),
//! and once the old key's tokens have expired, `retire` it. `list` shows where things stand.
//! Fingerprints, CVC check values and request digests are keyed by the index keys, which none
//! of this touches.

use crate::StoreArgs;
use anyhow::{bail, Context};
use aqsha_core::keyring::{KeyState, Keyring};
use aqsha_core::records::SealedTable;
use aqsha_core::store::{KeyUsage, Store};
use aqsha_server::keyfile::{self, KeySource};
use clap::Subcommand;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List the sealing keys, which one is active, and how many stored card numbers each seals.
    List(StoreArgs),
    /// Add a new sealing key and make it active (prints its id). The first rotation turns
    /// --master-key or <data-dir>/master.key into the first key of the keyring file.
    Rotate {
        /// Add the key without making it active yet: give the file to every instance first,
        /// then `aqsha keys activate ID`, so no instance meets a token it cannot open.
        #[arg(long)]
        staged: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Make a key of the keyring the active one.
    Activate {
        key_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Re-seal every stored card number that is not under the active key, in batches (one
    /// transaction each). Safe to interrupt and run again.
    Reencrypt {
        /// Card numbers per batch.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..))]
        batch: u16,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove a key from the keyring. Refused while any stored card number is sealed under it,
    /// and, without --force, while tokens sealed under it may be live (--token-ttl after it
    /// stopped being active).
    Retire {
        key_id: String,
        /// Retire even though tokens sealed under the key may still be live (they stop
        /// working).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::List(store) => list(&store).await,
        KeysCommand::Rotate { staged, store } => rotate(&store, staged),
        KeysCommand::Activate { key_id, store } => activate(&store, &key_id),
        KeysCommand::Reencrypt { batch, store } => reencrypt(&store, usize::from(batch)).await,
        KeysCommand::Retire {
            key_id,
            force,
            store,
        } => retire(&store, &key_id, force).await,
    }
}

fn config(store: &StoreArgs) -> anyhow::Result<aqsha_server::Config> {
    let mut config = store.config(crate::unused_addr());
    // Key commands never install the sandbox as a side effect.
    config.seed_sandbox = false;
    aqsha_server::config::validate(&config)?;
    Ok(config)
}

async fn open_store(config: &aqsha_server::Config) -> anyhow::Result<Arc<dyn Store>> {
    aqsha_store::open(&config.database_url()?)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The keyring file, for commands that change it.
fn keyring_file(config: &aqsha_server::Config) -> anyhow::Result<(Keyring, std::path::PathBuf)> {
    let loaded = keyfile::load(config, false)?;
    match loaded.source {
        KeySource::Keyring(path) => Ok((loaded.ring, path)),
        _ => bail!(
            "there is no keyring file ({}) yet: the vault has one key; `aqsha keys rotate` \
             creates the keyring",
            keyfile::keyring_path(config).display()
        ),
    }
}

fn state_text(state: KeyState) -> String {
    match state {
        KeyState::Active => "active".into(),
        KeyState::Staged => "staged".into(),
        KeyState::Replaced(at) => format!(
            "replaced {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    }
}

/// Records per key id: (saved cards, network cards).
fn usage_by_key(usage: &[KeyUsage]) -> BTreeMap<&str, (u64, u64)> {
    let mut out: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for u in usage {
        let e = out.entry(u.key_id.as_str()).or_default();
        match u.table {
            SealedTable::VaultCards => e.0 += u.records,
            SealedTable::NetworkCards => e.1 += u.records,
        }
    }
    out
}

async fn list(args: &StoreArgs) -> anyhow::Result<()> {
    let config = config(args)?;
    let loaded = keyfile::load(&config, false)?;
    let usage = open_store(&config).await?.key_usage().await?;
    let counts = usage_by_key(&usage);
    match &loaded.source {
        KeySource::Keyring(p) => println!("# keyring {}", p.display()),
        KeySource::MasterKeyFlag => println!("# one master key (--master-key)"),
        KeySource::GivenKeyFile(p) => {
            println!("# one master key (--master-key-file {})", p.display())
        }
        KeySource::MasterKeyFile(p) => println!("# one master key ({})", p.display()),
    }
    println!(
        "{:<8}  {:<30}  {:>11}  {:>13}",
        "KEY", "STATE", "VAULT_CARDS", "NETWORK_CARDS"
    );
    for k in loaded.ring.keys() {
        let (v, n) = counts.get(k.id.as_str()).copied().unwrap_or_default();
        println!("{:<8}  {:<30}  {v:>11}  {n:>13}", k.id, state_text(k.state));
    }
    let held = |id: &str| loaded.ring.keys().iter().any(|k| k.id == id);
    for (id, (v, n)) in counts.iter().filter(|(id, _)| !held(id)) {
        println!(
            "{id:<8}  {:<30}  {v:>11}  {n:>13}",
            "MISSING: not in the keys"
        );
    }
    Ok(())
}

fn rotate(args: &StoreArgs, staged: bool) -> anyhow::Result<()> {
    let config = config(args)?;
    if matches!(
        config.database_url()?,
        aqsha_store::DatabaseUrl::Postgres(_)
    ) && config.keyring.is_none()
    {
        bail!(
            "with PostgreSQL, name the keyring file that every instance shares with --keyring / \
             AQSHA_KEYRING"
        );
    }
    let loaded = keyfile::load(&config, false)?;
    let mut ring = loaded.ring;
    let now = chrono::Utc::now();
    // A new key whose id is taken (one chance in 2^32 per key) is simply drawn again.
    let id = loop {
        let secret = aqsha_core::vault::Vault::generate_master_key();
        match ring.add(secret, !staged, now) {
            Ok(id) => break id,
            Err(aqsha_core::keyring::KeyringError::Duplicate(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let path = keyfile::keyring_path(&config);
    keyfile::save(&path, &ring)?;
    match &loaded.source {
        KeySource::MasterKeyFile(file) => {
            keyfile::remove_master_key_file(file)?;
            eprintln!(
                "moved the master key of {} into the keyring {}",
                file.display(),
                path.display()
            );
        }
        KeySource::MasterKeyFlag | KeySource::GivenKeyFile(_) => eprintln!(
            "the keyring {} now holds the --master-key key too; configure --keyring / \
             AQSHA_KEYRING instead of AQSHA_MASTER_KEY or --master-key-file",
            path.display()
        ),
        KeySource::Keyring(_) => {}
    }
    if staged {
        eprintln!(
            "added key {id}, staged: give {} to every instance and restart them, then run \
             `aqsha keys activate {id}`",
            path.display()
        );
    } else {
        eprintln!(
            "key {id} is active: restart every instance with {}, then run `aqsha keys reencrypt`",
            path.display()
        );
    }
    println!("{id}");
    Ok(())
}

fn activate(args: &StoreArgs, id: &str) -> anyhow::Result<()> {
    let config = config(args)?;
    let (mut ring, path) = keyring_file(&config)?;
    ring.activate(id, chrono::Utc::now())?;
    keyfile::save(&path, &ring)?;
    eprintln!(
        "key {id} is active: restart every instance with {}, then run `aqsha keys reencrypt`",
        path.display()
    );
    println!("{id}");
    Ok(())
}

async fn reencrypt(args: &StoreArgs, batch: usize) -> anyhow::Result<()> {
    let config = config(args)?;
    let vault = keyfile::load(&config, false)?.ring.vault();
    let active = vault.key_id().to_string();
    let store = open_store(&config).await?;
    // Records that cannot be re-sealed are left as they are and reported at the end, so that
    // one of them does not hold up the rest.
    let mut unreadable: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0u64;
    for table in SealedTable::ALL {
        let (mut after, mut done) = (String::new(), 0u64);
        loop {
            let rows = store
                .sealed_not_under(table, &active, &after, batch)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.id.clone();
            let mut changes = Vec::with_capacity(rows.len());
            for row in rows {
                match vault.open(&row.sealed) {
                    Ok(pan) => {
                        let new = vault.seal(&pan);
                        changes.push((row, new));
                    }
                    Err(e) => {
                        let why = format!("{}: {e}", table.name());
                        *unreadable.entry(why).or_default() += 1;
                    }
                }
            }
            let n = if changes.is_empty() {
                0
            } else {
                store.reseal(table, changes).await?
            };
            done += n;
            println!(
                "{}: {n} re-sealed under {active} ({done} so far)",
                table.name()
            );
        }
        total += done;
    }
    println!("re-sealed {total} card numbers under key {active}");
    if !unreadable.is_empty() {
        let list: Vec<String> = unreadable
            .iter()
            .map(|(why, n)| format!("{n} × {why}"))
            .collect();
        bail!("left as they were: {}", list.join("; "));
    }
    let left: u64 = store
        .key_usage()
        .await?
        .iter()
        .filter(|u| u.key_id != active)
        .map(|u| u.records)
        .sum();
    if left > 0 {
        bail!(
            "{left} card numbers are still under other keys (written while this ran, by an \
             instance that does not seal under {active} yet?): restart the instances, then run \
             this again"
        );
    }
    Ok(())
}

async fn retire(args: &StoreArgs, id: &str, force: bool) -> anyhow::Result<()> {
    let config = config(args)?;
    let (mut ring, path) = keyring_file(&config)?;
    let ttl = chrono::Duration::seconds(config.token_ttl_secs);
    if let Some(until) = ring.tokens_live_until(id, ttl)? {
        if until > chrono::Utc::now() && !force {
            bail!(
                "tokens sealed under {id} may be live until {} (when it stopped being active, \
                 plus the token TTL of {} s): retire it after that, or with --force (those \
                 tokens stop working)",
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                config.token_ttl_secs
            );
        }
    }
    let usage = open_store(&config).await?.key_usage().await?;
    if let Some((v, n)) = usage_by_key(&usage).get(id) {
        bail!(
            "{v} saved and {n} network card numbers are sealed under {id}: run `aqsha keys \
             reencrypt` first"
        );
    }
    ring.remove(id)?;
    keyfile::save(&path, &ring).context("the key was not retired")?;
    eprintln!(
        "give {} to every instance and restart them; backups made before now still need the \
         old keyring to be read",
        path.display()
    );
    println!("retired {id}");
    Ok(())
}
