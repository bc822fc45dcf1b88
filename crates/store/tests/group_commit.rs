//! The SQLite store's group commit, on a real file: many concurrent commands share commits,
//! and one failing command in a batch leaves the others intact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aqsha_core::card::Pan;
use aqsha_core::sandbox::{self, PreparedSeed};
use aqsha_core::store::{Store, TokenRecord};
use aqsha_core::transfer::{OrderInput, PanSide, SideInput, TransferCommand, TransferOutcome};
use aqsha_core::vault::Vault;
use std::sync::Arc;

const TERMINAL: &str = "40a348cb-68a3-45d5-9002-a4836d79c3b5";

/// A token's claims; the store sees only these and the token's hash.
fn claims(merchant: &str) -> TokenRecord {
    TokenRecord {
        id: aqsha_core::token::new_id(),
        merchant_id: merchant.into(),
        scope: "transfer".into(),
        invoice_id: None,
        amount: None,
        currency: None,
        terminal_id: Some(TERMINAL.into()),
        post_link: None,
        failure_post_link: None,
        secret_hash: None,
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
    }
}

fn pan_side(vault: &Vault, pan: &str, cvc: &str) -> SideInput {
    let pan = Pan::parse(pan).unwrap();
    let fingerprint = vault.fingerprint(&pan);
    SideInput::Pan(PanSide {
        cvc_check: Some(
            vault.cvc_check_value(&fingerprint, &aqsha_core::card::Cvc::parse(cvc).unwrap()),
        ),
        expiry: aqsha_core::card::Expiry::parse("01", "25"),
        mask: pan.mask(),
        brand: pan.brand(),
        luhn_ok: pan.luhn_ok(),
        sealed: None,
        name: None,
        save: false,
        fingerprint,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_share_commits_and_a_failure_stays_in_its_savepoint() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(aqsha_store::open_sqlite(&dir.path().join("aqsha.db")).unwrap());
    let vault = Arc::new(Vault::new([9u8; 32]));
    let seed = sandbox::prepare(&vault).unwrap();
    let merchant_id = seed.merchants[0].record.id.clone();
    let duplicate = PreparedSeed {
        merchants: seed.merchants.clone(),
        ..Default::default()
    };
    assert!(store.install(seed).await.unwrap());

    let (jobs_before, commits_before) = store.writer_stats();
    let mut tasks = Vec::new();
    for n in 0..200 {
        let (store, vault) = (store.clone(), vault.clone());
        let claims = claims(&merchant_id);
        tasks.push(tokio::spawn(async move {
            let cmd = TransferCommand {
                token: claims,
                request_digest: format!("digest-{n}"),
                now: chrono::Utc::now(),
                order: OrderInput {
                    amount: "10".into(),
                    currency: "KZT".into(),
                    invoice_id: format!("{:09}", 100_000 + n),
                    terminal_id: Some(TERMINAL.into()),
                    ..Default::default()
                },
                sender: pan_side(&vault, "4405639704015096", "815"),
                receiver: pan_side(&vault, "5522042705066736", "525"),
            };
            store.transfer(cmd).await
        }));
    }
    // A command that fails (the merchant exists already) lands among the transfers.
    let failing = {
        let store = store.clone();
        tokio::spawn(async move { store.install(duplicate).await })
    };
    let mut charged = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            TransferOutcome::Done { charged: true, .. } => charged += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        failing.await.unwrap().is_err(),
        "the duplicate merchant is refused"
    );
    assert_eq!(charged, 200);
    let (jobs, commits) = store.writer_stats();
    let (jobs, commits) = (jobs - jobs_before, commits - commits_before);
    assert_eq!(jobs, 201);
    assert!(
        commits < jobs,
        "commands were grouped: {jobs} jobs in {commits} commits"
    );
    let report = store.ledger_report().await.unwrap();
    assert!(report.balanced, "{report:?}");
    let cards = store.sandbox_cards().await.unwrap();
    let visa = cards.iter().find(|c| c.mask == "440563...5096").unwrap();
    // 200 transfers of 10 + 95 fee each.
    assert_eq!(visa.balance.minor(), 100_000_000 - 200 * 10_500);
}
