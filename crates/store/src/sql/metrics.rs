//! What the server's `/metrics` reads from the database at scrape time.

use super::{Driver, Param, SqlConn};
use aqsha_core::store::StoreResult;
use chrono::{DateTime, Utc};

impl<D: Driver> SqlConn<D> {
    /// The earliest `next_attempt_at` of a pending callback due at `now`. Per merchant, its
    /// earliest pending event is one seek in the claim's index (`merchant_id,
    /// next_attempt_at` where pending), so the cost grows with merchants, not with the
    /// backlog a scrape is meant to show.
    pub(super) fn oldest_due(&mut self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>> {
        let oldest = self.one(
            "SELECT MIN(due) FROM (
                SELECT (SELECT c.next_attempt_at FROM callback_events c
                        WHERE c.merchant_id = m.id AND c.status = 'pending'
                        ORDER BY c.next_attempt_at LIMIT 1) AS due
                FROM merchants m) AS earliest
             WHERE due <= $1",
            &[Param::Int(now.timestamp_millis())],
            |r| r.opt_int(0),
        )?;
        Ok(oldest.flatten().map(crate::rows::millis))
    }
}
