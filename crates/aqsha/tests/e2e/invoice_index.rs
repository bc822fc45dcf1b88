//! The one-charge-per-invoice rule holds in the database itself, not only in the transfer
//! code: one unique index (`operations_invoice_key`, migration sqlite 0007 / postgres 0009)
//! keys a charge as (invoice, merchant, '') and any other operation as (invoice, merchant, its
//! id). So a second charge row for an invoice is refused, however it gets there, while failed
//! attempts may sit beside the charge; and the status query, which reads through the same
//! index, still answers with the charge.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;

crate::tests! {
    both: [
        the_database_refuses_a_second_charge_of_an_invoice,
    ],
}

/// Copies the invoice's operation that has `status` into a new row with id `new_id`, as a
/// person at a database console could; `change` may alter the copy before it is inserted.
fn copy_operation(invoice: &str, status: &str, new_id: &str, change: &str) -> String {
    format!(
        "CREATE TEMP TABLE copied AS SELECT * FROM operations
             WHERE invoice_id = '{invoice}' AND status = '{status}';
         UPDATE copied SET id = '{new_id}', reference = ''{change};
         INSERT INTO operations SELECT * FROM copied;
         DROP TABLE copied;"
    )
}

async fn the_database_refuses_a_second_charge_of_an_invoice(backend: Backend) {
    let s = Server::start(backend);
    // Runs SQL behind the server's back, on whichever database it uses.
    let raw = |sql: &str| -> Result<(), String> {
        match &s.pg {
            Some(pg) => pg.try_sql(sql).map(|_| ()),
            None => {
                let db = rusqlite::Connection::open(s.data_dir().join("aqsha.db")).unwrap();
                db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                db.execute_batch(&format!("BEGIN IMMEDIATE; {sql} COMMIT;"))
                    .map_err(|e| e.to_string())
            }
        }
    };

    // One invoice: a declined attempt (wrong CVC), then its charge.
    let inv = invoice();
    let mut declined = seed_like_body(&inv, json!(100));
    declined["card"]["sender"]["cvc"] = json!("816");
    let token = s.token_for(&declined["order"]).await;
    let (status, r) = s.transfer(&token, &declined).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["code"], 466, "{r}");
    let body = seed_like_body(&inv, json!(100));
    let token = s.token_for(&body["order"]).await;
    let (status, r) = s.transfer(&token, &body).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "CHARGE", "{r}");

    // A second charge row is refused by the index...
    let refused = raw(&copy_operation(&inv, "CHARGE", "forged-charge", "")).unwrap_err();
    assert!(
        refused.contains("operations_invoice_key") || refused.contains("UNIQUE constraint"),
        "{refused}"
    );
    // ...while more failed rows for the invoice, including a charge's copy marked failed, are
    // not.
    raw(&copy_operation(&inv, "FAILED", "another-failure", "")).unwrap();
    raw(&copy_operation(
        &inv,
        "CHARGE",
        "failed-copy",
        ", status = 'FAILED'",
    ))
    .unwrap();
    // The same invoice number charged by another merchant is another key.
    raw(&copy_operation(
        &inv,
        "CHARGE",
        "other-merchant",
        ", merchant_id = 'someone-else'",
    ))
    .unwrap();

    // Among one charge and three failures, the status query answers with the charge.
    let status_token = s.token(&[("terminal", TERMINAL_2)]).await;
    let (status, st) = s
        .get_json(
            &format!("/check-status/p2p/transaction/{inv}"),
            &status_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{st}");
    assert_eq!(st["transaction"]["statusName"], "CHARGE", "{st}");
    assert_eq!(st["transaction"]["id"], r["id"], "{st}");
}
