//! `aqsha batch FILE.csv`: results, re-runs, and a 1,000-transfer batch killed midway (with
//! transfers charged but unanswered at that moment) and resumed, with no invoice charged twice.

use crate::common::cli::{cli, run, Mode, Proxy, Running};
use crate::common::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;

crate::tests! {
    sqlite: [
        batch_reports_every_row_and_a_rerun_sends_nothing,
        a_thousand_transfers_interrupted_and_resumed_charge_each_invoice_once,
        ctrl_c_stops_starting_rows_finishes_those_in_flight_and_writes_results,
    ],
}

fn read_results(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn journal_count(path: &Path, event: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("\"event\":\"{event}\"")))
        .count()
}

async fn batch_reports_every_row_and_a_rerun_sends_nothing(backend: Backend) {
    let s = Server::start(backend);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payouts.csv");
    let explicit = invoice();
    // An invoice already charged, for another amount, by a transfer outside the batch.
    let taken = invoice();
    let mut args = vec![
        "transfer",
        "--invoice",
        &taken,
        "--amount",
        "77",
        "--to",
        MASTERCARD,
    ];
    args.extend(["--from", VISA, "--expiry", "01/25", "--cvc", "815"]);
    run(&mut cli(&s), &args).await.ok();
    // Rows: card -> saved card (explicit invoice, saving the sender), card -> card, a wrong
    // CVC, a bad amount, a saved card as sender, a duplicate of the explicit invoice, and the
    // invoice taken above.
    std::fs::write(
        &file,
        format!(
            "invoice,amount,currency,from,expiry,cvc,name,to,save,account_id,description\n\
             {explicit},100,KZT,{VISA},01/25,815,Arman Ali,{SAVED_RECEIVER},true,acct-batch,first\n\
             ,12.22,KZT,{MASTERCARD},01/25,525,,{VISA},,,\n\
             ,100,KZT,{MASTERCARD},01/25,999,,{VISA},,,\n\
             ,1.234,KZT,{MASTERCARD},01/25,525,,{VISA},,,\n\
             ,50,KZT,{SAVED_RECEIVER},,,,{MASTERCARD},,testUser1,\n\
             {explicit},100,KZT,{VISA},01/25,815,,{MASTERCARD},,,\n\
             {taken},100,KZT,{MASTERCARD},01/25,525,,{VISA},,,\n"
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = run(&mut cli(&s), &["batch", f, "--json"]).await;
    assert_eq!(
        out.code, 1,
        "declines and invalid rows make it fail: {out:?}"
    );
    let summary = out.json();
    assert_eq!(summary["rows"], 7);
    assert_eq!(summary["states"]["CHARGE"], 3, "{summary}");
    assert_eq!(summary["states"]["DECLINED"], 1);
    assert_eq!(summary["states"]["INVALID"], 2);
    assert_eq!(summary["states"]["CONFLICT"], 1);
    assert_eq!(summary["alreadyDone"], 0);
    let results_path = dir.path().join("payouts.results.csv");
    assert_eq!(summary["results"], results_path.to_str().unwrap());
    let rows = read_results(&results_path);
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0]["invoice"], explicit);
    assert_eq!(rows[0]["state"], "CHARGE");
    assert_eq!(rows[0]["fee"], "95");
    assert_eq!(rows[0]["from"], "440563...5096");
    assert_eq!(rows[1]["state"], "CHARGE");
    assert_eq!(rows[1]["amount"], "12.22");
    assert_eq!(rows[2]["state"], "DECLINED");
    assert_eq!(rows[2]["code"], "466");
    assert_eq!(rows[2]["meaning"], "Declined by issuer");
    assert_eq!(rows[2]["final"], "true");
    assert_eq!(rows[3]["state"], "INVALID");
    assert!(rows[3]["message"].contains("decimal places"));
    assert_eq!(rows[4]["state"], "CHARGE");
    assert_eq!(rows[4]["from"], SAVED_RECEIVER);
    assert_eq!(rows[5]["state"], "INVALID");
    assert!(rows[5]["message"].contains("earlier row"));
    assert_eq!(rows[6]["state"], "CONFLICT");
    assert!(
        rows[6]["message"].contains("already charged for another transfer (77 KZT)"),
        "{:?}",
        rows[6]
    );
    // Generated invoices are distinct, with distinct last six digits.
    let tails: HashSet<String> = rows
        .iter()
        .filter(|r| r["state"] != "INVALID")
        .map(|r| r["invoice"][r["invoice"].len() - 6..].to_string())
        .collect();
    assert_eq!(tails.len(), 5);
    // The journal never holds a card number or a CVC.
    let journal = std::fs::read_to_string(dir.path().join("payouts.csv.journal")).unwrap();
    assert!(!journal.contains(VISA) && !journal.contains(MASTERCARD));
    assert!(!journal.contains("\"815\"") && !journal.contains("cvc"));

    // A re-run finds everything settled and moves no money.
    let visa = s.balance("440563...5096").await;
    let mc = s.balance("552204...6736").await;
    let again = run(&mut cli(&s), &["batch", f, "--json"]).await;
    let summary = again.json();
    // Settled rows are skipped; the invalid ones are read again (and are still invalid).
    assert_eq!(summary["alreadyDone"], 5, "{summary}");
    assert_eq!(summary["states"]["INVALID"], 2, "{summary}");
    assert_eq!(read_results(&results_path), rows);
    assert_eq!(s.balance("440563...5096").await, visa);
    assert_eq!(s.balance("552204...6736").await, mc);

    // A journal whose last entry a crash cut short is repaired, and a run after that
    // reads it fine.
    let jpath = dir.path().join("payouts.csv.journal");
    let mut j = std::fs::read(&jpath).unwrap();
    j.extend_from_slice(b"{\"row\":2,\"invoice\":\"12");
    std::fs::write(&jpath, j).unwrap();
    for _ in 0..2 {
        let out = run(&mut cli(&s), &["batch", f, "--json"]).await;
        assert_eq!(out.json()["alreadyDone"], 5, "{out:?}");
    }

    // Fixing an invalid row is fine: it never sent anything, and now it runs.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen(",1.234,", ",1.23,", 1)).unwrap();
    let fixed = run(&mut cli(&s), &["batch", f, "--json"]).await;
    let summary = fixed.json();
    assert_eq!(summary["alreadyDone"], 5, "{summary}");
    assert_eq!(summary["states"]["CHARGE"], 4);
    assert_eq!(read_results(&results_path)[3]["amount"], "1.23");
    assert_eq!(mc - s.balance("552204...6736").await, 123 + 9_500);

    // A changed file is refused rather than guessed at.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("12.22", "13.22", 1)).unwrap();
    let out = run(&mut cli(&s), &["batch", f]).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("does not match its journal"), "{out:?}");
}

