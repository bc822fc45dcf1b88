//! The writer's bounded queue and its close, on a real SQLite file. The writer is held still by
//! another connection that owns SQLite's write lock, so what waits in the queue is known.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aqsha_core::seed;
use aqsha_core::store::{Store, StoreError};
use aqsha_core::vault::Vault;
use std::sync::Arc;
use std::time::Duration;

const SAVED_CARD: &str = "fcf69516-f7e8-9b14-e053-1d1a000aef2f";

pub(crate) async fn seeded(
    path: &std::path::Path,
    queue: usize,
) -> (Arc<aqsha_store::SqliteStore>, String) {
    let options = aqsha_store::StoreOptions {
        writer_queue: queue,
    };
    let store = Arc::new(aqsha_store::open_sqlite_with(path, &options).unwrap());
    let vault = Vault::new([7u8; 32]);
    let seed = seed::prepare(&vault).unwrap();
    let merchant = seed.merchants[0].record.id.clone();
    assert!(store.install(seed).await.unwrap());
    (store, merchant)
}

/// Takes SQLite's write lock from outside the store, so its writer waits in `BEGIN IMMEDIATE`.
pub(crate) fn hold_write_lock(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_busy_at_once_and_queued_writes_still_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aqsha.db");
    let (store, merchant) = seeded(&path, 1).await;
    let lock = hold_write_lock(&path);
    // One write is taken by the (stuck) writer and one fits in the queue; every one after
    // that must be refused, not kept waiting.
    let mut waiting = Vec::new();
    let mut busy = 0;
    for n in 0..10 {
        let (store, merchant) = (store.clone(), merchant.clone());
        let write = tokio::spawn(async move {
            store
                .deactivate_card(&merchant, &format!("no-such-card-{n}"), None)
                .await
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        if write.is_finished() {
            match write.await.unwrap() {
                Err(StoreError::Busy) => busy += 1,
                other => panic!("a write finished while the writer was held: {other:?}"),
            }
        } else {
            waiting.push(write);
        }
    }
    assert!(busy >= 8, "busy refusals: {busy}");
    assert!(
        !waiting.is_empty() && waiting.len() <= 2,
        "{}",
        waiting.len()
    );
    lock.execute_batch("COMMIT").unwrap();
    for w in waiting {
        assert!(matches!(w.await.unwrap(), Ok(false)));
    }
    // Room again.
    assert!(matches!(
        store.deactivate_card(&merchant, "no-such-card", None).await,
        Ok(false)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_commits_what_is_queued_and_refuses_what_comes_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aqsha.db");
    let (store, merchant) = seeded(&path, 16).await;
    let lock = hold_write_lock(&path);
    let queued = {
        let (store, merchant) = (store.clone(), merchant.clone());
        tokio::spawn(async move { store.deactivate_card(&merchant, SAVED_CARD, None).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let closing = {
        let store = store.clone();
        tokio::spawn(async move { store.close().await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !closing.is_finished(),
        "close returned with a write still queued"
    );
    lock.execute_batch("COMMIT").unwrap();
    closing.await.unwrap();
    assert!(matches!(queued.await.unwrap(), Ok(true)));
    // The write is on disk, as a fresh connection sees it.
    let active: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM vault_cards WHERE id = ?1 AND active = 1",
            [SAVED_CARD],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(active, 0);
    assert!(matches!(
        store.deactivate_card(&merchant, SAVED_CARD, None).await,
        Err(StoreError::Closed)
    ));
}
