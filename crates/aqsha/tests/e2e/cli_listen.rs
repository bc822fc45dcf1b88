//! `aqsha listen`: real callbacks from real transfers arrive, are verified with the merchant's
//! signing key (fetched from the server) and the secret_hash, printed, and forwarded to a real
//! receiver; forged callbacks are refused.

use crate::common::cli::{cli, run, Running};
use crate::common::receiver::Receiver;
use crate::common::*;

crate::tests! {
    sqlite: [
        listen_verifies_prints_and_forwards_real_callbacks,
        listen_refuses_forged_and_unsigned_callbacks,
        listen_prints_text_by_default,
    ],
}

async fn start_listen(s: &Server, extra: &[&str]) -> (Running, String) {
    let mut args = vec!["listen", "--json", "--listen", "127.0.0.1:0"];
    args.extend(extra);
    let mut l = Running::spawn(cli(s), &args);
    let first = l.json_line(60).await;
    assert_eq!(first["event"], "listening", "{first}");
    let url = first["url"].as_str().unwrap().to_string();
    (l, url)
}

async fn listen_verifies_prints_and_forwards_real_callbacks(backend: Backend) {
    let s = Server::start(backend);
    let target = Receiver::start(&[]).await;
    let (mut l, url) = start_listen(
        &s,
        &[
            "--forward",
            &target.url,
            "--secret-hash",
            "sh-42",
            "--count",
            "2",
        ],
    )
    .await;

    // A transfer that succeeds and one that is declined, both with callbacks to the listener.
    let ok_inv = invoice();
    let fail_inv = invoice();
    let links = |inv: &str, cvc: &str| -> Vec<String> {
        [
            "transfer",
            "--invoice",
            inv,
            "--from",
            VISA,
            "--expiry",
            "01/25",
            "--cvc",
            cvc,
            "--to",
            SAVED_RECEIVER,
            "--amount",
            "100",
            "--post-link",
            &format!("{url}/ok"),
            "--failure-post-link",
            &format!("{url}/fail"),
            "--secret-hash",
            "sh-42",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a = links(&ok_inv, "815");
    run(
        &mut cli(&s),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await
    .ok();
    let a = links(&fail_inv, "000");
    let out = run(
        &mut cli(&s),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(out.code, 1);

    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(l.json_line(30).await);
    }
    let ok = seen
        .iter()
        .find(|v| v["path"] == "/ok")
        .expect("success callback");
    let fail = seen
        .iter()
        .find(|v| v["path"] == "/fail")
        .expect("failure callback");
    for v in [ok, fail] {
        assert_eq!(v["event"], "callback");
        assert_eq!(v["verified"], true, "{v}");
        assert_eq!(v["signature"], "valid");
        assert_eq!(v["secretHash"], "match");
        assert_eq!(v["attempt"], "1");
        assert!(v["eventId"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(v["forward"]["status"], 200);
        assert_eq!(v["answer"], 200);
    }
    assert_eq!(ok["body"]["invoiceId"], ok_inv.as_str());
    assert_eq!(ok["body"]["code"], "ok");
    assert_eq!(ok["body"]["reasonCode"], 0);
    assert_eq!(fail["body"]["invoiceId"], fail_inv.as_str());
    assert_eq!(fail["body"]["code"], "error");
    assert_eq!(fail["body"]["reasonCode"], 466);
    // `--count 2`: the listener exits by itself.
    assert_eq!(l.wait(30).await, 0);

    // The forward target got the raw bodies with Aqsha's headers, still verifiable.
    let hits = target.wait_for(2, 10).await;
    let key = s.sandbox_get("/sandbox/callback-secret").await["callbackSecret"]
        .as_str()
        .unwrap()
        .to_string();
    for hit in &hits {
        assert!(hit.path == "/ok" || hit.path == "/fail", "{}", hit.path);
        let sig = hit.header("x-aqsha-signature");
        aqsha_wire::signature::verify(&key, &sig, &hit.body, chrono::Utc::now().timestamp(), 300)
            .unwrap();
        assert!(!hit.header("x-aqsha-event-id").is_empty());
    }
    // The server saw both deliveries answered 200 by the listener (it records the answer
    // after the listener has printed it, so this is awaited, not read at once).
    let path = format!("/sandbox/callbacks?invoiceId={ok_inv}");
    eventually(
        "the success callback is recorded as delivered",
        EVENTUALLY,
        || async {
            let events = s.sandbox_get(&path).await;
            (events[0]["status"] == "delivered").then_some(())
        },
    )
    .await;
}

async fn listen_refuses_forged_and_unsigned_callbacks(backend: Backend) {
    let s = Server::start(backend);
    let (mut l, url) = start_listen(&s, &["--count", "3"]).await;
    let http = reqwest::Client::new();
    let body = serde_json::to_vec(&serde_json::json!({
        "id": "op", "dateTime": "2025-01-01T00:00:00Z", "invoiceId": "123456", "amount": 100,
        "currency": "KZT", "terminal": TERMINAL, "accountId": "", "description": "",
        "language": "rus", "cardMask": "440563...5096", "cardType": "VISA", "issuer": "",
        "reference": "", "approvalCode": "", "secure": "No", "code": "ok", "reason": "Success",
        "reasonCode": 0, "name": "", "email": "", "phone": "", "cardId": "", "secret_hash": ""
    }))
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    // Posts the callback to the listener, with this signature header if any; its status.
    let post = |signature: Option<String>| {
        let mut request = http.post(format!("{url}/ok")).body(body.clone());
        if let Some(signature) = signature {
            request = request.header("x-aqsha-signature", signature);
        }
        async move { request.send().await.unwrap().status() }
    };

    // Signed with the wrong key.
    let forged = aqsha_wire::signature::sign("not-the-key", now, &body);
    assert_eq!(post(Some(forged)).await, 401);
    let v = l.json_line(30).await;
    assert_eq!(v["verified"], false);
    assert!(v["signature"]
        .as_str()
        .unwrap()
        .starts_with("invalid: signature does not match"));

    // No signature at all.
    assert_eq!(post(None).await, 401);
    assert_eq!(l.json_line(30).await["signature"], "missing");

    // Signed with the right key but an hour old: a replay.
    let key = s.sandbox_get("/sandbox/callback-secret").await["callbackSecret"]
        .as_str()
        .unwrap()
        .to_string();
    let old = aqsha_wire::signature::sign(&key, now - 3600, &body);
    assert_eq!(post(Some(old)).await, 401);
    let v = l.json_line(30).await;
    assert!(v["signature"].as_str().unwrap().contains("s away from now"));
    assert_eq!(l.wait(30).await, 0);
}

async fn listen_prints_text_by_default(backend: Backend) {
    let s = Server::start(backend);
    let mut l = Running::spawn(
        cli(&s),
        &["listen", "--listen", "127.0.0.1:0", "--count", "1"],
    );
    let first = l.line(60).await;
    let url = first.strip_prefix("listening on ").unwrap().to_string();
    let inv = invoice();
    run(
        &mut cli(&s),
        &[
            "transfer",
            "--invoice",
            &inv,
            "--from",
            VISA,
            "--expiry",
            "01/25",
            "--cvc",
            "815",
            "--to",
            MASTERCARD,
            "--amount",
            "250",
            "--post-link",
            &format!("{url}/ok"),
        ],
    )
    .await
    .ok();
    let line = l.line(30).await;
    assert_eq!(
        line,
        format!(
            "[verified] /ok invoice {inv} 250 KZT code ok reasonCode 0 Success | signature valid | secret_hash unchecked -> 200"
        )
    );
    assert_eq!(l.wait(30).await, 0);
}
