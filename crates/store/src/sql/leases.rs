//! Lease owners (migration "lease_owners"): a restarted instance releases what its earlier
//! boots held, and looks for another process holding leases under its instance id.

use super::{Driver, Param, SqlConn};
use aqsha_core::store::{LeaseOwner, Reclaimed, StoreResult};
use chrono::{DateTime, Utc};

/// The leased events and resolutions of `$1`'s instance under another boot than `$2`.
/// `lease_until > 0` matches the partial index on the events; the resolutions are only the
/// pending operations, a small table.
const OF_EARLIER_BOOTS: &str = "lease_instance = $1 AND lease_boot <> $2 AND lease_until > 0";

impl<D: Driver> SqlConn<D> {
    /// Makes due at once what the instance's earlier boots held: an event's next attempt time
    /// is already past (it was claimed when due), so a lease of 0 is all it needs. A
    /// resolution keeps its old claim id until claimed again, so the dead boot's claim can no
    /// longer carry it out, and the new claim carries it out once.
    pub(super) fn release_earlier_boots(&mut self, owner: &LeaseOwner) -> StoreResult<Reclaimed> {
        let params = [Param::Text(&owner.instance), Param::Text(&owner.boot)];
        let callbacks = self.driver.exec(
            &format!(
                "UPDATE callback_events SET lease_until = 0
                 WHERE {OF_EARLIER_BOOTS} AND status = 'pending'"
            ),
            &params,
        )?;
        let resolutions = self.driver.exec(
            &format!("UPDATE pending_resolutions SET lease_until = 0 WHERE {OF_EARLIER_BOOTS}"),
            &params,
        )?;
        Ok(Reclaimed {
            callbacks,
            resolutions,
        })
    }

    /// The other boots holding a live lease under `owner`'s instance id: after the release at
    /// start, only another running process with the same instance id takes such a lease.
    pub(super) fn boots_sharing_instance(
        &mut self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>> {
        self.all(
            &format!(
                "SELECT lease_boot FROM callback_events WHERE {OF_EARLIER_BOOTS} AND lease_until > $3
                 UNION
                 SELECT lease_boot FROM pending_resolutions WHERE {OF_EARLIER_BOOTS} AND lease_until > $3
                 ORDER BY 1 LIMIT 5"
            ),
            &[
                Param::Text(&owner.instance),
                Param::Text(&owner.boot),
                Param::Int(now.timestamp_millis()),
            ],
            |r| r.text(0),
        )
    }
}
