#![doc = include_str!("../README.md")]

mod admin;
mod batch;
mod cache;
mod conn;
pub mod files;
pub mod group;
mod postgres;
mod rows;
mod sealed;
mod sql;
mod sqlite;
mod writer;

pub use group::{DEFAULT_WRITER_QUEUE, MAX_BATCH};
pub use postgres::PostgresStore;
pub use sqlite::{open as open_sqlite, open_with as open_sqlite_with, SqliteStore};

use aqsha_core::store::{Store, StoreError};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the data lives, parsed from `--database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
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
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        Err(format!(
            "unsupported database URL {:?}: expected sqlite://PATH or postgres://USER@HOST:PORT/DB",
            url.split(':').next().unwrap_or("")
        ))
    }
}

/// How a store is run, beyond where its data lives.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How many writes may wait for the group-commit writer; past it a write fails at once
    /// with [`StoreError::Busy`].
    pub writer_queue: usize,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            writer_queue: DEFAULT_WRITER_QUEUE,
        }
    }
}

/// Opens the store (creating and migrating the database as needed). Connecting blocks, so it
/// runs on a blocking thread.
pub async fn open(url: &DatabaseUrl) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, &StoreOptions::default()).await
}

/// [`open`] with options.
pub async fn open_with(
    url: &DatabaseUrl,
    options: &StoreOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    let (url, options) = (url.clone(), options.clone());
    tokio::task::spawn_blocking(move || -> Result<Arc<dyn Store>, StoreError> {
        match url {
            DatabaseUrl::Sqlite(path) => Ok(Arc::new(sqlite::open_with(&path, &options)?)),
            DatabaseUrl::Postgres(url) => Ok(Arc::new(postgres::open(&url, &options)?)),
        }
    })
    .await
    .map_err(|e| StoreError::Db(format!("opening the store failed: {e}")))?
}

/// Every file in `dir` (under this crate) is in `list`, in order, with its own text: a file
/// left out of a backend's list would silently never run.
#[cfg(test)]
pub(crate) fn assert_migrations_listed(dir: &str, list: &[(i64, &str)]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert_eq!(files.len(), list.len(), "{files:?}");
    for ((version, sql), file) in list.iter().zip(&files) {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(name.starts_with(&format!("{version:04}_")), "{name}");
        assert_eq!(
            std::fs::read_to_string(file).ok().as_deref(),
            Some(*sql),
            "{name}"
        );
    }
}
