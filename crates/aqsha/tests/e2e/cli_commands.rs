//! The `aqsha` client subcommands, run as the built binary against a real server: `token`,
//! `transfer`, `status`, `cards list|deactivate`, connection settings from flags, environment
//! and a profile file, error output and exit codes.

use crate::common::cli::{bare_cli, cli, run, Mode, Proxy};
use crate::common::*;

crate::tests! {
    sqlite: [
        token_prints_service_and_bound_transfer_tokens,
        transfer_generates_an_invoice_and_status_reports_it_on_both_paths,
        declines_show_code_meaning_finality_and_exit_non_zero,
        unknown_outcome_is_resolved_by_status_not_by_resending,
        cards_list_and_deactivate,
        settings_come_from_a_profile_file_env_and_flags,
    ],
}

const SEND_VISA: &[&str] = &["--from", VISA, "--expiry", "01/25", "--cvc", "815"];

/// `transfer FLAG` of 100 KZT on invoice `inv` from the seed's VISA to its saved card.
fn visa_to_saved<'a>(flag: &'a str, inv: &'a str) -> Vec<&'a str> {
    let mut args = vec!["transfer", flag, "--invoice", inv, "--to", SAVED_RECEIVER];
    args.extend(SEND_VISA);
    args.extend(["--amount", "100"]);
    args
}

async fn token_prints_service_and_bound_transfer_tokens(backend: Backend) {
    let s = Server::start(backend);
    let out = run(&mut cli(&s), &["token"]).await;
    out.ok();
    assert!(out.stdout.contains("access_token  "), "{out:?}");
    assert!(out.stdout.contains(
        "scope         webapi usermanagement email_send verification statement statistics payment"
    ));
    assert!(out.stdout.contains("expires_in    7200 s"));

    let inv = invoice();
    let out = run(
        &mut cli(&s),
        &[
            "token",
            "--json",
            "--invoice",
            &inv,
            "--amount",
            "100",
            "--currency",
            "KZT",
        ],
    )
    .await;
    let v = out.ok().json();
    assert_eq!(v["scope"], "transfer");
    assert_eq!(v["expires_in"], "7200");
    assert_eq!(v["token_type"], "Bearer");
    // The token really is bound: it pays for exactly this invoice.
    let mut body = seed_like_body(&inv, serde_json::json!(100));
    body["order"]["terminalId"] = serde_json::json!(TERMINAL);
    let (status, _) = s.transfer(v["access_token"].as_str().unwrap(), &body).await;
    assert_eq!(status, reqwest::StatusCode::OK);
}

async fn transfer_generates_an_invoice_and_status_reports_it_on_both_paths(backend: Backend) {
    let s = Server::start(backend);
    let before = s.balance(VISA_MASK).await;
    let mut args = vec!["transfer", "--json"];
    args.extend(SEND_VISA);
    args.extend([
        "--to",
        SAVED_RECEIVER,
        "--amount",
        "100",
        "--save",
        "--account-id",
        "testUser1",
        "--name",
        "Arman Ali",
    ]);
    let out = run(&mut cli(&s), &args).await;
    let v = out.ok().json();
    assert_eq!(v["status"], "CHARGE");
    assert_eq!(v["amount"], 100);
    assert_eq!(v["fee"], 95);
    assert_eq!(v["senderCardPAN"], VISA_MASK);
    let invoice = v["orderID"].as_str().unwrap().to_string();
    assert_eq!(invoice.len(), 12, "generated invoice {invoice}");
    assert!(invoice.bytes().all(|b| b.is_ascii_digit()));
    let saved_visa = v["senderCardID"].as_str().unwrap().to_string();
    assert!(!saved_visa.is_empty());
    assert_eq!(before - s.balance(VISA_MASK).await, 19_500);

    // Status, JSON and text, on both paths.
    let st = run(&mut cli(&s), &["status", &invoice, "--json"]).await;
    let st = st.ok().json();
    assert_eq!(st["state"], "CHARGE");
    assert_eq!(st["final"], true);
    assert_eq!(st["status"]["resultCode"], "100");
    assert_eq!(st["status"]["transaction"]["id"], v["id"]);
    let text = run(&mut cli(&s), &["status", &invoice, "--payment-path"]).await;
    text.ok();
    assert!(
        text.stdout.starts_with(&format!(
            "CHARGE  invoice {invoice}  [resultCode 100 SUCCESS]"
        )),
        "{text:?}"
    );
    assert!(text.stdout.contains("amount        100 KZT  fee 95 KZT"));
    let missing = run(&mut cli(&s), &["status", "999999999999", "--json"]).await;
    assert_eq!(missing.ok().json()["state"], "NOT_FOUND");

    // Text output of a transfer between two saved cards, on /p2p/transfer, with an invoice
    // given explicitly.
    let inv2 = crate::common::invoice();
    let out = run(
        &mut cli(&s),
        &[
            "transfer",
            "--from",
            &saved_visa,
            "--to",
            SAVED_RECEIVER,
            "--amount",
            "12.22",
            "--invoice",
            &inv2,
            "--account-id",
            "testUser1",
            "--p2p-path",
        ],
    )
    .await;
    out.ok();
    assert!(
        out.stdout.starts_with(&format!(
            "CHARGE  invoice {inv2}  amount 12.22 KZT  fee 95 KZT"
        )),
        "{out:?}"
    );
    assert!(out.stdout.contains("TYPECARDID"));
    assert!(!out.stdout.contains(VISA), "no full card number in output");
    assert!(!out.stderr.contains(VISA), "no full card number in output");
}

