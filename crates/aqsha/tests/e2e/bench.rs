//! `aqsha bench` against a real server: it runs complete flows (token, then transfer), reports
//! them, and every transfer it counts is a charge the server's ledger holds.

use crate::common::*;
use serde_json::Value;
use std::collections::HashSet;

crate::tests! {
    sqlite: [
        the_bench_runs_complete_flows_and_the_ledger_agrees,
        the_bench_refuses_what_it_cannot_measure,
    ],
}

async fn the_bench_runs_complete_flows_and_the_ledger_agrees(backend: Backend) {
    let s = Server::process(backend);
    let cards_before: HashSet<String> = card_ids(&s.sandbox_get("/sandbox/cards").await);
    let out = tokio::process::Command::new(bin())
        .args([
            "bench", "--url", &s.url, "-c", "8", "-d", "2", "--warmup", "0",
        ])
        .args([
            "--cards",
            "6",
            "--terminals",
            "2",
            "--balance",
            "1000000",
            "--json",
        ])
        .args(["--server-pid", &s.pid().to_string()])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let transfers = r["transfers"].as_u64().unwrap();
    assert!(transfers > 0, "{r}");
    for kind in ["token", "transfer", "network"] {
        assert_eq!(r["errors"][kind], 0, "{r}");
    }
    let per_sec = r["transfers_per_sec"].as_f64().unwrap();
    assert!((per_sec - transfers as f64 / 2.0).abs() < 1e-6, "{r}");
    let p = |k: &str| r[k].as_f64().unwrap();
    assert!(p("flow_p50_ms") > 0.0, "{r}");
    assert!(p("flow_p50_ms") <= p("flow_p90_ms") && p("flow_p90_ms") <= p("flow_p99_ms"));
    assert!(p("flow_p99_ms") <= p("flow_max_ms"), "{r}");
    assert!(p("baseline_requests_per_sec") > 0.0, "{r}");
    assert!((p("ratio") - per_sec / p("baseline_requests_per_sec")).abs() < 1e-9);
    assert!(p("server_peak_rss_mb") > 1.0, "{r}");

    // The bench's six cards opened with 1,000,000 tenge each. Each transfer moved 1 tenge
    // between two of them and took the minimum fee of 95 tenge out: so their balances now
    // sum to what opened them less 95 tenge per counted transfer, exactly.
    let cards = s.sandbox_get("/sandbox/cards").await;
    let bench_cards: Vec<&Value> = cards
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !cards_before.contains(c["id"].as_str().unwrap()))
        .collect();
    assert_eq!(bench_cards.len(), 6);
    let total: i64 = bench_cards.iter().map(|c| to_minor(&c["balance"])).sum();
    assert_eq!(total, 6 * 100_000_000 - transfers as i64 * 9_500);
    s.assert_ledger_balanced().await;
}

async fn the_bench_refuses_what_it_cannot_measure(_: Backend) {
    let out = tokio::process::Command::new(bin())
        .args(["bench", "--url", "https://127.0.0.1:1", "-d", "1"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // It says why before doing anything, rather than failing on its first request.
    assert!(err.contains("plain http://"), "{err}");
}

fn card_ids(cards: &Value) -> HashSet<String> {
    cards
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}
