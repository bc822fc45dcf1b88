//! The SQLite backend: an embedded file, no setup. WAL mode with `synchronous=FULL`, so a
//! commit that returned survives power loss; one writer (SQLite allows no more), readers beside
//! it.

use crate::conn::{BatchError, Connector};
use crate::group::GroupStore;
use crate::rows::Cols;
use crate::sql::{Balances, Driver, Param, Rows, SqlConn};
use aqsha_core::store::{StoreError, StoreResult};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const READERS: usize = 4;
/// References taken from the counter row at a time.
const REFERENCE_BLOCK: i64 = 64;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_callbacks.sql")),
    (
        3,
        include_str!("../migrations/sqlite/0003_sealed_tokens.sql"),
    ),
    (4, include_str!("../migrations/sqlite/0004_tail_index.sql")),
    (
        5,
        include_str!("../migrations/sqlite/0005_batch_lookup_indexes.sql"),
    ),
    (
        6,
        include_str!("../migrations/sqlite/0006_balance_shards.sql"),
    ),
    (
        7,
        include_str!("../migrations/sqlite/0007_one_invoice_index.sql"),
    ),
    (8, include_str!("../migrations/sqlite/0008_card_owners.sql")),
    (
        9,
        include_str!("../migrations/sqlite/0009_card_guesses.sql"),
    ),
    (
        10,
        include_str!("../migrations/sqlite/0010_merchant_admin.sql"),
    ),
    (
        11,
        include_str!("../migrations/sqlite/0011_network_card_scenarios.sql"),
    ),
    (
        12,
        include_str!("../migrations/sqlite/0012_pending_operations.sql"),
    ),
    (
        13,
        include_str!("../migrations/sqlite/0013_pending_resolutions.sql"),
    ),
    (
        14,
        include_str!("../migrations/sqlite/0014_terminal_numbers.sql"),
    ),
    (
        15,
        include_str!("../migrations/sqlite/0015_operation_status_fields.sql"),
    ),
    (
        16,
        include_str!("../migrations/sqlite/0016_phone_directory.sql"),
    ),
    (
        17,
        include_str!("../migrations/sqlite/0017_settlement_accounts.sql"),
    ),
    (
        18,
        include_str!("../migrations/sqlite/0018_transfer_limits.sql"),
    ),
    (
        19,
        include_str!("../migrations/sqlite/0019_operations_search.sql"),
    ),
    (
        20,
        include_str!("../migrations/sqlite/0020_cabinet_login.sql"),
    ),
    (21, include_str!("../migrations/sqlite/0021_secure3d.sql")),
    (
        22,
        include_str!("../migrations/sqlite/0022_cabinet_sessions.sql"),
    ),
    (
        23,
        include_str!("../migrations/sqlite/0023_int_reference_index.sql"),
    ),
    (
        24,
        include_str!("../migrations/sqlite/0024_callback_attempt_details.sql"),
    ),
    (
        25,
        include_str!("../migrations/sqlite/0025_merchant_time_zone.sql"),
    ),
    (
        26,
        include_str!("../migrations/sqlite/0026_lease_owners.sql"),
    ),
];

pub type SqliteStore = GroupStore<SqliteConnector>;

pub(crate) fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

pub struct SqliteDriver {
    conn: Connection,
    /// `$1`-style statements rewritten to SQLite's `?1`, once each.
    rewritten: HashMap<String, String>,
}

/// The statement in SQLite's placeholder style, rewritten once and then reused: `$1` becomes
/// `?1`, and `= ANY($1)` (a [`Param::List`], bound as a JSON array) becomes
/// `IN (SELECT value FROM json_each(?1))`.
fn rewritten<'a>(cache: &'a mut HashMap<String, String>, sql: &str) -> &'a str {
    if !cache.contains_key(sql) {
        let mut out = sql.replace('$', "?");
        while let Some(at) = out.find("= ANY(") {
            let Some(len) = out[at..].find(')') else {
                break;
            };
            let param = out[at + "= ANY(".len()..at + len].to_string();
            out.replace_range(
                at..=at + len,
                &format!("IN (SELECT value FROM json_each({param}))"),
            );
        }
        cache.insert(sql.to_string(), out);
    }
    cache.get(sql).map(String::as_str).unwrap_or("")
}

fn bind<'a>(p: &'a Param<'a>) -> ToSqlOutput<'a> {
    match *p {
        Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        Param::OptText(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        Param::OptText(None) | Param::OptInt(None) => ToSqlOutput::Owned(Value::Null),
        Param::Int(i) | Param::OptInt(Some(i)) => ToSqlOutput::Owned(Value::Integer(i)),
        Param::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(b))),
        Param::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        Param::List(l) => ToSqlOutput::Owned(Value::Text(
            serde_json::to_string(l).unwrap_or_else(|_| "[]".into()),
        )),
    }
}

