//! Claiming pending operations' resolutions (`transfer::scenario`): the resolver's side of
//! `pending_resolutions`. Writing and deleting a row is the transfer's [`Tx`] work
//! (`insert_pending_resolution`, `release_resolution`).

use super::{Driver, Param, SqlConn};
use aqsha_core::outcomes::{DueResolution, PendingResolution};
#[cfg(doc)]
use aqsha_core::store::Tx;
use aqsha_core::store::{LeaseOwner, StoreError, StoreResult};
use chrono::{DateTime, Utc};

impl<D: Driver> SqlConn<D> {
    /// Claims up to `limit` resolutions due at `now` and not leased by another resolver, for
    /// `lease_ms`, under a fresh claim id: only its holder may then carry one out, and one
    /// whose resolver died becomes due again when the lease has passed. On PostgreSQL the
    /// rows another instance is claiming are skipped, not waited for.
    pub(super) fn claim_due_resolutions(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
        lease_ms: i64,
        owner: &LeaseOwner,
    ) -> StoreResult<Vec<DueResolution>> {
        let now_ms = now.timestamp_millis();
        let claim = uuid::Uuid::new_v4().simple().to_string();
        let sql = format!(
            "UPDATE pending_resolutions SET claim = $2, lease_until = $3, lease_instance = $5,
                lease_boot = $6
             WHERE operation_id IN (SELECT operation_id FROM pending_resolutions
                WHERE due_at <= $1 AND lease_until <= $1 ORDER BY due_at LIMIT $4{})
             RETURNING operation_id, merchant_id, due_at, plan",
            D::SKIP_LOCKED
        );
        let rows = self.all(
            &sql,
            &[
                Param::Int(now_ms),
                Param::Text(&claim),
                Param::Int(now_ms + lease_ms),
                Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
                Param::Text(&owner.instance),
                Param::Text(&owner.boot),
            ],
            resolution_row,
        )?;
        rows.into_iter()
            .map(|row| {
                Ok(DueResolution {
                    pending: resolution(row)?,
                    claim: claim.clone(),
                })
            })
            .collect()
    }

    /// Deletes an operation's resolution whoever holds its claim, and returns it
    /// ([`Tx::take_resolution`]). On PostgreSQL a resolver deleting the same row concurrently
    /// makes this wait for its commit, after which the row is gone and this returns `None`.
    pub(super) fn take_resolution_row(
        &mut self,
        operation_id: &str,
    ) -> StoreResult<Option<PendingResolution>> {
        let row = self.one(
            "DELETE FROM pending_resolutions WHERE operation_id = $1
             RETURNING operation_id, merchant_id, due_at, plan",
            &[Param::Text(operation_id)],
            resolution_row,
        )?;
        row.map(resolution).transpose()
    }
}

type ResolutionRow = (String, String, i64, String);

fn resolution_row(r: &dyn crate::rows::Cols) -> StoreResult<ResolutionRow> {
    Ok((r.text(0)?, r.text(1)?, r.int(2)?, r.text(3)?))
}

fn resolution(
    (operation_id, merchant_id, due_at, plan): ResolutionRow,
) -> StoreResult<PendingResolution> {
    Ok(PendingResolution {
        operation_id,
        merchant_id,
        due_at: crate::rows::millis(due_at),
        plan: serde_json::from_str(&plan)
            .map_err(|e| StoreError::Db(format!("unreadable pending resolution plan: {e}")))?,
    })
}
