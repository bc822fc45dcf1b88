//! The PostgreSQL [`Driver`]: how the queries written once in `sql/` reach the `postgres`
//! client. Statements are prepared once per connection, parameters are bound by kind, and a
//! batch's inserts and balance changes go as one statement over `unnest`ed arrays.

use crate::conn::BatchError;
use crate::rows::Cols;
use crate::sql::{Balances, Driver, Param, Rows};
use aqsha_core::store::{StoreError, StoreResult};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Row, Statement};
use std::collections::HashMap;

/// References taken from the sequence in one round trip.
const REFERENCE_BLOCK: usize = 64;

/// Prepared statements kept per connection, at most.
const MAX_STATEMENTS: usize = 2048;

pub(super) fn pg_err(e: postgres::Error) -> StoreError {
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
    pub(super) fn new(client: Client) -> PostgresDriver {
        PostgresDriver {
            client: Some(client),
            statements: HashMap::new(),
        }
    }

    pub(super) fn client(&mut self) -> StoreResult<&mut Client> {
        self.client.as_mut().ok_or(StoreError::Closed)
    }

    fn statement(&mut self, sql: &str) -> StoreResult<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let st = self.client()?.prepare(sql).map_err(pg_err)?;
        // Not kept: PostgreSQL plans a statement's first five runs for their parameters, then
        // may settle on a generic plan. For the batch's read-ahead (ten lists, six tables) the
        // generic plan chosen early in a server's life was four to five times slower in about
        // half of the benchmark's runs (9.6 against 1.8 ms a batch, pg_stat_statements), which
        // made throughput and latency bimodal (BENCHMARKS.md, session 9). A statement prepared
        // for one run is always planned for its parameters, for one round trip more a batch.
        if sql.starts_with(crate::sql::PLANNED_EACH_TIME) {
            return Ok(st);
        }
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
