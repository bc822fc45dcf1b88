//! Key rotation's store methods on a real SQLite file: counting records per key, walking the
//! records not under a key batch by batch, and re-sealing only rows that still hold what was
//! read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aqsha_core::keyring::Keyring;
use aqsha_core::records::SealedTable;
use aqsha_core::seed;
use aqsha_core::store::Store;

#[tokio::test]
async fn rows_are_walked_in_batches_and_a_changed_row_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = aqsha_store::open_sqlite(&dir.path().join("aqsha.db")).unwrap();
    let mut ring = Keyring::from_master([5u8; 32]);
    let before = ring.vault();
    assert!(store
        .install(seed::prepare(&before).unwrap())
        .await
        .unwrap());
    let old = before.key_id().to_string();
    let usage = store.key_usage().await.unwrap();
    let network = usage
        .iter()
        .find(|u| u.table == SealedTable::NetworkCards && u.key_id == old)
        .unwrap()
        .records;
    // The seed's seven network cards (its 3-D Secure enrolled one included).
    assert_eq!(network, 7, "{usage:?}");

    ring.add([6u8; 32], true, chrono::Utc::now()).unwrap();
    let after = ring.vault();
    let new = after.key_id().to_string();
    // Walk the network cards two at a time, in id order, each id once.
    let (mut cursor, mut seen) = (String::new(), Vec::new());
    loop {
        let rows = store
            .sealed_not_under(SealedTable::NetworkCards, &new, &cursor, 2)
            .await
            .unwrap();
        let Some(last) = rows.last() else { break };
        assert!(rows.len() <= 2);
        cursor = last.id.clone();
        seen.extend(rows);
    }
    assert_eq!(seen.len(), 7);
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id));

    // Re-seal all but pretend the first row changed after it was read: it stays as it is.
    let mut changes: Vec<_> = seen
        .iter()
        .map(|r| (r.clone(), after.seal(&after.open(&r.sealed).unwrap())))
        .collect();
    changes[0].0.sealed.blob[12] ^= 1;
    let n = store
        .reseal(SealedTable::NetworkCards, changes)
        .await
        .unwrap();
    assert_eq!(n, 6);
    let left = store
        .sealed_not_under(SealedTable::NetworkCards, &new, "", 100)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, seen[0].id);
    assert_eq!(left[0].sealed, seen[0].sealed);
    let usage = store.key_usage().await.unwrap();
    assert!(usage
        .iter()
        .any(|u| u.table == SealedTable::NetworkCards && u.key_id == new && u.records == 6));
}
