//! The callback outbox on SQLite: claiming due events, recording attempts, listing.

use crate::sqlite::db_err;
use aqsha_core::store::{
    CallbackAttempt, CallbackEvent, CallbackView, DueCallback, NextStep, StoreResult,
};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};

const EVENT_COLUMNS: &str =
    "id, merchant_id, operation_id, invoice_id, url, kind, body, created_at";

fn millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn event_from_row(r: &Row) -> rusqlite::Result<CallbackEvent> {
    Ok(CallbackEvent {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        operation_id: r.get(2)?,
        invoice_id: r.get(3)?,
        url: r.get(4)?,
        kind: r.get(5)?,
        body: r.get(6)?,
        created_at: millis(r.get(7)?),
    })
}

/// Leases up to `limit` due events to this deliverer and counts the attempt.
pub fn claim(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: usize,
    lease_ms: i64,
) -> StoreResult<Vec<DueCallback>> {
    let now_ms = now.timestamp_millis();
    let mut st = conn
        .prepare_cached(&format!(
            "UPDATE callback_events SET lease_until = ?2, attempts = attempts + 1
             WHERE id IN (
                SELECT id FROM callback_events
                WHERE status = 'pending' AND next_attempt_at <= ?1 AND lease_until <= ?1
                ORDER BY next_attempt_at LIMIT ?3)
             RETURNING {EVENT_COLUMNS}, attempts,
                (SELECT m.callback_secret FROM merchants m WHERE m.id = callback_events.merchant_id)"
        ))
        .map_err(db_err)?;
    let rows = st
        .query_map(params![now_ms, now_ms + lease_ms, limit as i64], |r| {
            Ok(DueCallback {
                event: event_from_row(r)?,
                attempt: r.get(8)?,
                secret: r.get(9)?,
            })
        })
        .map_err(db_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
}

pub fn finish(
    conn: &Connection,
    event_id: &str,
    a: &CallbackAttempt,
    next: NextStep,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO callback_attempts (event_id, attempt, at, http_status, error, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (event_id, attempt) DO NOTHING",
    )
    .map_err(db_err)?
    .execute(params![
        event_id,
        a.attempt,
        a.at.timestamp_millis(),
        a.http_status,
        a.error,
        a.duration_ms as i64
    ])
    .map_err(db_err)?;
    let (status, next_at, delivered_at) = match next {
        NextStep::Delivered => ("delivered", None, Some(a.at.timestamp_millis())),
        NextStep::RetryAt(t) => ("pending", Some(t.timestamp_millis()), None),
        NextStep::Failed => ("failed", None, None),
    };
    conn.prepare_cached(
        "UPDATE callback_events SET status = ?2, lease_until = 0,
         next_attempt_at = COALESCE(?3, next_attempt_at), delivered_at = COALESCE(?4, delivered_at)
         WHERE id = ?1",
    )
    .map_err(db_err)?
    .execute(params![event_id, status, next_at, delivered_at])
    .map_err(db_err)?;
    Ok(())
}

pub fn list(
    conn: &Connection,
    merchant_id: &str,
    invoice_id: Option<&str>,
) -> StoreResult<Vec<CallbackView>> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS}, status, next_attempt_at, delivered_at FROM callback_events
             WHERE merchant_id = ?1 AND (?2 IS NULL OR invoice_id = ?2)
             ORDER BY created_at DESC, id LIMIT 500"
        ))
        .map_err(db_err)?;
    let mut views = st
        .query_map(params![merchant_id, invoice_id], |r| {
            let status: String = r.get(8)?;
            let next: i64 = r.get(9)?;
            Ok(CallbackView {
                event: event_from_row(r)?,
                next_attempt_at: (status == "pending").then(|| millis(next)),
                status,
                delivered_at: r.get::<_, Option<i64>>(10)?.map(millis),
                attempts: Vec::new(),
            })
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    let mut at = conn
        .prepare_cached(
            "SELECT attempt, at, http_status, error, duration_ms FROM callback_attempts
             WHERE event_id = ?1 ORDER BY attempt",
        )
        .map_err(db_err)?;
    for v in views.iter_mut() {
        v.attempts = at
            .query_map([&v.event.id], |r| {
                Ok(CallbackAttempt {
                    attempt: r.get(0)?,
                    at: millis(r.get(1)?),
                    http_status: r.get(2)?,
                    error: r.get(3)?,
                    duration_ms: r.get::<_, i64>(4)? as u64,
                })
            })
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
    }
    Ok(views)
}

pub fn resend(
    conn: &Connection,
    merchant_id: &str,
    event_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let n = conn
        .execute(
            "UPDATE callback_events SET status = 'pending', next_attempt_at = ?3, lease_until = 0
             WHERE id = ?1 AND merchant_id = ?2",
            params![event_id, merchant_id, now.timestamp_millis()],
        )
        .map_err(db_err)?;
    Ok(n == 1)
}
