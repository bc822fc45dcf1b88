//! A transfer whose postings name an account that does not exist never commits, and fails
//! alone. On PostgreSQL nothing but the batch's own check stands in the way: there is no
//! foreign key from postings to accounts (migration 0008), and the batch refuses to commit
//! unless every account it posts to had its balance row written. (On SQLite the foreign key
//! remains; the store-level test `a_command_whose_writes_fail_at_flush_fails_alone` covers it.)

use crate::common::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

crate::tests! {
    postgres: [
        a_transfer_posting_to_a_missing_account_fails_alone_on_postgres,
    ],
}

async fn a_transfer_posting_to_a_missing_account_fails_alone_on_postgres(backend: Backend) {
    let s = Server::start(backend);
    let ghost = s.add_merchant("ghost-shop");
    let ghost_terminal = ghost["terminal"].as_str().unwrap().to_string();
    // The merchant's fee account disappears behind the store's back (replica mode skips the
    // terminal's foreign key to it).
    let deleted = s.pg.as_ref().unwrap().sql(&format!(
        "SET session_replication_role = replica;
         DELETE FROM accounts WHERE id = (SELECT fee_account FROM terminals WHERE id = '{ghost_terminal}')
         RETURNING id"
    ));
    assert!(deleted.trim().starts_with("fee:"), "{deleted}");

    let ghost_token = s.token_of(&ghost).await;
    let mut requests = Vec::new();
    for n in 0..20 {
        let mut body = seed_like_body(&invoice(), json!(10));
        let token = if n == 10 {
            body["order"]["terminalId"] = json!(ghost_terminal);
            // The seed's saved receiver belongs to the test merchant: pay a card number.
            body["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD});
            ghost_token.clone()
        } else {
            s.token_for(&body["order"]).await
        };
        requests.push((token, body));
    }
    let before = s.balance("440563...5096").await;
    let results = join_all(requests.iter().map(|(t, b)| s.transfer(t, b))).await;
    for (n, (status, body)) in results.iter().enumerate() {
        if n == 10 {
            assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
            assert_eq!(body["code"], 100, "{body}");
        } else {
            assert_eq!(*status, StatusCode::OK, "transfer {n}: {body}");
        }
    }
    // Nineteen charges of 10 plus the minimum fee of 95; the ghost's moved nothing.
    assert_eq!(s.balance("440563...5096").await, before - 19 * 10_500);
    let ledger = s.sandbox_get("/sandbox/ledger").await;
    assert_eq!(ledger["orphan_postings"], 0, "{ledger}");
    s.assert_ledger_balanced().await;
}
