//! The ledger report on a real SQLite file: it finds an account whose balance no longer matches
//! its postings, an operation whose postings do not sum to zero, and a posting to an account
//! that does not exist.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aqsha_core::seed;
use aqsha_core::store::Store;
use aqsha_core::vault::Vault;

#[tokio::test]
async fn the_report_finds_drifted_accounts_and_unbalanced_operations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aqsha.db");
    let store = aqsha_store::open_sqlite(&path).unwrap();
    let vault = Vault::new([5u8; 32]);
    assert!(store.install(seed::prepare(&vault).unwrap()).await.unwrap());
    let report = store.ledger_report().await.unwrap();
    assert!(report.balanced, "{report:?}");
    assert_eq!(report.drifted_accounts, 0);
    assert!(report.postings > 0);
    // The seed funds its cards from the network's funding accounts: per currency, the cards'
    // total is the negative of the funding accounts', and nothing sits in the fee accounts.
    let total = |kind: &str, currency: &str| {
        report
            .totals
            .iter()
            .find(|t| t.kind == kind && t.currency == currency)
            .map_or(0, |t| t.balance_minor)
    };
    assert!(total("card", "KZT") > 0, "{report:?}");
    assert_eq!(total("card", "KZT"), -total("funding", "KZT"), "{report:?}");
    assert_eq!(total("fee", "KZT"), 0, "{report:?}");
    let sum: i64 = report.totals.iter().map(|t| t.balance_minor).sum();
    assert_eq!(sum, report.total_minor);

    // Someone changes a balance behind the ledger's back, and adds a one-sided posting.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "UPDATE accounts SET balance = balance + 1 WHERE id = (SELECT MIN(id) FROM accounts WHERE kind = 'card')",
        [],
    )
    .unwrap();
    raw.execute(
        "INSERT INTO postings (operation_id, account_id, amount) SELECT 'forged', MAX(id), 7 FROM accounts WHERE kind = 'card'",
        [],
    )
    .unwrap();
    let report = store.ledger_report().await.unwrap();
    assert!(!report.balanced, "{report:?}");
    assert_eq!(report.unbalanced_operations, 1, "{report:?}");
    assert_eq!(report.drifted_accounts, 2, "{report:?}");
    assert_eq!(report.orphan_postings, 0, "{report:?}");

    // And a balanced pair of postings, one of them to an account that does not exist.
    raw.execute_batch(
        "PRAGMA foreign_keys = OFF;
         INSERT INTO postings (operation_id, account_id, amount) VALUES ('ghostly', 'fee:ghost', 5);
         INSERT INTO postings (operation_id, account_id, amount)
             SELECT 'ghostly', MAX(id), -5 FROM accounts WHERE kind = 'card';",
    )
    .unwrap();
    let report = store.ledger_report().await.unwrap();
    assert_eq!(report.orphan_postings, 1, "{report:?}");
    assert_eq!(report.unbalanced_operations, 1, "{report:?}");
}
