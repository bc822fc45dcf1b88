//! `aqsha fund` (AFT), `aqsha payout` (OCT), `aqsha transfer --to-phone … --iin …`,
//! `aqsha sandbox fund`, and `aqsha sandbox card issue --secure3d` with the transfer it
//! then waits for, run as the built binary against a real server.

use crate::common::cli::{cli, run};
use crate::common::*;
use crate::flows::settlement;
use crate::secure3d::{cardholder_answers, ENROLLED};
use reqwest::StatusCode;

crate::tests! {
    sqlite: [
        fund_payout_and_sandbox_fund_move_the_settlement_balance,
        transfer_to_a_phone_and_its_declines,
        an_issued_secure3d_card_makes_transfer_print_the_acs_form_and_exit_4,
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

/// The value printed after `name` on a line of `aqsha transfer`'s text output.
fn printed<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(name)).then(|| words.next()).flatten()
        })
        .unwrap_or_else(|| panic!("no {name} in {stdout}"))
}

async fn an_issued_secure3d_card_makes_transfer_print_the_acs_form_and_exit_4(backend: Backend) {
    let s = Server::start(backend);
    let issue = [
        "sandbox",
        "card",
        "issue",
        "--balance",
        "5000",
        "--cvc",
        "321",
    ];
    let mut enrolled = issue.to_vec();
    enrolled.push("--secure3d");
    let out = run(&mut cli(&s), &enrolled).await;
    assert!(
        out.ok().stdout.contains("enrolled in 3-D Secure"),
        "{out:?}"
    );
    let pan = out.stdout.split_whitespace().next().unwrap().to_string();
    let mask = format!("{}...{}", &pan[..6], &pan[pan.len() - 4..]);
    let plain = run(&mut cli(&s), &[&issue[..], &["--json"]].concat()).await;
    assert_eq!(plain.ok().json()["secure3d"], false, "{plain:?}");

    // From the enrolled card: nothing moves; the ACS form is printed and the exit code is 4.
    let inv = invoice();
    let transfer = |from: &str, cvc: &str, more: &[&str]| -> Vec<String> {
        let args = [
            "transfer", "--from", from, "--expiry", "12/30", "--cvc", cvc,
        ];
        let to = ["--to", MASTERCARD, "--amount", "100"];
        let back = ["--back-link", "https://shop.example/back"];
        [&args[..], &to, &back, more]
            .concat()
            .into_iter()
            .map(str::to_string)
            .collect()
    };
    let args = transfer(&pan, "321", &["--invoice", &inv]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&mut cli(&s), &args).await;
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stdout.starts_with("3-D SECURE  invoice"), "{out:?}");
    assert!(
        out.stderr.contains(&format!("aqsha status {inv} --wait")),
        "{out:?}"
    );
    assert!(!out.stdout.contains(&pan) && !out.stderr.contains(&pan));
    let acs = printed(&out.stdout, "ACS");
    assert_eq!(acs, s.path("/acs/"));
    let fields = ["MD", "PaReq", "TermUrl"].map(|n| (n, printed(&out.stdout, n)));
    let before = s.balance(&mask).await;
    let (status, location) = cardholder_answers(&s, acs, &fields, "123456").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location.starts_with("https://shop.example/back?reference="),
        "{location}"
    );
    let st = run(&mut cli(&s), &["status", &inv]).await;
    assert!(st.ok().stdout.starts_with("CHARGE"), "{st:?}");
    assert_eq!(before - s.balance(&mask).await, 10_000 + 9_500);

    // --json: the body as received, secure3D included; the seed's enrolled card does the same.
    let args = transfer(ENROLLED, "300", &["--json"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&mut cli(&s), &args).await;
    assert_eq!(out.code, 4, "{out:?}");
    let v = out.json();
    assert_eq!((&v["status"], &v["reference"]), (&"NEW".into(), &"".into()));
    assert_eq!(v["secure3D"]["action"], s.path("/acs/"));
    s.assert_ledger_balanced().await;
}
