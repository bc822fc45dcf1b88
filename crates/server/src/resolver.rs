//! The resolver: settles pending operations (non-final sandbox outcomes, `docs/sandbox.md`)
//! when their resolution falls due.
//!
//! Like the callback dispatcher ([`crate::callbacks`]), it works from a table the transfer
//! wrote in its own commit (`pending_resolutions`): it claims due rows with a lease, so that
//! of several instances on one PostgreSQL database one resolves each, and a row whose resolver
//! died is claimed again once the lease has passed, or at once when its instance starts again
//! (`crate::leases`). Each resolution is one write through the
//! store (`transfer::scenario::resolve`): the operation's new status and answer, its postings
//! and its callback commit together, and the row is deleted in that same commit, so a restart
//! neither loses a resolution nor makes it twice.

use aqsha_core::store::{LeaseOwner, Store};
use aqsha_core::transfer::scenario::Resolution;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How often the resolver looks for due resolutions: a pending operation resolves at most this
/// much after its due time.
pub const POLL: Duration = Duration::from_millis(250);
/// How long a claim holds a resolution. One resolution is one write of a few statements; a
/// resolver that has not finished it by then is taken to be dead.
const LEASE: Duration = Duration::from_secs(30);
/// Most resolutions one claim takes.
const CLAIM_BATCH: usize = 32;

/// Runs until the process ends, its claims held by `owner` (`crate::leases`). `callbacks_wake`
/// is told of each resolution, whose callback is then due.
pub async fn run(store: Arc<dyn Store>, owner: LeaseOwner, callbacks_wake: Arc<Notify>) {
    loop {
        let claimed = match store
            .claim_resolutions(Utc::now(), CLAIM_BATCH, LEASE, &owner)
            .await
        {
            Ok(due) => {
                let n = due.len();
                for d in due {
                    let id = d.pending.operation_id.clone();
                    match store.resolve_pending(d).await {
                        Ok(Resolution::Skipped) => {}
                        Ok(r) => {
                            tracing::info!(operation = %id, resolution = ?r, "pending operation resolved");
                            callbacks_wake.notify_one();
                        }
                        // The claim's lease runs out and the resolution is claimed again.
                        Err(e) => {
                            tracing::error!(operation = %id, error = %e, "resolving a pending operation failed")
                        }
                    }
                }
                n
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming pending resolutions failed");
                0
            }
        };
        if claimed < CLAIM_BATCH {
            tokio::time::sleep(POLL).await;
        }
    }
}
