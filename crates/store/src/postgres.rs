//! The PostgreSQL backend, for several `aqsha serve` instances sharing one database.
//!
//! Each instance group-commits through its own writer connection; instances meet in the
//! database: a batch locks its card accounts (`FOR UPDATE SKIP LOCKED`, putting off a
//! transfer whose card another instance holds), an advisory lock serialises transfers of one
//! invoice, callback claims use `FOR UPDATE SKIP LOCKED`, shared accounts' balances change in
//! per-connection shard rows (no lock to wait for), and a deadlock between instances re-runs
//! the losing batch, as does one token spent by two instances at once (the second then sees it
//! spent). Commits are durable with PostgreSQL's defaults (`synchronous_commit = on`).

use crate::conn::{BatchError, Connector};
use crate::group::GroupStore;
use crate::rows::Cols;
use crate::sql::{Balances, Driver, Param, Rows, SqlConn};
use aqsha_core::store::{StoreError, StoreResult};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};
use std::collections::HashMap;

const READERS: usize = 4;
const REFERENCE_BLOCK: usize = 64;

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
];

/// Prepared statements kept per connection, at most.
const MAX_STATEMENTS: usize = 2048;

/// An arbitrary constant: the advisory lock instances take while migrating.
const MIGRATION_LOCK: i64 = 0x0061_7173_6861;

pub type PostgresStore = GroupStore<PostgresConnector>;

fn pg_err(e: postgres::Error) -> StoreError {
    // Two instances spending one token race on its spent row: the loser re-runs its batch and
    // then finds the token spent (a replay or a refusal, as on one instance).
    let token_race = e
        .as_db_error()
        .is_some_and(|db| db.constraint() == Some("spent_tokens_pkey"));
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || token_race =>
        {
            StoreError::Conflict(e.to_string())
        }
        // The database's own message, without the driver's wrapping.
        _ => StoreError::Db(match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        }),
    }
}

pub struct PostgresDriver {
    /// Always `Some` until dropped.
    client: Option<Client>,
    /// Prepared once per connection: each statement then costs one round trip.
    statements: HashMap<String, Statement>,
}

impl Drop for PostgresDriver {
    fn drop(&mut self) {
        // Closing a client blocks on the driver's own runtime, which panics inside an async
        // task (where the last store handle is often dropped): close it on a thread of its own.
        if let Some(client) = self.client.take() {
            std::thread::spawn(move || drop(client));
        }
    }
}

impl PostgresDriver {
    fn client(&mut self) -> StoreResult<&mut Client> {
        self.client.as_mut().ok_or(StoreError::Closed)
    }

    fn statement(&mut self, sql: &str) -> StoreResult<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let st = self.client()?.prepare(sql).map_err(pg_err)?;
        // Bounded: the operations search puts its statements together from its conditions,
        // so their number grows with the shapes callers ask for.
        if self.statements.len() >= MAX_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

fn bind<'a>(p: &'a Param<'a>) -> Box<dyn ToSql + Sync + 'a> {
    match p {
        Param::Text(s) => Box::new(*s),
        Param::OptText(s) => Box::new(*s),
        Param::Int(i) => Box::new(*i),
        Param::OptInt(i) => Box::new(*i),
        Param::Bool(b) => Box::new(*b),
        Param::Blob(b) => Box::new(*b),
        Param::List(l) => Box::new(*l),
    }
}

/// One column of a multi-row insert, as a typed array for `unnest`, with its cast.
fn column<'a>(
    rows: &'a [Vec<Param<'a>>],
    i: usize,
) -> StoreResult<(Box<dyn ToSql + Sync + 'a>, &'static str)> {
    /// The column's values, each taken by `pick`, which answers `None` for another kind.
    fn array<'a, T: ToSql + Sync + 'a>(
        rows: &'a [Vec<Param<'a>>],
        i: usize,
        pick: fn(&Param<'a>) -> Option<T>,
    ) -> StoreResult<Box<dyn ToSql + Sync + 'a>> {
        let values = rows
            .iter()
            .map(|r| r.get(i).and_then(pick))
            .collect::<Option<Vec<T>>>()
            .ok_or_else(|| StoreError::Invariant(format!("rows differ in column {i}")))?;
        Ok(Box::new(values))
    }
    Ok(match rows.first().and_then(|r| r.get(i)) {
        Some(Param::Text(_) | Param::OptText(_)) => (
            array(rows, i, |p| match *p {
                Param::Text(s) => Some(Some(s)),
                Param::OptText(s) => Some(s),
                _ => None,
            })?,
            "text[]",
        ),
        Some(Param::Int(_) | Param::OptInt(_)) => (
            array(rows, i, |p| match *p {
                Param::Int(n) => Some(Some(n)),
                Param::OptInt(n) => Some(n),
                _ => None,
            })?,
            "int8[]",
        ),
        Some(Param::Bool(_)) => (
            array(rows, i, |p| match *p {
                Param::Bool(b) => Some(b),
                _ => None,
            })?,
            "bool[]",
        ),
        Some(Param::Blob(_)) => (
            array(rows, i, |p| match *p {
                Param::Blob(b) => Some(b),
                _ => None,
            })?,
            "bytea[]",
        ),
        Some(Param::List(_)) | None => {
            return Err(StoreError::Invariant(format!("no array for column {i}")))
        }
    })
}

