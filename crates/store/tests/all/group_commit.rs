//! The SQLite store's group commit, on a real file: many concurrent commands share commits,
//! and one failing command in a batch leaves the others intact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aqsha_core::card::Pan;
use aqsha_core::provision::{self, NewRecords};
use aqsha_core::seed;
use aqsha_core::store::Store;
use aqsha_core::token::TokenClaims;
use aqsha_core::transfer::{
    OrderInput, PanSide, Recorded, SideInput, TransferCommand, TransferOutcome,
};
use aqsha_core::vault::Vault;
use std::sync::Arc;

const TERMINAL: &str = "40a348cb-68a3-45d5-9002-a4836d79c3b5";

/// A token's claims; the store sees only these and the token's hash.
fn claims(merchant: &str) -> TokenClaims {
    TokenClaims {
        account_id: None,
        login: None,
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
    let seed = seed::prepare(&vault).unwrap();
    let merchant_id = seed.merchants[0].record.id.clone();
    let duplicate = NewRecords {
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
                rules: Default::default(),
                attempt: None,
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
            TransferOutcome::Done {
                kind: Recorded::Charged,
                ..
            } => charged += 1,
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
    let cards = store.sandbox_cards("").await.unwrap();
    let visa = cards.iter().find(|c| c.mask == "440563...5096").unwrap();
    // 200 transfers of 10 + 95 fee each.
    assert_eq!(visa.balance.minor(), 100_000_000 - 200 * 10_500);
}

fn command(vault: &Vault, token: TokenClaims, invoice: String, digest: String) -> TransferCommand {
    TransferCommand {
        token,
        request_digest: digest,
        now: chrono::Utc::now(),
        order: OrderInput {
            amount: "10".into(),
            currency: "KZT".into(),
            invoice_id: invoice,
            terminal_id: Some(TERMINAL.into()),
            ..Default::default()
        },
        sender: pan_side(vault, "4405639704015096", "815"),
        receiver: pan_side(vault, "5522042705066736", "525"),
        rules: Default::default(),
        attempt: None,
    }
}

/// Commands in one batch see each other's writes before any is sent to the database: of
/// invoices sharing their last six digits, one is charged; of requests sharing one token, one
/// spends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_of_one_batch_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(aqsha_store::open_sqlite(&dir.path().join("aqsha.db")).unwrap());
    let vault = Arc::new(Vault::new([9u8; 32]));
    let seed = seed::prepare(&vault).unwrap();
    let merchant_id = seed.merchants[0].record.id.clone();
    assert!(store.install(seed).await.unwrap());

    // A slow command first (installing 3,000 cards), so that everything sent while it runs
    // waits in the queue and then goes in one batch.
    let terms = provision::CardTerms {
        expiry: aqsha_core::card::Expiry::parse("12", "39").unwrap(),
        locked: false,
        enforce_expiry: true,
        balance: aqsha_core::money::Money::ZERO,
        currency: aqsha_core::money::Currency::Kzt,
        scenario: Default::default(),
        secure3d: false,
    };
    let cvc = aqsha_core::card::Cvc::parse("123").unwrap();
    let cards = (0..3000)
        .map(|n| {
            let pan = Pan::parse(&format!("4000{n:012}")).unwrap();
            provision::network_card(&vault, vault.fingerprint(&pan), None, &pan, &cvc, terms)
        })
        .collect();
    let slow = {
        let store = store.clone();
        let seed = NewRecords {
            cards,
            ..Default::default()
        };
        tokio::spawn(async move { store.install(seed).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let shared = claims(&merchant_id);
    let (jobs_before, commits_before) = store.writer_stats();
    let mut tails = Vec::new();
    let mut tokens = Vec::new();
    for n in 0..60 {
        let cmd = command(
            &vault,
            claims(&merchant_id),
            format!("{:04}777777", 1000 + n),
            format!("tail-{n}"),
        );
        let s = store.clone();
        tails.push(tokio::spawn(async move { s.transfer(cmd).await }));
        let cmd = command(
            &vault,
            shared.clone(),
            format!("{:04}555{:03}", 2000 + n, n),
            format!("token-{n}"),
        );
        let s = store.clone();
        tokens.push(tokio::spawn(async move { s.transfer(cmd).await }));
    }
    let mut tail_charges = 0;
    for t in tails {
        if let TransferOutcome::Done {
            kind: Recorded::Charged,
            ..
        } = t.await.unwrap().unwrap()
        {
            tail_charges += 1;
        }
    }
    let (mut spent, mut refused) = (0, 0);
    for t in tokens {
        match t.await.unwrap().unwrap() {
            TransferOutcome::Done {
                kind: Recorded::Charged,
                ..
            } => spent += 1,
            TransferOutcome::Refused(_) => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(slow.await.unwrap().unwrap());
    assert_eq!(tail_charges, 1, "one invoice per tail is charged");
    assert_eq!((spent, refused), (1, 59), "the token is spent once");
    let (jobs, commits) = store.writer_stats();
    let (jobs, commits) = (jobs - jobs_before, commits - commits_before);
    assert!(
        commits * 4 < jobs,
        "commands shared batches: {jobs} jobs in {commits} commits"
    );
    let report = store.ledger_report().await.unwrap();
    assert!(report.balanced, "{report:?}");
}

/// A command whose writes fail only when the batch sends them (here: its terminal's fee
/// account was deleted behind the store's back) fails alone; the batch runs again with each
/// command flushed in its own savepoint, and the others commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_whose_writes_fail_at_flush_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aqsha.db");
    let store = Arc::new(aqsha_store::open_sqlite(&path).unwrap());
    let vault = Arc::new(Vault::new([9u8; 32]));
    let seed = seed::prepare(&vault).unwrap();
    let merchant_id = seed.merchants[0].record.id.clone();
    let mut broken = seed.merchants[0].terminals[0].clone();
    broken.id = "broken-terminal".into();
    broken.fee_account = "fee:ghost".into();
    // Terminal numbers are unique: the copy takes the next free one.
    broken.number = String::new();
    assert!(store.install(seed).await.unwrap());
    assert!(store
        .install(NewRecords {
            terminals: vec![broken.clone()],
            ..Default::default()
        })
        .await
        .unwrap());
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch("PRAGMA foreign_keys = OFF; DELETE FROM accounts WHERE id = 'fee:ghost';")
            .unwrap();
    }

    let mut tasks = Vec::new();
    for n in 0..40 {
        let mut token = claims(&merchant_id);
        let mut cmd = command(
            &vault,
            token.clone(),
            format!("{:09}", 300_000 + n),
            format!("d{n}"),
        );
        if n == 20 {
            token.terminal_id = Some(broken.id.clone());
            cmd.token = token;
            cmd.order.terminal_id = Some(broken.id.clone());
        }
        let s = store.clone();
        tasks.push(tokio::spawn(async move { s.transfer(cmd).await }));
    }
    let mut charged = 0;
    for (n, t) in tasks.into_iter().enumerate() {
        match (n, t.await.unwrap()) {
            // The postings name an account that is gone: the foreign key refuses them.
            (20, Err(e)) => assert!(e.to_string().contains("FOREIGN KEY"), "{e}"),
            (20, other) => panic!("the broken terminal's transfer must fail: {other:?}"),
            (
                _,
                Ok(TransferOutcome::Done {
                    kind: Recorded::Charged,
                    ..
                }),
            ) => charged += 1,
            (_, other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(charged, 39);
    let cards = store.sandbox_cards("").await.unwrap();
    let visa = cards.iter().find(|c| c.mask == "440563...5096").unwrap();
    assert_eq!(visa.balance.minor(), 100_000_000 - 39 * 10_500);
}
