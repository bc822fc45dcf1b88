//! The operations search over a million operations (issue 14, item 5): the first page of
//! typical searches stays fast because it is read off an index. Ignored by default (it
//! writes a million rows); run it, and copy its figures into BENCHMARKS.md, with
//!
//! ```text
//! cargo test --release -p aqsha-store --test all -- --ignored --nocapture search_scale
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aqsha_core::search::Search;
use aqsha_core::seed;
use aqsha_core::store::Store;
use aqsha_core::vault::Vault;
use aqsha_wire::operations::OperationsRequest;
use std::time::{Duration, Instant};

const OPERATIONS: i64 = 1_000_000;
const TERMINALS: [&str; 3] = [
    "67e34d63-102f-4bd1-898e-370781d0074d",
    "40a348cb-68a3-45d5-9002-a4836d79c3b5",
    "c36b282f-6819-4d4f-85df-a4bdc8a8f703",
];

/// A million operations of the seed's merchant over 100 days, one every ~8.6 s, and a
/// thousand of another merchant's among them; a tenth declined.
pub(crate) fn fill(path: &std::path::Path, merchant: &str) {
    let mut db = rusqlite::Connection::open(path).unwrap();
    let tx = db.transaction().unwrap();
    {
        let mut st = tx
            .prepare(
                "INSERT INTO operations (id, merchant_id, terminal_id, invoice_id, account_id, amount,
                 fee, currency, description, email, status, reason_code, reason, reference,
                 int_reference, sender_card_id, sender_mask, sender_brand, sender_type,
                 receiver_card_id, receiver_mask, receiver_brand, receiver_type, token_id,
                 request_digest, http_status, response_body, created_at, day, invoice_tail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 95, 'KZT', '', '', ?7, ?8, '', ?9, '', '',
                 ?10, 'VISA', 'TYPEPAN', '', '440563...7622', 'VISA', 'TYPECARDID', ?1, '', 200,
                 '{}', ?11, ?12, ?13)",
            )
            .unwrap();
        let start = chrono::Utc::now() - chrono::Duration::days(100);
        for n in 0..OPERATIONS {
            let at = start + chrono::Duration::milliseconds(n * 8_640);
            let owner = if n % 1000 == 7 {
                "someone-else"
            } else {
                merchant
            };
            let invoice = format!("{:012}", 100_000_000 + n);
            let failed = n % 10 == 3;
            st.execute(rusqlite::params![
                format!("op-{n:08}"),
                owner,
                TERMINALS[(n % 3) as usize],
                invoice,
                format!("customer-{}", n % 5000),
                100 * (1 + n % 1000),
                if failed { "FAILED" } else { "CHARGE" },
                if failed { 484 } else { 0 },
                if failed {
                    String::new()
                } else {
                    format!("{:012}", n + 1)
                },
                format!("440563...{:04}", n % 10_000),
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                at.format("%Y-%m-%d").to_string(),
                &invoice[6..],
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn search(json: &str) -> Search {
    Search::parse(&serde_json::from_str::<OperationsRequest>(json).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes a million operations; run for BENCHMARKS.md"]
async fn search_scale_first_pages_over_a_million_operations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aqsha.db");
    let store = aqsha_store::open_sqlite(&path).unwrap();
    let vault = Vault::new([7u8; 32]);
    let records = seed::prepare(&vault).unwrap();
    let merchant = records.merchants[0].record.id.clone();
    assert!(store.install(records).await.unwrap());
    let began = Instant::now();
    fill(&path, &merchant);
    println!(
        "inserted {OPERATIONS} operations in {:.1?}",
        began.elapsed()
    );

    let week = r#"{"name":"created_at","method":">=","searchParameter":["DATE"]}"#.replace(
        "DATE",
        &(chrono::Utc::now() - chrono::Duration::days(7)).to_rfc3339(),
    );
    let all =
        r#"{"name":"created_at","method":"between","searchParameter":["2000-01-01","2100-01-01"]}"#;
    let cases = [
        (
            "last 7 days, newest first",
            format!(r#"{{"searchParameters":[{week}]}}"#),
        ),
        (
            "all time, newest first",
            format!(r#"{{"searchParameters":[{all}]}}"#),
        ),
        (
            "all time, oldest first",
            format!(
                r#"{{"searchParameters":[{all}],"orderParameters":[{{"field":"created_at","typeOrder":"ASC"}}]}}"#
            ),
        ),
        (
            "all time, FAILED only",
            format!(
                r#"{{"searchParameters":[{all},{{"name":"status","method":"=","searchParameter":["FAILED"]}}]}}"#
            ),
        ),
        (
            "all time, one terminal",
            format!(
                r#"{{"searchParameters":[{all},{{"name":"terminal_id","method":"=","searchParameter":["{}"]}}]}}"#,
                TERMINALS[1]
            ),
        ),
        (
            "all time, one invoice",
            format!(
                r#"{{"searchParameters":[{all},{{"name":"invoice_id","method":"=","searchParameter":["000100500000"]}}]}}"#
            ),
        ),
        (
            "all time, one reference",
            format!(
                r#"{{"searchParameters":[{all},{{"name":"reference","method":"=","searchParameter":["000000500001"]}}]}}"#
            ),
        ),
        (
            "all time, one customer",
            format!(
                r#"{{"searchParameters":[{all},{{"name":"account_id","method":"=","searchParameter":["customer-42"]}}]}}"#
            ),
        ),
        (
            "all time, card mask like",
            format!(
                r#"{{"searchParameters":[{all},{{"name":"card_mask","method":"like","searchParameter":["%1234"]}}]}}"#
            ),
        ),
        (
            "all time, amount > 999, page 10",
            format!(
                r#"{{"paging":{{"page":10,"size":20}},"searchParameters":[{all},{{"name":"amount","method":">","searchParameter":[999]}}]}}"#
            ),
        ),
    ];
    println!("| search | rows | first page |");
    println!("|---|---|---|");
    for (name, json) in cases {
        let s = search(&json);
        // Best of three, after one warm-up: the figure is the query's, not the page cache's.
        store.search_operations(&merchant, s.clone()).await.unwrap();
        let mut best = Duration::MAX;
        let mut rows = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let found = store.search_operations(&merchant, s.clone()).await.unwrap();
            best = best.min(t.elapsed());
            assert!(
                found.iter().all(|o| o.merchant_id == merchant),
                "another merchant's row"
            );
            rows = found.len();
        }
        println!(
            "| {name} | {rows} | {:.2} ms |",
            best.as_secs_f64() * 1000.0
        );
        assert!(rows > 0, "{name}: nothing found");
    }
}
