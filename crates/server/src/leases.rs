//! Who holds this process's leases on callback events and pending resolutions, and taking
//! back at start what an earlier life of this instance held.
//!
//! A lease carries two ids (migration "lease_owners"): the **instance**, the same across
//! restarts of one deployment, and the **boot**, random per process start. At start, before
//! the dispatcher and the resolver run, the instance releases every lease its id holds under
//! another boot ([`reclaim`]): after a crash those callbacks are re-sent and those resolutions
//! carried out at once, instead of when their lease runs out (twice the callback timeout plus
//! 5 s). Another instance's leases are untouched: it may be delivering them right now.
//!
//! The instance id is `--instance-id` / `AQSHA_INSTANCE_ID` when given; otherwise it is kept
//! in `<data-dir>/instance-id` (created on first start), which this process holds an exclusive
//! lock on while it runs. One data directory is one instance: on SQLite that is also one
//! database, and on PostgreSQL instances with their own data directories never share an id. A
//! second process started on a data directory already locked gets a random id instead (and a
//! warning): its leases then wait for their expiry after a crash, as before this existed, but
//! it never releases the first one's. A host name and listen address were the other candidate;
//! the file was chosen because it survives a changed port or host name (containers, port 0)
//! and its lock makes two live processes with one default id impossible.
//!
//! Two processes given the same `--instance-id` is an operator error: each would release the
//! other's leases at its start (events are then sent twice, never lost; a resolution is still
//! carried out once, its claim id decides). [`watch`] looks for it: after the release at
//! start, only another live process takes leases under our instance id with another boot id.

use aqsha_core::store::{LeaseOwner, Store};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The file in the data directory that keeps the instance id.
pub const INSTANCE_FILE: &str = "instance-id";
/// Default of `--lease-check-interval`: how often [`watch`] looks for another process with our
/// instance id.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// Longest `--instance-id`.
const MAX_ID_CHARS: usize = 128;

/// This process's lease owner, with the lock on the instance file when the id came from it
/// (held until this value is dropped: the lock is the file's open description).
pub struct Identity {
    pub owner: LeaseOwner,
    _lock: Option<std::fs::File>,
}

/// Refuses an instance id that could not be read back from logs and files unchanged.
pub fn validate_id(id: &str) -> Result<(), String> {
    let printable = id.chars().all(|c| c.is_ascii_graphic());
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS || !printable {
        return Err(format!(
            "--instance-id / AQSHA_INSTANCE_ID must be 1 to {MAX_ID_CHARS} printable ASCII \
             characters without spaces"
        ));
    }
    Ok(())
}

/// The instance id (given, or from the data directory) and a new boot id.
pub fn identity(given: Option<&str>, data_dir: &Path) -> Identity {
    let boot = uuid::Uuid::new_v4().simple().to_string();
    let (instance, lock) = match given {
        Some(id) => (id.to_string(), None),
        None => match from_data_dir(data_dir) {
            Ok(Some((id, file))) => (id, Some(file)),
            Ok(None) => {
                tracing::warn!(
                    data_dir = %data_dir.display(),
                    "another running aqsha process holds this data directory's instance id; \
                     this one uses a random one, so after a crash its callbacks wait for their \
                     lease to run out: give each instance its own --data-dir or --instance-id"
                );
                (format!("boot-{boot}"), None)
            }
            Err(e) => {
                tracing::warn!(
                    error = %format!("{e:#}"),
                    "cannot keep an instance id in the data directory; this process uses a \
                     random one, so after a crash its callbacks wait for their lease to run \
                     out: set --instance-id"
                );
                (format!("boot-{boot}"), None)
            }
        },
    };
    Identity {
        owner: LeaseOwner { instance, boot },
        _lock: lock,
    }
}

/// Reads (or creates) `<data-dir>/instance-id` under an exclusive lock; `None` when another
/// process holds the lock.
fn from_data_dir(dir: &Path) -> anyhow::Result<Option<(String, std::fs::File)>> {
    use anyhow::Context;
    aqsha_store::files::create_private_dir(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let path = dir.join(INSTANCE_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let id = text.trim();
    if validate_id(id).is_ok() {
        return Ok(Some((id.to_string(), file)));
    }
    // A new file (or one a crash left empty): a fresh id, on disk before any lease uses it.
    let id = uuid::Uuid::new_v4().simple().to_string();
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(format!("{id}\n").as_bytes())?;
    file.sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Some((id, file)))
}

/// Releases the leases of this instance's earlier boots. Called before the dispatcher and the
/// resolver start; a failure leaves those leases to run out, as they would have anyway.
pub async fn reclaim(store: &dyn Store, owner: &LeaseOwner) {
    match store.reclaim_leases(owner).await {
        Ok(r) => tracing::info!(
            instance = %owner.instance,
            boot = %owner.boot,
            callbacks = r.callbacks,
            resolutions = r.resolutions,
            "released the leases of this instance's earlier runs; they are due now"
        ),
        Err(e) => tracing::error!(
            error = %e,
            "releasing the leases of this instance's earlier runs failed; they are retried \
             when their lease runs out"
        ),
    }
}

/// Runs until the process ends: every `every`, warns while another boot holds leases under
/// this instance id (another live process configured with the same `--instance-id`).
pub async fn watch(store: Arc<dyn Store>, owner: LeaseOwner, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        match store.foreign_boots(&owner, chrono::Utc::now()).await {
            Ok(boots) if !boots.is_empty() => tracing::warn!(
                instance = %owner.instance,
                boot = %owner.boot,
                other_boots = %boots.join(","),
                "another running process holds leases under this instance id: each releases \
                 the other's leases when it starts, so callbacks may be sent twice; give every \
                 instance its own --instance-id"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "looking for other boots of this instance failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_id_is_printable_and_short() {
        assert!(validate_id("eu-1.aqsha:8080").is_ok());
        assert!(validate_id("").is_err());
        assert!(validate_id("two words").is_err());
        assert!(validate_id("ключ").is_err());
        assert!(validate_id(&"x".repeat(129)).is_err());
    }

    #[test]
    fn the_data_directory_keeps_one_id_and_one_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = identity(None, dir.path());
        // A second process on the same directory while the first runs: a random id.
        let second = identity(None, dir.path());
        assert_ne!(first.owner.instance, second.owner.instance);
        assert!(second.owner.instance.starts_with("boot-"));
        let id = first.owner.instance.clone();
        let boot = first.owner.boot.clone();
        drop(first);
        // The next start of the instance: the same id, a new boot.
        let again = identity(None, dir.path());
        assert_eq!(again.owner.instance, id);
        assert_ne!(again.owner.boot, boot);
        // Given on the command line, it wins.
        assert_eq!(identity(Some("given"), dir.path()).owner.instance, "given");
    }
}
