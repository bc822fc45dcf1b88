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
