//! What the store tells `/metrics`: the writer's queue, batches and connections
//! (`Store::stats`), and the callback queue's age (`Store::oldest_due_callback`), on a real
//! SQLite file.

use crate::writer_queue::{hold_write_lock, seeded};
use aqsha_core::store::Store;
use chrono::{DateTime, Duration, Utc};

/// Waits until the store's figures satisfy `check` (the writer runs on its own thread).
async fn until(
    store: &dyn Store,
    what: &str,
    check: impl Fn(&aqsha_core::stats::StoreStats) -> bool,
) {
    for _ in 0..500 {
        if check(&store.stats().unwrap()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{what}: {:?}", store.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writers_queue_batches_and_connection_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aqsha.db");
    let (store, merchant) = seeded(&path, 8).await;
    let start = store.stats().unwrap();
    assert_eq!(start.backend, "sqlite");
    assert_eq!(start.queue_capacity, 8);
    assert_eq!((start.queue_depth, start.writer.in_use), (0, 0));
    assert!(start.readers.size >= 1 && start.readers.in_use == 0);
    let lock = hold_write_lock(&path);
    let write = |n: usize| {
        let (store, merchant) = (store.clone(), merchant.clone());
        tokio::spawn(async move {
            store
                .deactivate_card(&merchant, &format!("no-such-card-{n}"), None)
                .await
        })
    };
    // The first write is taken by the writer, which then waits for the lock; the next two
    // wait in the queue.
    let mut writes = vec![write(0)];
    until(&*store, "the writer busy", |s| s.writer.in_use == 1).await;
    writes.extend([write(1), write(2)]);
    until(&*store, "two queued", |s| s.queue_depth == 2).await;
    lock.execute_batch("COMMIT").unwrap();
    for w in writes {
        assert!(matches!(w.await.unwrap(), Ok(false)));
    }
    until(&*store, "the queue drained", |s| {
        s.queue_depth == 0 && s.writer.in_use == 0
    })
    .await;
    let end = store.stats().unwrap();
    let batches = end.batch_size.count - start.batch_size.count;
    assert!((1..=3).contains(&batches), "{batches}");
    assert_eq!(end.batch_size.sum - start.batch_size.sum, 3.0);
    assert_eq!(end.commit_seconds.count, end.batch_size.count);
    assert_eq!(
        end.batch_size.counts.iter().sum::<u64>(),
        end.batch_size.count
    );
    // The batch that waited for the lock took longer than nothing.
    assert!(end.commit_seconds.sum > start.commit_seconds.sum);
}

fn add_event(
    conn: &rusqlite::Connection,
    id: &str,
    merchant: &str,
    due: DateTime<Utc>,
    status: &str,
) {
    conn.execute(
        "INSERT INTO callback_events (id, merchant_id, operation_id, invoice_id, url, kind, body,
            status, created_at, next_attempt_at)
         VALUES (?1, ?2, 'op', 'inv', 'http://127.0.0.1:9/', 'success', '{}', ?3, ?4, ?4)",
        rusqlite::params![id, merchant, status, due.timestamp_millis()],
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oldest_due_callback_is_the_earliest_pending_one_already_due() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aqsha.db");
    let (store, merchant) = seeded(&path, 8).await;
    let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    assert_eq!(store.oldest_due_callback(now).await.unwrap(), None);
    let conn = rusqlite::Connection::open(&path).unwrap();
    add_event(
        &conn,
        "later",
        &merchant,
        now + Duration::seconds(60),
        "pending",
    );
    assert_eq!(
        store.oldest_due_callback(now).await.unwrap(),
        None,
        "not due yet"
    );
    add_event(
        &conn,
        "delivered",
        &merchant,
        now - Duration::seconds(600),
        "delivered",
    );
    add_event(
        &conn,
        "failed",
        &merchant,
        now - Duration::seconds(500),
        "failed",
    );
    add_event(
        &conn,
        "due",
        &merchant,
        now - Duration::seconds(30),
        "pending",
    );
    add_event(
        &conn,
        "older",
        &merchant,
        now - Duration::seconds(90),
        "pending",
    );
    assert_eq!(
        store.oldest_due_callback(now).await.unwrap(),
        Some(now - Duration::seconds(90))
    );
    // Once the later one is due too, the oldest is still the oldest.
    assert_eq!(
        store
            .oldest_due_callback(now + Duration::seconds(120))
            .await
            .unwrap(),
        Some(now - Duration::seconds(90))
    );
}
