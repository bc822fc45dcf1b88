//! Lease owners on a real SQLite file (migration "lease_owners"): the release at start takes
//! back what the instance's earlier boots held and nothing of another instance, and the look
//! for another process with the same instance id sees only live leases of other boots.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aqsha_core::seed;
use aqsha_core::store::{LeaseOwner, Reclaimed, Store};
use aqsha_core::vault::Vault;
use std::time::Duration;

fn owner(instance: &str, boot: &str) -> LeaseOwner {
    LeaseOwner {
        instance: instance.into(),
        boot: boot.into(),
    }
}

#[tokio::test]
async fn a_restart_takes_back_its_own_earlier_leases_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aqsha.db");
    let store = aqsha_store::open_sqlite(&path).unwrap();
    assert!(store
        .install(seed::prepare(&Vault::new([5u8; 32])).unwrap())
        .await
        .unwrap());
    let now = chrono::Utc::now();
    let (past, hour_later) = (
        now.timestamp_millis() - 1_000,
        now.timestamp_millis() + 3_600_000,
    );
    let raw = rusqlite::Connection::open(&path).unwrap();
    let merchant: String = raw
        .query_row("SELECT id FROM merchants LIMIT 1", [], |r| r.get(0))
        .unwrap();
    // Two events in flight for an hour more: one of our earlier boot, one of another instance.
    for (id, instance) in [("ours", "i-1"), ("theirs", "i-2")] {
        raw.execute(
            "INSERT INTO callback_events (id, merchant_id, operation_id, invoice_id, url, kind,
               body, status, attempts, created_at, next_attempt_at, lease_until, lease_instance,
               lease_boot)
             VALUES (?1, ?2, 'op', 'inv', 'http://127.0.0.1:9/', 'success', '{}', 'pending', 1,
               ?3, ?3, ?4, ?5, 'old-boot')",
            rusqlite::params![id, merchant, past, hour_later, instance],
        )
        .unwrap();
    }
    raw.execute(
        "INSERT INTO pending_resolutions (operation_id, merchant_id, due_at, plan, claim,
           lease_until, lease_instance, lease_boot)
         VALUES ('pending-op', ?1, ?2, '{}', 'old-claim', ?3, 'i-1', 'old-boot')",
        rusqlite::params![merchant, past, hour_later],
    )
    .unwrap();

    let me = owner("i-1", "new-boot");
    assert_eq!(store.foreign_boots(&me, now).await.unwrap(), ["old-boot"]);
    let released = store.reclaim_leases(&me).await.unwrap();
    assert_eq!(
        released,
        Reclaimed {
            callbacks: 1,
            resolutions: 1
        }
    );
    assert!(store.foreign_boots(&me, now).await.unwrap().is_empty());
    assert_eq!(
        store.reclaim_leases(&me).await.unwrap(),
        Reclaimed::default()
    );

    // Our event is due at once and claimed under the new boot; theirs stays theirs.
    let lease = Duration::from_secs(60);
    let due = store
        .claim_callbacks(now, 10, lease, &me, 16, Vec::new())
        .await
        .unwrap();
    let ids: Vec<&str> = due.iter().map(|d| d.event.id.as_str()).collect();
    assert_eq!(ids, ["ours"]);
    assert_eq!(due[0].attempt, 2);
    let holders: Vec<(String, String, String)> = raw
        .prepare("SELECT id, lease_instance, lease_boot FROM callback_events ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let holder = |id: &str, i: &str, b: &str| (id.to_string(), i.to_string(), b.to_string());
    assert_eq!(
        holders,
        [
            holder("ours", "i-1", "new-boot"),
            holder("theirs", "i-2", "old-boot")
        ]
    );
    // Seen from another process given the same instance id, our new lease is a foreign one.
    let twin = owner("i-1", "twin-boot");
    assert_eq!(store.foreign_boots(&twin, now).await.unwrap(), ["new-boot"]);
}