struct PgRow<'a>(&'a Row);

fn col<'a, T: postgres::types::FromSql<'a>>(r: &'a Row, i: usize) -> StoreResult<T> {
    r.try_get(i).map_err(pg_err)
}

impl Cols for PgRow<'_> {
    fn text(&self, i: usize) -> StoreResult<String> {
        col(self.0, i)
    }
    fn opt_text(&self, i: usize) -> StoreResult<Option<String>> {
        col(self.0, i)
    }
    fn int(&self, i: usize) -> StoreResult<i64> {
        // `SELECT 1` and friends come back as INT4.
        col::<i64>(self.0, i).or_else(|_| col::<i32>(self.0, i).map(i64::from))
    }
    fn opt_int(&self, i: usize) -> StoreResult<Option<i64>> {
        col::<Option<i64>>(self.0, i)
            .or_else(|_| col::<Option<i32>>(self.0, i).map(|v| v.map(i64::from)))
    }
    fn boolean(&self, i: usize) -> StoreResult<bool> {
        col(self.0, i)
    }
    fn blob(&self, i: usize) -> StoreResult<Vec<u8>> {
        col(self.0, i)
    }
}

impl Driver for PostgresDriver {
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const CLAIM_DUE: &'static str = "merchants m CROSS JOIN LATERAL (
            SELECT x.id, x.next_attempt_at FROM callback_events x
            WHERE x.merchant_id = m.id AND x.status = 'pending'
            AND x.next_attempt_at <= $1 AND x.lease_until <= $1
            ORDER BY x.next_attempt_at LIMIT $5 FOR UPDATE SKIP LOCKED) AS c";
    const BEGIN: &'static str = "BEGIN";
    const CHAIN_BEGIN: bool = true;
    // The count forces every lock to be taken; the filter then drops its one row.
    const LOCK_KEYS_FIRST: Option<&'static str> = Some(
        "SELECT NULL::text, NULL::int8 FROM (SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) AS n
         FROM unnest($2::text[]) AS k) AS l WHERE l.n < 0",
    );

    fn exec(&mut self, sql: &str, params: &[Param]) -> StoreResult<u64> {
        let st = self.statement(sql)?;
        let boxed: Vec<Box<dyn ToSql + Sync>> = params.iter().map(bind).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        self.client()?.execute(&st, &refs).map_err(pg_err)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Param],
        each: &mut dyn FnMut(&dyn Cols) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let st = self.statement(sql)?;
        let boxed: Vec<Box<dyn ToSql + Sync>> = params.iter().map(bind).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        for row in self.client()?.query(&st, &refs).map_err(pg_err)? {
            each(&PgRow(&row))?;
        }
        Ok(())
    }

    fn control(&mut self, sql: &str) -> Result<(), BatchError> {
        let client = self.client().map_err(|e| BatchError {
            message: e.to_string(),
            retryable: false,
        })?;
        client.batch_execute(sql).map_err(|e| {
            let err = pg_err(e);
            BatchError {
                retryable: matches!(err, StoreError::Conflict(_)),
                message: err.to_string(),
            }
        })
    }

    fn write<'a>(&mut self, inserts: &[Rows<'a>], balances: &Balances<'a>) -> StoreResult<u64> {
        // One statement, one round trip: each table's rows go as one array per column, each
        // insert in a data-modifying `WITH` (all of which run, in one snapshot), and the
        // balance changes last.
        let mut params: Vec<Box<dyn ToSql + Sync + '_>> = Vec::new();
        let mut parts = Vec::new();
        for t in inserts.iter().filter(|t| !t.rows.is_empty()) {
            let mut casts = Vec::with_capacity(t.columns.len());
            for i in 0..t.columns.len() {
                let (array, ty) = column(&t.rows, i)?;
                params.push(array);
                casts.push(format!("${}::{ty}", params.len()));
            }
            parts.push(format!(
                "w{} AS (INSERT INTO {} ({}) SELECT * FROM unnest({}) {})",
                parts.len(),
                t.table,
                t.columns.join(", "),
                casts.join(", "),
                t.on_conflict.unwrap_or("")
            ));
        }
        let split = |ds: &[(&'a str, i64)]| -> (Vec<&'a str>, Vec<i64>) {
            (
                ds.iter().map(|d| d.0).collect(),
                ds.iter().map(|d| d.1).collect(),
            )
        };
        let (ids, amounts) = split(&balances.cards);
        params.push(Box::new(ids));
        params.push(Box::new(amounts));
        parts.push(format!(
            "u AS (UPDATE accounts AS a SET balance = a.balance + v.delta
             FROM unnest(${}::text[], ${}::int8[]) AS v(id, delta) WHERE a.id = v.id RETURNING 1)",
            params.len() - 1,
            params.len()
        ));
        let (ids, amounts) = split(&balances.shared);
        params.push(Box::new(ids));
        params.push(Box::new(amounts));
        params.push(Box::new(balances.shard));
        parts.push(format!(
            "s AS (INSERT INTO balance_shards (account_id, shard, balance)
             SELECT a.id, ${}::int8, v.delta FROM unnest(${}::text[], ${}::int8[]) AS v(id, delta)
             JOIN accounts a ON a.id = v.id
             ON CONFLICT (account_id, shard)
             DO UPDATE SET balance = balance_shards.balance + excluded.balance RETURNING 1)",
            params.len(),
            params.len() - 2,
            params.len() - 1
        ));
        let sql = format!(
            "WITH {} SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM s)",
            parts.join(", ")
        );
        let st = self.statement(&sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|b| b.as_ref()).collect();
        let row = self.client()?.query_one(&st, &refs).map_err(pg_err)?;
        let changed: i64 = row.try_get(0).map_err(pg_err)?;
        Ok(changed as u64)
    }

    fn reference_block(&mut self) -> StoreResult<Vec<i64>> {
        let mut fresh = Vec::with_capacity(REFERENCE_BLOCK);
        let sql = format!(
            "SELECT nextval('operation_reference') FROM generate_series(1, {REFERENCE_BLOCK})"
        );
        self.query(&sql, &[], &mut |r| {
            fresh.push(r.int(0)?);
            Ok(())
        })?;
        Ok(fresh)
    }

    // A sequence never rolls back: references may skip numbers, never repeat. It takes no
    // row lock either, so concurrent transactions never wait for each other here.
    const REFERENCES_ROLL_BACK: bool = false;

    fn lock_keys(&mut self, keys: &[&str]) -> StoreResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        // In the order given (the caller sorts), so two batches cannot deadlock on them.
        self.query(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k",
            &[Param::List(keys)],
            &mut |_| Ok(()),
        )
    }

    fn is_broken(&self) -> bool {
        self.client.as_ref().is_none_or(Client::is_closed)
    }
}

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
        Ok(SqlConn::new(PostgresDriver {
            client: Some(client),
            statements: HashMap::new(),
        }))
    }
}

impl Connector for PostgresConnector {
    type C = SqlConn<PostgresDriver>;

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