struct SqliteRow<'a, 'b>(&'a rusqlite::Row<'b>);

impl Cols for SqliteRow<'_, '_> {
    fn text(&self, i: usize) -> StoreResult<String> {
        self.0.get(i).map_err(db_err)
    }
    fn opt_text(&self, i: usize) -> StoreResult<Option<String>> {
        self.0.get(i).map_err(db_err)
    }
    fn int(&self, i: usize) -> StoreResult<i64> {
        self.0.get(i).map_err(db_err)
    }
    fn opt_int(&self, i: usize) -> StoreResult<Option<i64>> {
        self.0.get(i).map_err(db_err)
    }
    fn boolean(&self, i: usize) -> StoreResult<bool> {
        self.0.get(i).map_err(db_err)
    }
    fn blob(&self, i: usize) -> StoreResult<Vec<u8>> {
        self.0.get(i).map_err(db_err)
    }
}

impl Driver for SqliteDriver {
    // One writer: transactions never interleave, so no row locks are needed.
    const FOR_UPDATE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
    const CLAIM_DUE: &'static str = "merchants m JOIN callback_events c ON c.id IN (
            SELECT x.id FROM callback_events x
            WHERE x.merchant_id = m.id AND x.status = 'pending'
            AND x.next_attempt_at <= $1 AND x.lease_until <= $1
            ORDER BY x.next_attempt_at LIMIT $5)";
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    const CHAIN_BEGIN: bool = false;
    const LOCK_KEYS_FIRST: Option<&'static str> = None;

    fn exec(&mut self, sql: &str, params: &[Param]) -> StoreResult<u64> {
        let sql = rewritten(&mut self.rewritten, sql);
        let values: Vec<ToSqlOutput> = params.iter().map(bind).collect();
        let mut st = self.conn.prepare_cached(sql).map_err(db_err)?;
        let n = st
            .execute(rusqlite::params_from_iter(values.iter()))
            .map_err(db_err)?;
        Ok(n as u64)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Param],
        each: &mut dyn FnMut(&dyn Cols) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let sql = rewritten(&mut self.rewritten, sql);
        let values: Vec<ToSqlOutput> = params.iter().map(bind).collect();
        let mut st = self.conn.prepare_cached(sql).map_err(db_err)?;
        let mut rows = st
            .query(rusqlite::params_from_iter(values.iter()))
            .map_err(db_err)?;
        while let Some(r) = rows.next().map_err(db_err)? {
            each(&SqliteRow(r))?;
        }
        Ok(())
    }

    fn control(&mut self, sql: &str) -> Result<(), BatchError> {
        // Prepared once like every other statement: these run several times per batch.
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| st.execute([]))
            .map(|_| ())
            .map_err(|e| BatchError {
                message: e.to_string(),
                retryable: false,
            })
    }

    fn write<'a>(&mut self, inserts: &[Rows<'a>], balances: &Balances<'a>) -> StoreResult<u64> {
        // No round trips to save: one prepared single-row statement per table, run per row.
        for t in inserts.iter().filter(|t| !t.rows.is_empty()) {
            let marks: Vec<String> = (1..=t.columns.len()).map(|i| format!("?{i}")).collect();
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({}) {}",
                t.table,
                t.columns.join(", "),
                marks.join(", "),
                t.on_conflict.unwrap_or("")
            );
            let mut st = self.conn.prepare_cached(&sql).map_err(db_err)?;
            for row in &t.rows {
                let values: Vec<ToSqlOutput> = row.iter().map(bind).collect();
                st.execute(rusqlite::params_from_iter(values.iter()))
                    .map_err(db_err)?;
            }
        }
        let mut changed = 0;
        let mut st = self
            .conn
            .prepare_cached("UPDATE accounts SET balance = balance + ?2 WHERE id = ?1")
            .map_err(db_err)?;
        for (id, delta) in &balances.cards {
            changed += st.execute(params![id, delta]).map_err(db_err)? as u64;
        }
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT INTO balance_shards (account_id, shard, balance)
                 SELECT id, ?2, ?3 FROM accounts WHERE id = ?1
                 ON CONFLICT (account_id, shard) DO UPDATE SET balance = balance + excluded.balance",
            )
            .map_err(db_err)?;
        for (id, delta) in &balances.shared {
            changed += st
                .execute(params![id, balances.shard, delta])
                .map_err(db_err)? as u64;
        }
        Ok(changed)
    }

    fn reference_block(&mut self) -> StoreResult<Vec<i64>> {
        // A counter row, in the transaction; see REFERENCES_ROLL_BACK.
        let mut last = None;
        self.query(
            "UPDATE counters SET value = value + $1 WHERE name = 'reference' RETURNING value",
            &[Param::Int(REFERENCE_BLOCK)],
            &mut |r| {
                last = Some(r.int(0)?);
                Ok(())
            },
        )?;
        let last = last.ok_or_else(|| StoreError::Invariant("no reference counter".into()))?;
        Ok((last - REFERENCE_BLOCK + 1..=last).collect())
    }

    const REFERENCES_ROLL_BACK: bool = true;

    fn lock_keys(&mut self, _keys: &[&str]) -> StoreResult<()> {
        // One writer: nothing to serialise with.
        Ok(())
    }

    fn is_broken(&self) -> bool {
        false
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Every statement Aqsha runs stays prepared (the default cache of 16 is smaller than
    // the set a transfer uses, and re-preparing costs more than running).
    conn.set_prepared_statement_cache_capacity(256);
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // A batch that re-runs after a failure puts each command in a savepoint, whose undo pages
    // live in a sub-journal: keep that (and the batch reads' temporary lists) in memory rather
    // than in a temporary file.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER NOT NULL CONSTRAINT schema_migrations_pkey PRIMARY KEY,
            applied_at TEXT NOT NULL)",
    )
    .map_err(db_err)?;
    for (version, sql) in MIGRATIONS {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let done: Option<i64> = tx
            .query_row(
                "SELECT version FROM schema_migrations WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        if done.is_none() {
            tx.execute_batch(sql)
                .map_err(|e| StoreError::Db(format!("migration {version}: {e}")))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, chrono::Utc::now().to_rfc3339()],
            )
            .map_err(db_err)?;
            tracing::info!(version, "applied migration");
        }
        tx.commit().map_err(db_err)?;
    }
    Ok(())
}

