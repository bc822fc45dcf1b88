//! Where the vault's keys come from, and writing the keyring file.
//!
//! In order, the first that exists wins:
//! 1. the keyring file: `--keyring` / `AQSHA_KEYRING`, by default `<data-dir>/keyring`, written
//!    by `aqsha keys rotate` (its format: `aqsha_core::keyring`);
//! 2. `--master-key-file` / `AQSHA_MASTER_KEY_FILE`, or `--master-key` / `AQSHA_MASTER_KEY`:
//!    one master key, as before rotation existed;
//! 3. `<data-dir>/master.key`: the same, kept in the data directory;
//! 4. on a first start, a new `<data-dir>/master.key`, in a data directory created 0700.
//!
//! Every file read here holds keys: one that group or others can read is refused, with the
//! file named and the `chmod 600` fix.
//!
//! So a deployment that never rotates needs nothing new, and its first rotation turns its one
//! master key into the first key of a keyring file (which from then on is the configuration).

use crate::Config;
use anyhow::{bail, Context};
use aqsha_core::keyring::Keyring;
use aqsha_core::vault::Vault;
use std::path::{Path, PathBuf};

/// Where the keys in use were read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Keyring(PathBuf),
    /// `--master-key` / `AQSHA_MASTER_KEY`.
    MasterKeyFlag,
    /// `--master-key-file` / `AQSHA_MASTER_KEY_FILE`: the operator's file, never moved.
    GivenKeyFile(PathBuf),
    /// `<data-dir>/master.key`, read or generated.
    MasterKeyFile(PathBuf),
}

pub struct LoadedKeys {
    pub ring: Keyring,
    pub source: KeySource,
}

/// The keyring file's path, whether or not it exists yet.
pub fn keyring_path(config: &Config) -> PathBuf {
    config
        .keyring
        .clone()
        .unwrap_or_else(|| config.data_dir.join("keyring"))
}

fn master_key_path(config: &Config) -> PathBuf {
    config.data_dir.join("master.key")
}

/// The keys in use. `generate`: on a first start, create `<data-dir>/master.key` (the server);
/// key commands pass `false` and fail instead.
pub fn load(config: &Config, generate: bool) -> anyhow::Result<LoadedKeys> {
    let path = keyring_path(config);
    if path.exists() {
        let text = read_private(&path)?;
        let ring = Keyring::parse(&text).with_context(|| format!("{}", path.display()))?;
        if let Some(hex) = &config.master_key {
            let given = Vault::parse_master_key(hex).context("--master-key / AQSHA_MASTER_KEY")?;
            if !ring.holds_secret(&given) {
                tracing::warn!(
                    keyring = %path.display(),
                    "--master-key / AQSHA_MASTER_KEY is not in the keyring and is ignored: the \
                     keyring file is the vault's configuration"
                );
            }
        }
        return Ok(LoadedKeys {
            ring,
            source: KeySource::Keyring(path),
        });
    }
    if let Some(hex) = &config.master_key {
        let key = Vault::parse_master_key(hex).context("--master-key / AQSHA_MASTER_KEY")?;
        return Ok(LoadedKeys {
            ring: Keyring::from_master(key),
            source: KeySource::MasterKeyFlag,
        });
    }
    if let Some(file) = &config.master_key_file {
        let key = Vault::parse_master_key(read_private(file)?.trim())
            .with_context(|| format!("key file {}", file.display()))?;
        return Ok(LoadedKeys {
            ring: Keyring::from_master(key),
            source: KeySource::GivenKeyFile(file.clone()),
        });
    }
    if config.keyring.is_some() {
        bail!(
            "the keyring {} does not exist (--keyring / AQSHA_KEYRING)",
            path.display()
        );
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
    let file = master_key_path(config);
    if file.exists() {
        let text = read_private(&file)?;
        let key = Vault::parse_master_key(&text).with_context(|| format!("{}", file.display()))?;
        return Ok(LoadedKeys {
            ring: Keyring::from_master(key),
            source: KeySource::MasterKeyFile(file),
        });
    }
    if !generate {
        bail!(
            "no vault keys: neither {} nor {} exists, and no --master-key is given",
            path.display(),
            file.display()
        );
    }
    let key = Vault::generate_master_key();
    write_private(&file, &hex::encode(key), true)?;
    tracing::warn!(
        path = %file.display(),
        "generated a new vault master key; card data in this database can only be read with it. \
         For production, give the key with --master-key-file or AQSHA_MASTER_KEY from a secret store"
    );
    Ok(LoadedKeys {
        ring: Keyring::from_master(key),
        source: KeySource::MasterKeyFile(file),
    })
}

/// Reads a file that holds keys, refusing one that group or others may read: the key opens
/// every card in the vault, and a readable copy is as good as a leaked one.
fn read_private(path: &Path) -> anyhow::Result<String> {
    if let Some(mode) = aqsha_store::files::shared_mode(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?
    {
        bail!(
            "key file {p} is readable by group or others (mode {mode:o}); the vault key must be \
             private to its owner: run `chmod 600 {p}`",
            p = path.display()
        );
    }
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))
}

/// Replaces the keyring file atomically: a crash leaves the old file or the new one, never a
/// torn one (written beside it, synced, renamed over it, and the directory synced).
pub fn save(path: &Path, ring: &Keyring) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    write_private(&tmp, &ring.render(), false)?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync directory {}", dir.display()))?;
    Ok(())
}

/// Removes `<data-dir>/master.key` once the keyring holds its key, so that the key has one
/// home and retiring it from the keyring really removes it.
pub fn remove_master_key_file(file: &Path) -> anyhow::Result<()> {
    std::fs::remove_file(file).with_context(|| format!("cannot remove {}", file.display()))
}

/// Writes a file only its owner can read. `new`: fail if it exists (never overwrite a key).
fn write_private(path: &Path, text: &str, new: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if new {
        opts.create_new(true);
    } else {
        opts.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    // A leftover file keeps its old mode when opened again: make sure.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}
