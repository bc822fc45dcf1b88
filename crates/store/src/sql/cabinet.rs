//! The merchant cabinet's sessions, login lock and dashboard figures (migration
//! "cabinet_sessions"). Times are milliseconds since the epoch.

use super::{Driver, Param, SqlConn};
use crate::conn::CabinetConn;
use aqsha_core::cabinet::{millis, CabinetSession, LoginPolicy, StatRow};
use aqsha_core::store::{StoreError, StoreResult};
use chrono::{DateTime, NaiveDateTime, Utc};
use std::time::Duration;

/// Sessions idle this long are deleted when anyone logs in; a shorter idle limit refuses
/// them long before (`session`), so this only keeps the table small.
const PURGE_AFTER: Duration = Duration::from_secs(24 * 3600);

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl<D: Driver> CabinetConn for SqlConn<D> {
    fn login_locked_until(
        &mut self,
        login: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let until = self.one(
            "SELECT locked_until_ms FROM cabinet_login_failures
             WHERE login = $1 AND locked_until_ms > $2",
            &[Param::Text(login), Param::Int(now.timestamp_millis())],
            |r| r.int(0),
        )?;
        Ok(until.map(at))
    }

    fn login_failed(
        &mut self,
        login: &str,
        now: DateTime<Utc>,
        policy: LoginPolicy,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let now_ms = now.timestamp_millis();
        let window = millis(policy.lock_for);
        // A run of failures older than the lock time starts again at one; the upsert is one
        // statement, so instances sharing the database count every failure.
        self.driver.exec(
            "INSERT INTO cabinet_login_failures (login, failures, first_failure_ms, locked_until_ms)
             VALUES ($1, 1, $2, NULL)
             ON CONFLICT (login) DO UPDATE SET
               failures = CASE WHEN cabinet_login_failures.first_failure_ms <= $3
                          THEN 1 ELSE cabinet_login_failures.failures + 1 END,
               first_failure_ms = CASE WHEN cabinet_login_failures.first_failure_ms <= $3
                          THEN $2 ELSE cabinet_login_failures.first_failure_ms END",
            &[Param::Text(login), Param::Int(now_ms), Param::Int(now_ms - window)],
        )?;
        self.driver.exec(
            "UPDATE cabinet_login_failures SET locked_until_ms = $2, failures = 0
             WHERE login = $1 AND failures >= $3",
            &[
                Param::Text(login),
                Param::Int(now_ms.saturating_add(window)),
                Param::Int(i64::from(policy.limit)),
            ],
        )?;
        self.login_locked_until(login, now)
    }

    fn login_succeeded(&mut self, login: &str) -> StoreResult<()> {
        self.driver.exec(
            "DELETE FROM cabinet_login_failures WHERE login = $1",
            &[Param::Text(login)],
        )?;
        Ok(())
    }

    fn open_session(&mut self, id_hash: &str, s: &CabinetSession) -> StoreResult<()> {
        let now = s.created_at.timestamp_millis();
        self.driver.exec(
            "DELETE FROM cabinet_sessions WHERE last_seen_ms < $1",
            &[Param::Int(now - millis(PURGE_AFTER))],
        )?;
        self.driver.exec(
            "INSERT INTO cabinet_sessions (id_hash, merchant_id, login, created_ms, last_seen_ms)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                Param::Text(id_hash),
                Param::Text(&s.merchant_id),
                Param::Text(&s.login),
                Param::Int(now),
                Param::Int(s.last_seen.timestamp_millis()),
            ],
        )?;
        Ok(())
    }

    fn session(
        &mut self,
        id_hash: &str,
        now: DateTime<Utc>,
        idle: Duration,
    ) -> StoreResult<Option<CabinetSession>> {
        let now_ms = now.timestamp_millis();
        self.driver.exec(
            "DELETE FROM cabinet_sessions WHERE id_hash = $1 AND last_seen_ms <= $2",
            &[Param::Text(id_hash), Param::Int(now_ms - millis(idle))],
        )?;
        self.driver.exec(
            "UPDATE cabinet_sessions SET last_seen_ms = $2 WHERE id_hash = $1",
            &[Param::Text(id_hash), Param::Int(now_ms)],
        )?;
        self.one(
            "SELECT s.merchant_id, s.login, s.created_ms, s.last_seen_ms,
                    COALESCE(m.time_zone, 'Asia/Almaty')
             FROM cabinet_sessions s LEFT JOIN merchants m ON m.id = s.merchant_id
             WHERE s.id_hash = $1",
            &[Param::Text(id_hash)],
            |r| {
                Ok(CabinetSession {
                    merchant_id: r.text(0)?,
                    login: r.text(1)?,
                    created_at: at(r.int(2)?),
                    last_seen: at(r.int(3)?),
                    time_zone: r.text(4)?,
                })
            },
        )
    }

    fn end_session(&mut self, id_hash: &str) -> StoreResult<()> {
        self.driver.exec(
            "DELETE FROM cabinet_sessions WHERE id_hash = $1",
            &[Param::Text(id_hash)],
        )?;
        Ok(())
    }

    fn set_cabinet_password(
        &mut self,
        merchant_id: &str,
        hash: &str,
        keep: &str,
    ) -> StoreResult<bool> {
        let changed = self.driver.exec(
            "UPDATE merchants SET cabinet_password_hash = $2 WHERE id = $1",
            &[Param::Text(merchant_id), Param::Text(hash)],
        )?;
        self.driver.exec(
            "DELETE FROM cabinet_sessions WHERE merchant_id = $1 AND id_hash <> $2",
            &[Param::Text(merchant_id), Param::Text(keep)],
        )?;
        Ok(changed == 1)
    }

    fn set_time_zone(&mut self, merchant_id: &str, zone: &str) -> StoreResult<bool> {
        let changed = self.driver.exec(
            "UPDATE merchants SET time_zone = $2 WHERE id = $1",
            &[Param::Text(merchant_id), Param::Text(zone)],
        )?;
        Ok(changed == 1)
    }

    fn operation_stats(
        &mut self,
        merchant_id: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<StatRow>> {
        // created_at is RFC 3339 text in UTC: its first 13 characters name the hour, on both
        // databases alike. The page turns hours into the merchant's days.
        let since = aqsha_core::search::stored_time(since);
        self.all(
            "SELECT SUBSTR(created_at, 1, 13), status, reason_code, COUNT(*),
                    CAST(SUM(amount) AS BIGINT), CAST(SUM(fee) AS BIGINT)
             FROM operations WHERE merchant_id = $1 AND created_at >= $2
             GROUP BY SUBSTR(created_at, 1, 13), status, reason_code",
            &[Param::Text(merchant_id), Param::Text(&since)],
            |r| {
                let hour = NaiveDateTime::parse_from_str(
                    &format!("{}:00:00", r.text(0)?),
                    "%Y-%m-%dT%H:%M:%S",
                )
                .map_err(|e| StoreError::Db(format!("operation time: {e}")))?;
                Ok(StatRow {
                    hour: hour.and_utc(),
                    charged: r.text(1)? == "CHARGE",
                    reason_code: u32::try_from(r.int(2)?).unwrap_or(u32::MAX),
                    count: u64::try_from(r.int(3)?).unwrap_or(0),
                    amount: r.opt_int(4)?.unwrap_or(0),
                    fee: r.opt_int(5)?.unwrap_or(0),
                })
            },
        )
    }
}