async fn declines_show_code_meaning_finality_and_exit_non_zero(backend: Backend) {
    let s = Server::start(backend);
    let before = s.balance(VISA_MASK).await;
    let out = run(
        &mut cli(&s),
        &[
            "transfer", "--from", VISA, "--expiry", "01/25", "--cvc", "111", "--to", MASTERCARD,
            "--amount", "100",
        ],
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("error: declined: code 466 Declined by issuer (final: nothing moved, and sending it again will not change that)"),
        "{out:?}"
    );
    assert!(out.stderr.contains("message: Declined by issuer"));

    let poor = s.issue_card("12/30", "123", "10", false).await;
    let out = run(
        &mut cli(&s),
        &[
            "transfer", "--json", "--from", &poor, "--expiry", "12/30", "--cvc", "123", "--to",
            MASTERCARD, "--amount", "100",
        ],
    )
    .await;
    assert_eq!(out.code, 1);
    let e = &out.json()["error"];
    assert_eq!(e["kind"], "declined");
    assert_eq!(e["code"], 484);
    assert_eq!(e["meaning"], "Insufficient funds");
    assert_eq!(e["final"], true);
    assert_eq!(e["httpStatus"], 400);
    assert_eq!(e["invoiceId"].as_str().unwrap().len(), 12);

    // Bad input never reaches the server.
    let inv = invoice();
    let mut args = vec!["transfer", "--invoice", &inv, "--to", MASTERCARD];
    args.extend(SEND_VISA);
    args.extend(["--amount", "1.234"]);
    let out = run(&mut cli(&s), &args).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("more than 2 decimal places"), "{out:?}");
    let out = run(
        &mut cli(&s),
        &[
            "transfer", "--from", VISA, "--to", MASTERCARD, "--amount", "5",
        ],
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("needs its expiry"), "{out:?}");
    let st = run(&mut cli(&s), &["status", &inv, "--json"]).await;
    assert_eq!(st.json()["state"], "NOT_FOUND");
    assert_eq!(s.balance(VISA_MASK).await, before, "nothing moved");
    // Usage errors exit 2.
    let out = run(&mut cli(&s), &["transfer", "--amount", "5"]).await;
    assert_eq!(out.code, 2);
}

async fn unknown_outcome_is_resolved_by_status_not_by_resending(backend: Backend) {
    let s = Server::start(backend);
    let proxy = Proxy::start(&s.url, Mode::HangAfterForward).await;
    let before = s.balance(VISA_MASK).await;
    let via_proxy = |c: &mut tokio::process::Command| {
        c.env_remove("AQSHA_URL")
            .env("AQSHA_TOKEN_URL", format!("{}/oauth2/token", s.url))
            .env("AQSHA_API_URL", &proxy.url)
            .env("AQSHA_TIMEOUT", "2");
    };
    let inv = invoice();
    let mut c = cli(&s);
    via_proxy(&mut c);
    let out = run(&mut c, &visa_to_saved("--json", &inv)).await;
    let v = out.ok().json();
    assert_eq!(v["state"], "CHARGE");
    assert_eq!(v["resolvedByStatus"], true);
    assert_eq!(proxy.transfers(), 1);
    assert_eq!(before - s.balance(VISA_MASK).await, 19_500);

    // --no-wait: exit 3 and say what to do.
    let inv = invoice();
    let mut c = cli(&s);
    via_proxy(&mut c);
    let out = run(&mut c, &visa_to_saved("--no-wait", &inv)).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains(&format!(
        "error: outcome unknown for invoice {inv}: no answer within the timeout"
    )));
    assert!(out.stderr.contains(&format!(
        "do not send it again. Check: aqsha status {inv} --wait"
    )));
    assert_eq!(proxy.transfers(), 2);
    let st = run(&mut cli(&s), &["status", &inv, "--wait", "--json"]).await;
    assert_eq!(st.ok().json()["state"], "CHARGE");
    assert_eq!(before - s.balance(VISA_MASK).await, 2 * 19_500);
}

