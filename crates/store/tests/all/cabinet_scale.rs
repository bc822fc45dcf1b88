//! The cabinet's reads over a million operations (issue 16, items 2 and 3): the list's pages
//! by keyset (the first, and one half a million rows deep), the search box, the dashboard's
//! 30 days, and the CSV export's walk over every row in batches, with the memory it holds.
//! Ignored by default; run it, and copy its figures into BENCHMARKS.md, with
//!
//! ```text
//! cargo test --release -p aqsha-store --test all -- --ignored --nocapture cabinet_scale
//! ```
//!
//! Both backends: `cabinet_scale_on_sqlite` and `cabinet_scale_on_postgres` (a server of its
//! own from /usr/lib/postgresql, [`super::pg`]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aqsha_core::search::{stored_time, Condition, Cursor, Field, Method, Search, Value};
use aqsha_core::seed;
use aqsha_core::store::Store;
use aqsha_core::vault::Vault;
use std::time::{Duration, Instant};

/// The process's resident memory now, in KiB (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn text(field: Field, value: &str) -> Condition {
    Condition {
        field,
        method: Method::Eq,
        values: vec![Value::Text(value.into())],
    }
}

async fn best_of_three(store: &dyn Store, merchant: &str, s: &Search) -> (Duration, usize) {
    store.search_operations(merchant, s.clone()).await.unwrap();
    let mut best = Duration::MAX;
    let mut rows = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let found = store.search_operations(merchant, s.clone()).await.unwrap();
        best = best.min(t.elapsed());
        assert!(found.iter().all(|o| o.merchant_id == merchant));
        rows = found.len();
    }
    (best, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes a million operations; run for BENCHMARKS.md"]
async fn cabinet_scale_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aqsha.db");
    let store = aqsha_store::open_sqlite(&path).unwrap();
    let merchant = install_seed(&store).await;
    super::search_scale::fill(&path, &merchant);
    measure(&store, &merchant).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes a million operations to a PostgreSQL server of its own; run for BENCHMARKS.md"]
async fn cabinet_scale_on_postgres() {
    let pg = super::pg::Pg::start();
    let url = aqsha_store::DatabaseUrl::parse(&pg.url).unwrap();
    let store = aqsha_store::open(&url).await.unwrap();
    let merchant = install_seed(store.as_ref()).await;
    super::pg::fill(&pg, &merchant);
    measure(store.as_ref(), &merchant).await;
}

/// The seed's records; its first merchant's id.
async fn install_seed(store: &dyn Store) -> String {
    let vault = Vault::new([7u8; 32]);
    let records = seed::prepare(&vault).unwrap();
    let merchant = records.merchants[0].record.id.clone();
    assert!(store.install(records).await.unwrap());
    merchant
}

/// How long the counts beside the export button take, best of three.
async fn counts(store: &dyn Store, merchant: &str) {
    let cases = [
        ("count, every row", vec![]),
        ("count, declined only", vec![text(Field::Status, "FAILED")]),
        (
            "count, one terminal",
            vec![text(
                Field::TerminalId,
                "67e34d63-102f-4bd1-898e-370781d0074d",
            )],
        ),
        (
            "count, a card's last digits",
            vec![Condition {
                field: Field::CardMask,
                method: Method::Like,
                values: vec![Value::Text("%1234".into())],
            }],
        ),
        (
            "count, search box: an invoice id",
            vec![text(Field::AnyNumber, "000100500000")],
        ),
    ];
    for (name, conditions) in cases {
        let s = Search::newest_first(conditions, 1, None);
        let mut best = Duration::MAX;
        let mut n = 0;
        for _ in 0..4 {
            let t = Instant::now();
            n = store
                .count_operations(merchant, s.clone(), u64::MAX)
                .await
                .unwrap();
            best = best.min(t.elapsed());
        }
        println!("| {name} | {n} | {:.2} ms |", best.as_secs_f64() * 1000.0);
    }
    // The list page's count stops after 100 001 rows (pages/cabinet/export.rs, LARGE).
    let t = Instant::now();
    let n = store
        .count_operations(merchant, Search::newest_first(vec![], 1, None), 100_001)
        .await
        .unwrap();
    println!(
        "| count, every row, up to 100 001 (the list page's) | {n} | {:.2} ms |",
        t.elapsed().as_secs_f64() * 1000.0
    );
}

async fn measure(store: &dyn Store, merchant: &str) {
    let merchant = merchant.to_string();

    // Half a million rows deep: the cursor of the operation there.
    let deep = store
        .search_operations(
            &merchant,
            Search::newest_first(vec![text(Field::OperationId, "op-00500000")], 1, None),
        )
        .await
        .unwrap()
        .remove(0);
    let cursor = Cursor {
        created_at: stored_time(deep.created_at),
        id: deep.id.clone(),
    };
    let cases = [
        ("list, first page", Search::newest_first(vec![], 50, None)),
        (
            "list, 500 000 rows deep (keyset)",
            Search::newest_first(vec![], 50, Some(cursor)),
        ),
        (
            "declined only, first page",
            Search::newest_first(vec![text(Field::Status, "FAILED")], 50, None),
        ),
        (
            "search box: an invoice id",
            Search::newest_first(vec![text(Field::AnyNumber, "000100500000")], 50, None),
        ),
        (
            "search box: a reference",
            Search::newest_first(vec![text(Field::AnyNumber, "000000500001")], 50, None),
        ),
        (
            "search box: an unknown number",
            Search::newest_first(vec![text(Field::AnyNumber, "999999999999")], 50, None),
        ),
        (
            "search box: a card's last digits",
            Search::newest_first(
                vec![Condition {
                    field: Field::CardMask,
                    method: Method::Like,
                    values: vec![Value::Text("%1234".into())],
                }],
                50,
                None,
            ),
        ),
    ];
    println!("| cabinet read | rows | time |");
    println!("|---|---|---|");
    for (name, s) in cases {
        let (t, rows) = best_of_three(store, &merchant, &s).await;
        println!("| {name} | {rows} | {:.2} ms |", t.as_secs_f64() * 1000.0);
    }

    counts(store, &merchant).await;

    let t = Instant::now();
    let since = chrono::Utc::now() - chrono::Duration::days(30);
    let stats = store.operation_stats(&merchant, since).await.unwrap();
    let n: u64 = stats.iter().map(|r| r.count).sum();
    println!(
        "| dashboard, 30 days ({n} operations) | {} groups | {:.0} ms |",
        stats.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );

    // The export's walk: batches of 1000 after the last row, as pages/cabinet/export.rs does,
    // each turned into text and dropped, as the response body sends it.
    let base = rss_kib();
    let mut peak = base;
    let (mut rows, mut bytes) = (0usize, 0usize);
    let mut after = None;
    let t = Instant::now();
    loop {
        let found = store
            .search_operations(&merchant, Search::newest_first(vec![], 1000, after.take()))
            .await
            .unwrap();
        let more = found.len() > 1000;
        for op in found.iter().take(1000) {
            bytes += format!(
                "{},{},{},{}\r\n",
                op.id, op.invoice_id, op.amount, op.sender.mask
            )
            .len();
        }
        rows += found.len().min(1000);
        after = found.get(999).map(|op| Cursor {
            created_at: stored_time(op.created_at),
            id: op.id.clone(),
        });
        peak = peak.max(rss_kib());
        if !more {
            break;
        }
    }
    println!(
        "| export walk, every row | {rows} | {:.1} s ({} MB of text); memory grew {} MiB over {} MiB |",
        t.elapsed().as_secs_f64(),
        bytes / 1_000_000,
        (peak.saturating_sub(base)) / 1024,
        base / 1024
    );
    assert_eq!(rows, 999_000, "the merchant's rows, and no one else's");
}
