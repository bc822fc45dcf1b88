//! The merchant cabinet's records (issue 16): login sessions, the login lock and the figures
//! the dashboard draws. The rules about them live in the server (`pages::cabinet`); the
//! store keeps them in the database so that every instance shares them.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// A signed-in browser. The store knows it by the SHA-256 of the cookie's random id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CabinetSession {
    pub merchant_id: String,
    /// The login it was opened with, in lower case.
    pub login: String,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The merchant's time zone (an IANA name), read with the session so that a page needs
    /// no second query; not written when a session is opened.
    pub time_zone: String,
}

/// The time zone a merchant's cabinet shows unless it chose another.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Almaty";

/// How failed logins lock a login: `limit` failures within `lock_for` of the first lock it
/// for `lock_for` (ten and 30 minutes by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    pub limit: u32,
    pub lock_for: Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            limit: 10,
            lock_for: Duration::from_secs(30 * 60),
        }
    }
}

/// One group of the merchant's operations for the dashboard: those created in one UTC hour
/// (`hour`, its start) with one status and reason code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatRow {
    pub hour: DateTime<Utc>,
    pub charged: bool,
    pub reason_code: u32,
    pub count: u64,
    /// Sums in minor units (tiyn).
    pub amount: i64,
    pub fee: i64,
}

/// Milliseconds of a duration, for the store's integer columns.
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