async fn cards_list_and_deactivate(backend: Backend) {
    let s = Server::start(backend);
    let mut args = vec!["transfer", "--json", "--to", MASTERCARD, "--amount", "100"];
    args.extend(SEND_VISA);
    args.extend(["--save", "--account-id", "acct-cli"]);
    let v = run(&mut cli(&s), &args).await.ok().json();
    let id = v["senderCardID"].as_str().unwrap().to_string();

    let list = run(&mut cli(&s), &["cards", "list", "acct-cli", "--json"]).await;
    let cards = list.ok().json();
    assert_eq!(cards.as_array().unwrap().len(), 1);
    assert_eq!(cards[0]["ID"], id.as_str());
    assert_eq!(cards[0]["CardMask"], VISA_MASK);
    let text = run(&mut cli(&s), &["cards", "list", "acct-cli"]).await;
    assert!(text.ok().stdout.contains(&id));
    assert!(text.stdout.contains(VISA_MASK));

    let out = run(&mut cli(&s), &["cards", "deactivate", &id]).await;
    assert_eq!(
        out.ok().stdout.trim(),
        format!("{id}: card successfully deactivated")
    );
    let text = run(&mut cli(&s), &["cards", "list", "acct-cli"]).await;
    assert_eq!(
        text.ok().stdout.trim(),
        "no saved cards for account acct-cli"
    );
    let again = run(&mut cli(&s), &["cards", "deactivate", &id, "--json"]).await;
    assert_eq!(again.code, 1);
    let e = &again.json()["error"];
    assert_eq!(e["code"], 487);
    assert_eq!(e["kind"], "refused");
    assert_eq!(e["meaning"], "Not permitted to merchant");
    assert_eq!(e["final"], true);
}

async fn settings_come_from_a_profile_file_env_and_flags(backend: Backend) {
    let s = Server::start(backend);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("profiles.toml");
    std::fs::write(
        &file,
        format!(
            r#"default = "sandbox2"

[profiles.sandbox2]
url = "{url}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
terminal = "{TERMINAL_2}"
timeout = 20

[profiles.wrong]
url = "{url}"
client_id = "{CLIENT_ID}"
client_secret = "not-the-secret"
"#,
            url = s.url
        ),
    )
    .unwrap();
    let file_arg = file.to_str().unwrap();

    // The file's default profile: a transfer on terminal 2, found by status on terminal 2 only.
    let mut args = vec!["transfer", "--json", "--profile-file", file_arg];
    args.extend(SEND_VISA);
    args.extend(["--to", MASTERCARD, "--amount", "100"]);
    let v = run(&mut bare_cli(&s), &args).await.ok().json();
    assert_eq!(v["terminalID"], TERMINAL_2);
    let inv = v["orderID"].as_str().unwrap().to_string();
    let st = run(
        &mut bare_cli(&s),
        &["status", &inv, "--json", "--profile-file", file_arg],
    )
    .await;
    assert_eq!(st.ok().json()["state"], "CHARGE");
    // A flag overrides the profile's terminal.
    let st = run(
        &mut bare_cli(&s),
        &[
            "status",
            &inv,
            "--json",
            "--profile-file",
            file_arg,
            "--terminal",
            TERMINAL,
        ],
    )
    .await;
    assert_eq!(st.ok().json()["state"], "NOT_FOUND");
    // The profile file found through AQSHA_CONFIG_DIR, a profile chosen by AQSHA_PROFILE.
    let mut c = bare_cli(&s);
    c.env("AQSHA_CONFIG_DIR", dir.path())
        .env("AQSHA_PROFILE", "wrong");
    let out = run(&mut c, &["token", "--json"]).await;
    assert_eq!(out.code, 1);
    let e = &out.json()["error"];
    assert_eq!(e["kind"], "token_refused");
    assert_eq!(e["error"], "invalid_client");
    // ...and a flag beats both.
    let mut c = bare_cli(&s);
    c.env("AQSHA_CONFIG_DIR", dir.path())
        .env("AQSHA_PROFILE", "wrong");
    let out = run(&mut c, &["token", "--client-secret", CLIENT_SECRET]).await;
    out.ok();
    // An environment variable beats the profile too.
    let mut c = bare_cli(&s);
    c.env("AQSHA_CONFIG_DIR", dir.path())
        .env("AQSHA_CLIENT_SECRET", "also-wrong");
    let out = run(&mut c, &["token"]).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("invalid_client"), "{out:?}");
    // Unknown profile names are refused with the built-ins listed.
    let out = run(&mut bare_cli(&s), &["token", "--profile", "nope"]).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("no profile \"nope\""), "{out:?}");
    assert!(out.stderr.contains("epay-prod"));
    // The built-in `local` profile carries the sandbox merchant: only the URL is needed.
    let mut c = bare_cli(&s);
    c.env("AQSHA_URL", &s.url);
    run(&mut c, &["token"]).await.ok();
}