async fn a_thousand_transfers_interrupted_and_resumed_charge_each_invoice_once(backend: Backend) {
    const ROWS: usize = 1_000;
    const BEFORE_KILL: usize = 400;
    const CONCURRENCY: usize = 8;
    let s = Server::start(backend);
    // Fresh cards: the sender can pay exactly 1,000 x (100 + 95 fee) plus a little.
    let sender = s.issue_card("12/30", "123", "200000", false).await;
    let receiver = s.issue_card("12/30", "321", "0", false).await;
    let mask = |pan: &str| format!("{}...{}", &pan[..6], &pan[pan.len() - 4..]);
    let sender_before = s.balance(&mask(&sender)).await;
    assert_eq!(sender_before, 20_000_000);

    // Half the rows name their invoice, half leave it to the tool.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.csv");
    let journal = dir.path().join("big.journal");
    let prefix = &invoice()[..6];
    let mut csv = String::from("invoice,amount,from,to\n");
    for i in 0..ROWS {
        let inv = if i % 2 == 0 {
            format!("{prefix}{i:06}")
        } else {
            String::new()
        };
        csv.push_str(&format!("{inv},100,{sender},{receiver}\n"));
    }
    std::fs::write(&file, csv).unwrap();
    let f = file.to_str().unwrap();
    let j = journal.to_str().unwrap();
    let conc = CONCURRENCY.to_string();
    let common_args = [
        "batch",
        f,
        "--journal",
        j,
        "--expiry",
        "12/30",
        "--cvc",
        "123",
        "--concurrency",
        &conc,
        "--json",
    ];

    // First run through a proxy that answers the first 400 transfers and then forwards the
    // next ones to the server (which charges them) but never answers. The batch stalls with
    // CONCURRENCY transfers charged and unanswered, and is killed there.
    let proxy = Proxy::start(&s.url, Mode::HangAfter(BEFORE_KILL)).await;
    let mut c = cli(&s);
    c.env_remove("AQSHA_URL")
        .env("AQSHA_TOKEN_URL", format!("{}/oauth2/token", s.url))
        .env("AQSHA_API_URL", &proxy.url);
    let mut first = Running::spawn(c, &common_args);
    proxy
        .wait_for_transfers(BEFORE_KILL + CONCURRENCY, 120)
        .await;
    // Every stalled transfer reached the server: its charge is committed before the proxy
    // starts to withhold the answer. Wait until the server shows all of them.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let moved = sender_before - s.balance(&mask(&sender)).await;
        if moved == ((BEFORE_KILL + CONCURRENCY) as i64) * 19_500 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "moved {moved}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    first.child.kill().await.unwrap();
    assert_eq!(proxy.answered(), BEFORE_KILL);
    assert_eq!(journal_count(&journal, "result"), BEFORE_KILL);
    assert_eq!(
        journal_count(&journal, "planned"),
        BEFORE_KILL + CONCURRENCY
    );
    assert!(!dir.path().join("big.results.csv").exists());
    drop(proxy);

    // Resume against the server directly.
    let out = run(&mut cli(&s), &common_args).await;
    let summary = out.ok().json();
    assert_eq!(summary["rows"], ROWS);
    assert_eq!(summary["states"]["CHARGE"], ROWS, "{summary}");
    assert_eq!(summary["alreadyDone"], BEFORE_KILL);
    assert_eq!(
        summary["resolvedByStatus"], CONCURRENCY,
        "the charged-but-unanswered transfers were found by status, not sent again"
    );
    assert_eq!(summary["interrupted"], false);

    // Every row charged once, each with its own invoice.
    let rows = read_results(&dir.path().join("big.results.csv"));
    assert_eq!(rows.len(), ROWS);
    let invoices: HashSet<&str> = rows.iter().map(|r| r["invoice"].as_str()).collect();
    assert_eq!(invoices.len(), ROWS);
    let ops: HashSet<&str> = rows.iter().map(|r| r["operation_id"].as_str()).collect();
    assert_eq!(ops.len(), ROWS, "one operation per row");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["state"], "CHARGE", "row {i}: {r:?}");
        if i % 2 == 0 {
            assert_eq!(r["invoice"], format!("{prefix}{i:06}"));
        }
    }
    // The money says the same: exactly 1,000 charges of 100 + 95.
    assert_eq!(
        sender_before - s.balance(&mask(&sender)).await,
        (ROWS as i64) * 19_500
    );
    assert_eq!(s.balance(&mask(&receiver)).await, (ROWS as i64) * 10_000);
    s.assert_ledger_balanced().await;

    // A third run changes nothing.
    let again = run(&mut cli(&s), &common_args).await;
    assert_eq!(again.ok().json()["alreadyDone"], ROWS);
    assert_eq!(s.balance(&mask(&receiver)).await, (ROWS as i64) * 10_000);
}

