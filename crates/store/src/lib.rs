//! Aqsha's stores: where operations, the ledger, the vault and tokens live.
//!
//! [`open`] picks the implementation from a database URL. Today that is SQLite
//! (`sqlite://PATH`); every store implements [`aqsha_core::store::Store`] and runs the one
//! transfer algorithm of `aqsha_core::transfer` inside its transactions.

mod sqlite;
mod sqlite_callbacks;
mod sqlite_tx;

pub use sqlite::{SqliteStore, MAX_BATCH};

use aqsha_core::store::{Store, StoreError};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the data lives, parsed from `--database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "sqlite:// needs a file path, e.g. sqlite://./aqsha-data/aqsha.db".into(),
                );
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Err("PostgreSQL is not supported by this build yet; use sqlite://PATH".into());
        }
        Err(format!(
            "unsupported database URL {:?}: expected sqlite://PATH",
            url.split(':').next().unwrap_or("")
        ))
    }
}

pub fn open(url: &DatabaseUrl) -> Result<Arc<dyn Store>, StoreError> {
    match url {
        DatabaseUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path)?)),
    }
}
