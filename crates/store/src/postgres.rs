//! The PostgreSQL backend, for several `aqsha serve` instances sharing one database.
//!
//! Each instance group-commits through its own writer connection; instances meet in the
//! database: a batch locks its card accounts (`FOR UPDATE SKIP LOCKED`, putting off a
//! transfer whose card another instance holds), an advisory lock serialises transfers of one
//! invoice, callback claims use `FOR UPDATE SKIP LOCKED`, shared accounts' balances change in
//! per-connection shard rows (no lock to wait for), and a deadlock between instances re-runs
//! the losing batch, as does one token spent by two instances at once (the second then sees it
//! spent). Commits are durable with PostgreSQL's defaults (`synchronous_commit = on`).

mod driver;

use crate::conn::Connector;
use crate::group::GroupStore;
use crate::sql::SqlConn;
use aqsha_core::store::{StoreError, StoreResult};
use driver::pg_err;
pub use driver::PostgresDriver;
use postgres::error::SqlState;
use postgres::{Client, NoTls};

const READERS: usize = 4;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_callbacks.sql")),
    (
        3,
        include_str!("../migrations/postgres/0003_reference_sequence.sql"),
    ),
    (
        4,
        include_str!("../migrations/postgres/0004_sealed_tokens.sql"),
    ),
    (
        5,
        include_str!("../migrations/postgres/0005_tail_index.sql"),
    ),
    (
        6,
        include_str!("../migrations/postgres/0006_batch_lookup_indexes.sql"),
    ),
    (
        7,
        include_str!("../migrations/postgres/0007_balance_shards.sql"),
    ),
    (
        8,
        include_str!("../migrations/postgres/0008_postings_without_foreign_key.sql"),
    ),
    (
        9,
        include_str!("../migrations/postgres/0009_one_invoice_index.sql"),
    ),
    (
        10,
        include_str!("../migrations/postgres/0010_card_owners.sql"),
    ),
    (
        11,
        include_str!("../migrations/postgres/0011_card_guesses.sql"),
    ),
    (
        12,
        include_str!("../migrations/postgres/0012_merchant_admin.sql"),
    ),
    (
        13,
        include_str!("../migrations/postgres/0013_network_card_scenarios.sql"),
    ),
    (
        14,
        include_str!("../migrations/postgres/0014_pending_operations.sql"),
    ),
    (
        15,
        include_str!("../migrations/postgres/0015_pending_resolutions.sql"),
    ),
    (
        16,
        include_str!("../migrations/postgres/0016_terminal_numbers.sql"),
    ),
    (
        17,
        include_str!("../migrations/postgres/0017_operation_status_fields.sql"),
    ),
    (
        18,
        include_str!("../migrations/postgres/0018_phone_directory.sql"),
    ),
    (
        19,
        include_str!("../migrations/postgres/0019_settlement_accounts.sql"),
    ),
    (
        20,
        include_str!("../migrations/postgres/0020_transfer_limits.sql"),
    ),
    (
        21,
        include_str!("../migrations/postgres/0021_operations_search.sql"),
    ),
    (
        22,
        include_str!("../migrations/postgres/0022_cabinet_login.sql"),
    ),
    (23, include_str!("../migrations/postgres/0023_secure3d.sql")),
    (
        24,
        include_str!("../migrations/postgres/0024_cabinet_sessions.sql"),
    ),
    (
        25,
        include_str!("../migrations/postgres/0025_int_reference_index.sql"),
    ),
    (
        26,
        include_str!("../migrations/postgres/0026_callback_attempt_details.sql"),
    ),
    (
        27,
        include_str!("../migrations/postgres/0027_merchant_time_zone.sql"),
    ),
    (
        28,
        include_str!("../migrations/postgres/0028_lease_owners.sql"),
    ),
];

/// An arbitrary constant: the advisory lock instances take while migrating.
const MIGRATION_LOCK: i64 = 0x0061_7173_6861;

pub type PostgresStore = GroupStore<PostgresConnector>;

fn migrate(client: &mut Client) -> StoreResult<()> {
    // Instances starting together migrate one at a time.
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg_err)?;
    let result = (|| {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT NOT NULL CONSTRAINT schema_migrations_pkey PRIMARY KEY,
                    applied_at TEXT NOT NULL)",
            )
            .map_err(pg_err)?;
        for (version, sql) in MIGRATIONS {
            let mut tx = client.transaction().map_err(pg_err)?;
            let done = tx
                .query_opt(
                    "SELECT version FROM schema_migrations WHERE version = $1",
                    &[version],
                )
                .map_err(pg_err)?;
            if done.is_none() {
                tx.batch_execute(sql)
                    .map_err(|e| StoreError::Db(format!("migration {version}: {}", pg_err(e))))?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    &[version, &chrono::Utc::now().to_rfc3339()],
                )
                .map_err(pg_err)?;
                tracing::info!(version, "applied migration");
            }
            tx.commit().map_err(pg_err)?;
        }
        Ok(())
    })();
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    result
}

pub struct PostgresConnector {
    url: String,
}

impl PostgresConnector {
    fn connect(&self) -> StoreResult<SqlConn<PostgresDriver>> {
        // A server that is still starting up (or restarting) answers "cannot connect now" for
        // a moment: wait for it rather than fail.
        let mut tries = 0;
        let client = loop {
            match Client::connect(&self.url, NoTls) {
                Ok(c) => break c,
                Err(e) if e.code() == Some(&SqlState::CANNOT_CONNECT_NOW) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(StoreError::Db(format!(
                        "cannot connect to PostgreSQL: {}",
                        pg_err(e)
                    )))
                }
            }
        };
        Ok(SqlConn::new(PostgresDriver::new(client)))
    }
}

impl Connector for PostgresConnector {
    type C = SqlConn<PostgresDriver>;
    const BACKEND: &'static str = "postgres";

    fn writer(&self) -> StoreResult<Self::C> {
        let mut c = self.connect()?;
        let client = c.driver.client()?;
        migrate(client)?;
        // Every statement a writer runs finds rows by key. On a table that grew from empty (a
        // new database, before autovacuum's first ANALYZE), the planner's estimates call the
        // table tiny and a sequential scan cheapest, and a prepared statement keeps that plan:
        // measured, batches then read every spent token and every account each time. With
        // sequential scans priced out, writers always use the indexes.
        client
            .batch_execute("SET enable_seqscan = off")
            .map_err(pg_err)?;
        Ok(c)
    }

    fn reader(&self) -> StoreResult<Self::C> {
        self.connect()
    }
}

/// Connects, applies migrations and starts the writer. The `postgres` driver runs its own
/// small runtime, so this must not be called from inside an async task: use
/// `spawn_blocking` (as [`crate::open`] callers do).
pub fn open(url: &str, options: &crate::StoreOptions) -> StoreResult<PostgresStore> {
    GroupStore::start(
        PostgresConnector {
            url: url.to_string(),
        },
        READERS,
        options.writer_queue,
    )
}

#[cfg(test)]
mod migration_list {
    #[test]
    fn every_migration_file_is_listed_in_order() {
        crate::assert_migrations_listed("migrations/postgres", super::MIGRATIONS);
    }
}
