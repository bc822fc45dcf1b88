//! `aqsha fund` (AFT), `aqsha payout` (OCT), `aqsha transfer --to-phone … --iin …` and
//! `aqsha sandbox fund`, run as the built binary against a real server.

use crate::common::cli::{cli, run};
use crate::common::*;
use crate::flows::settlement;

crate::tests! {
    sqlite: [
        fund_payout_and_sandbox_fund_move_the_settlement_balance,
        transfer_to_a_phone_and_its_declines,
    ],
}

const SEND_VISA: &[&str] = &[
    "--from",
    "4405639704015096",
    "--expiry",
    "01/25",
    "--cvc",
    "815",
];

async fn fund_payout_and_sandbox_fund_move_the_settlement_balance(backend: Backend) {
    let s = Server::start(backend);
    let mut args = vec!["fund", "--json", "--amount", "1000"];
    args.extend(SEND_VISA);
    let v = run(&mut cli(&s), &args).await.ok().json();
    assert_eq!(v["status"], "CHARGE");
    assert_eq!(v["senderCardPAN"], "440563...5096");
    assert_eq!(v["receiverCardPAN"], "");
    assert_eq!(settlement(&s).await, 100_000);

    let args = ["payout", "--json", "--amount", "500", "--to", MASTERCARD];
    let v = run(&mut cli(&s), &args).await.ok().json();
    assert_eq!(v["receiverCardPAN"], "552204...6736");
    assert_eq!(settlement(&s).await, 40_500);

    // Past the balance: declined with 484, final, exit 1.
    let out = run(
        &mut cli(&s),
        &["payout", "--amount", "1000", "--to", MASTERCARD],
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("484"), "{out:?}");

    let out = run(
        &mut cli(&s),
        &["sandbox", "fund", "--json", "--amount", "600"],
    )
    .await;
    let v = out.ok().json();
    assert_eq!(v["balance"], 1005);
    assert_eq!(settlement(&s).await, 100_500);

    // A payout names no sender and funding no receiver; nothing is sent.
    let mut args = vec!["payout", "--amount", "10", "--to", MASTERCARD];
    args.extend(SEND_VISA);
    let out = run(&mut cli(&s), &args).await;
    assert_ne!(out.code, 0, "{out:?}");
    let out = run(
        &mut cli(&s),
        &["fund", "--amount", "10", "--to", MASTERCARD],
    )
    .await;
    assert_ne!(out.code, 0, "{out:?}");
    assert_eq!(settlement(&s).await, 100_500);
    s.assert_ledger_balanced().await;
}

async fn transfer_to_a_phone_and_its_declines(backend: Backend) {
    let s = Server::start(backend);
    let mut args = vec!["transfer", "--json", "--amount", "100"];
    args.extend(SEND_VISA);
    let mut ok = args.clone();
    ok.extend(["--to-phone", "77010000002", "--iin", "900101300002"]);
    let v = run(&mut cli(&s), &ok).await.ok().json();
    assert_eq!(v["receiverCardPAN"], "552204...6736");
    assert_eq!(v["receiverTransferType"], "TYPEPHONE");

    let mut wrong = args.clone();
    wrong.extend(["--to-phone", "77010000002", "--iin", "900101300001"]);
    let out = run(&mut cli(&s), &wrong).await;
    assert_eq!(out.code, 1, "{out:?}");
    // With --json the error is the JSON on stdout.
    assert_eq!(out.json()["error"]["code"], 2357, "{out:?}");
    let shown = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !shown.contains("900101300001") && !shown.contains("77010000002"),
        "{out:?}"
    );

    // A malformed number is refused before anything is sent; --iin is required with it.
    let mut bad = args.clone();
    bad.extend(["--to-phone", "87010000002", "--iin", "900101300002"]);
    assert_ne!(run(&mut cli(&s), &bad).await.code, 0);
    let mut no_iin = args.clone();
    no_iin.extend(["--to-phone", "77010000002"]);
    assert_eq!(run(&mut cli(&s), &no_iin).await.code, 2);
}