pub struct SqliteConnector {
    path: PathBuf,
}

impl Connector for SqliteConnector {
    type C = SqlConn<SqliteDriver>;
    const BACKEND: &'static str = "sqlite";
    fn writer(&self) -> StoreResult<Self::C> {
        let mut conn = Connection::open(&self.path)
            .map_err(|e| StoreError::Db(format!("cannot open {}: {e}", self.path.display())))?;
        configure(&conn).map_err(db_err)?;
        migrate(&mut conn)?;
        // The writer checkpoints after a commit once the WAL holds ~16 MB. It must be the
        // writer: a checkpoint on another thread never catches up with a busy writer, so the
        // WAL could never start over and would grow without bound.
        conn.pragma_update(None, "wal_autocheckpoint", 4000)
            .map_err(db_err)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .map_err(db_err)?;
        Ok(SqlConn::new(SqliteDriver {
            conn,
            rewritten: HashMap::new(),
        }))
    }

    fn reader(&self) -> StoreResult<Self::C> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db_err)?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(SqlConn::new(SqliteDriver {
            conn,
            rewritten: HashMap::new(),
        }))
    }
}

/// Opens (creating if needed) the database file, applies migrations and starts the writer.
///
/// The file is created 0600 in a 0700 directory before SQLite opens it: SQLite gives the
/// `-wal` and `-shm` files the database file's own mode, so all three stay owner-only.
pub fn open(path: &Path) -> StoreResult<SqliteStore> {
    open_with(path, &crate::StoreOptions::default())
}

/// [`open`] with options (the writer's queue size).
pub fn open_with(path: &Path, options: &crate::StoreOptions) -> StoreResult<SqliteStore> {
    let io_err =
        |p: &Path, e: std::io::Error| StoreError::Db(format!("cannot create {}: {e}", p.display()));
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            crate::files::create_private_dir(dir).map_err(|e| io_err(dir, e))?;
        }
    }
    crate::files::create_private_file(path).map_err(|e| io_err(path, e))?;
    if let Ok(Some(mode)) = crate::files::shared_mode(path) {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "the database file is readable by group or others; run chmod 600 on it (its -wal and -shm files take its mode)"
        );
    }
    GroupStore::start(
        SqliteConnector {
            path: path.to_path_buf(),
        },
        READERS,
        options.writer_queue,
    )
}

#[cfg(test)]
mod migration_list {
    #[test]
    fn every_migration_file_is_listed_in_order() {
        crate::assert_migrations_listed("migrations/sqlite", super::MIGRATIONS);
    }
}