async fn ctrl_c_stops_starting_rows_finishes_those_in_flight_and_writes_results(backend: Backend) {
    let s = Server::start(backend);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.csv");
    let mut csv = String::from("amount,from,expiry,cvc,to\n");
    for _ in 0..40 {
        csv.push_str(&format!("100,{MASTERCARD},01/25,525,{VISA}\n"));
    }
    std::fs::write(&file, csv).unwrap();
    let f = file.to_str().unwrap();
    let mc_before = s.balance("552204...6736").await;

    // 10 transfers are answered; the next 3 are charged and their answers held back.
    let proxy = Proxy::start(&s.url, Mode::HangAfter(10)).await;
    let mut c = cli(&s);
    c.env_remove("AQSHA_URL")
        .env("AQSHA_TOKEN_URL", format!("{}/oauth2/token", s.url))
        .env("AQSHA_API_URL", &proxy.url);
    let mut batch = Running::spawn(c, &["batch", f, "--concurrency", "3"]);
    proxy.wait_for_transfers(13, 60).await;
    let pid = batch.child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    batch
        .stderr_until("interrupted: no new transfer starts", 30)
        .await;
    // Now the three in flight get their answers; nothing new starts.
    proxy.release();
    assert_eq!(batch.wait(60).await, 130);
    let out = batch.rest(30).await;
    assert!(out.contains("40 rows: charged 13"), "{out}");
    assert!(out.contains("NOT_RUN 27"), "{out}");
    assert!(
        out.contains("interrupted: run the same command again"),
        "{out}"
    );
    assert_eq!(proxy.transfers(), 13, "no row started after the interrupt");
    let rows = read_results(&dir.path().join("small.results.csv"));
    assert_eq!(rows.iter().filter(|r| r["state"] == "CHARGE").count(), 13);
    assert_eq!(rows.iter().filter(|r| r["state"] == "NOT_RUN").count(), 27);
    drop(proxy);

    // Finishing the batch: 27 more, 40 in all, each once.
    let out = run(&mut cli(&s), &["batch", f, "--json"]).await;
    let summary = out.ok().json();
    assert_eq!(summary["states"]["CHARGE"], 40, "{summary}");
    assert_eq!(summary["alreadyDone"], 13);
    assert_eq!(mc_before - s.balance("552204...6736").await, 40 * 19_500);
}
