//! The server holds: silent and slow clients are cut off, a connection cap keeps descriptors
//! for the clients that talk, an in-flight cap answers "busy" in the API's shape, and HTTPS
//! works (SIGTERM's grace period is in `server_shutdown`). Every test runs the real binary on
//! loopback with small limits set by flags, and talks raw TCP (`common::tcp`) where a
//! misbehaving client is the point. Durations below are upper bounds for "eventually", never
//! measurements of speed.

use crate::common::tcp::{closed_within, connect, get_on, stalled_transfer};
use crate::common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

crate::tests! {
    sqlite: [
        a_silent_connection_and_an_idle_kept_alive_one_are_closed,
        a_client_sending_one_header_byte_a_second_is_cut_off,
        at_the_connection_cap_a_new_connection_waits_for_a_free_slot,
        silent_connections_past_the_cap_do_not_take_health_down,
        the_in_flight_cap_answers_503_with_retry_after_in_the_api_shape,
        an_oversized_uri_or_header_block_gets_a_json_414_or_431,
        https_serves_a_token_and_a_transfer_with_the_configured_certificate,
        a_client_that_stops_reading_its_responses_is_cut_off,
    ],
}

async fn a_silent_connection_and_an_idle_kept_alive_one_are_closed(backend: Backend) {
    let s = Server::start_with(
        backend,
        &["--header-read-timeout", "2s", "--idle-timeout", "3s"],
    );
    // Connected, never sent a byte.
    let mut silent = connect(&s).await;
    // Sent a request, got the answer, then said nothing more.
    let mut idle = connect(&s).await;
    assert_eq!(get_on(&mut idle, "/healthz").await, "HTTP/1.1 200 OK");
    assert!(
        closed_within(&mut silent, EVENTUALLY).await,
        "silent connection kept open"
    );
    assert!(
        closed_within(&mut idle, EVENTUALLY).await,
        "idle connection kept open"
    );
    // The server itself is fine.
    let resp = s.http.get(s.path("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn a_client_sending_one_header_byte_a_second_is_cut_off(backend: Backend) {
    let s = Server::start_with(
        backend,
        &["--header-read-timeout", "2s", "--idle-timeout", "60s"],
    );
    let mut slow = connect(&s).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: aqsha\r\nUser-Agent: slow-and-steady\r\n\r\n";
    // Every byte arrives well within any per-byte timeout; only a deadline on the whole
    // header block stops this client. Sent in full it would take over a minute.
    let mut cut_off = false;
    // hyper's own header timer (the backstop, idle + header = 62 s here) must not be what
    // stops it: the cut must come within the first 20 bytes, i.e. about 20 s.
    for byte in request.iter().take(20) {
        if slow.write_all(&[*byte]).await.is_err() {
            cut_off = true;
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut_off = true;
                break;
            }
            Ok(Ok(n)) => panic!(
                "the server answered a trickled request: {}",
                String::from_utf8_lossy(&buf[..n])
            ),
        }
    }
    assert!(cut_off, "still open after 20 s of a trickled header block");
    // Logged (at debug level) just after the connection is dropped.
    let logged = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        s.log().contains("header read timeout")
    });
    assert!(logged, "{}", s.log());
}

async fn at_the_connection_cap_a_new_connection_waits_for_a_free_slot(backend: Backend) {
    let s = Server::start_with(
        backend,
        &[
            "--max-connections",
            "3",
            "--header-read-timeout",
            "60s",
            "--idle-timeout",
            "60s",
        ],
    );
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = connect(&s).await;
        assert_eq!(get_on(&mut c, "/healthz").await, "HTTP/1.1 200 OK");
        held.push(c);
    }
    // A fourth connection is not served while the three are open...
    let mut fourth = connect(&s).await;
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: aqsha\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let early = tokio::time::timeout(Duration::from_secs(2), fourth.read(&mut buf)).await;
    assert!(early.is_err(), "served past the connection cap: {early:?}");
    // ...and is as soon as one of them closes.
    drop(held.pop());
    let n = tokio::time::timeout(EVENTUALLY, fourth.read(&mut buf))
        .await
        .expect("not served after a slot freed")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200 OK"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    assert!(s.log().contains("connection cap reached"), "{}", s.log());
}

async fn silent_connections_past_the_cap_do_not_take_health_down(backend: Backend) {
    let s = Server::start_with(
        backend,
        &[
            "--max-connections",
            "3",
            "--header-read-timeout",
            "2s",
            "--idle-timeout",
            "2s",
        ],
    );
    // Three times the cap in silent connections: the first three hold the slots, the rest
    // wait in the accept queue; each round is cut off by the header-read timeout.
    let mut silent = Vec::new();
    for _ in 0..9 {
        silent.push(connect(&s).await);
    }
    let resp = s
        .http
        .get(s.path("/healthz"))
        .timeout(EVENTUALLY)
        .send()
        .await
        .expect("/healthz did not answer behind silent connections");
    assert_eq!(resp.status(), StatusCode::OK);
    for c in &mut silent {
        assert!(
            closed_within(c, EVENTUALLY).await,
            "a silent connection stayed open"
        );
    }
}

async fn the_in_flight_cap_answers_503_with_retry_after_in_the_api_shape(backend: Backend) {
    let s = Server::start_with(
        backend,
        &["--max-in-flight", "1", "--request-timeout", "60s"],
    );
    let mut held = stalled_transfer(&s).await;
    // The stalled request holds the one slot once the server has read its headers. If one of
    // the requests below got there first, the stalled one was itself refused (an answer, or
    // a closed connection): open another.
    let (mut refused, mut seen) = (None, Vec::new());
    for _ in 0..100 {
        let mut probe = [0u8; 1];
        if !matches!(held.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        {
            held = stalled_transfer(&s).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let resp = s
            .http
            .post(s.path("/payments/cards/auth"))
            .bearer_auth("x")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
            refused = Some(resp);
            break;
        }
        seen.push(resp.status().as_u16());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resp = refused.unwrap_or_else(|| {
        panic!(
            "never refused past the in-flight cap; answers {seen:?}; log:\n{}",
            s.log()
        )
    });
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 100, "{body}");
    assert!(body["message"].as_str().unwrap().contains("busy"), "{body}");
    for field in ["invoiceId", "id", "reference", "accountId"] {
        assert_eq!(body[field], "", "{body}");
    }
    // The token endpoint refuses in its own (RFC 6749) shape.
    let (status, body) = s.token_raw(&[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    // The liveness probe is never refused.
    let health = s.http.get(s.path("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // Once the stalled request is gone, the slot is free again.
    drop(held);
    let mut served = false;
    for _ in 0..100 {
        if s.token_raw(&[]).await.0 == StatusCode::OK {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the slot was not freed");
}

async fn an_oversized_uri_or_header_block_gets_a_json_414_or_431(backend: Backend) {
    let s = Server::start_with(
        backend,
        &["--max-uri-bytes", "1024", "--max-header-bytes", "16384"],
    );
    let token = s.token(&[("terminal", TERMINAL_2)]).await;
    let long = "1".repeat(2000);
    let (status, body) = s
        .get_json(&format!("/check-status/p2p/transaction/{long}"), &token)
        .await;
    assert_eq!(status, StatusCode::URI_TOO_LONG, "{body}");
    assert_eq!(body["code"], 477, "{body}");
    let resp = s
        .http
        .get(s.path("/cards/testUser1"))
        .bearer_auth(&token)
        .header("x-padding", "p".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 477, "{body}");
    assert_eq!(body["invoiceId"], "", "{body}");
    // Too many headers, each small: the JSON 431 too (hyper's own limit is far above).
    let mut req = s.http.get(s.path("/cards/testUser1")).bearer_auth(&token);
    for n in 0..150 {
        req = req.header(format!("x-h{n}"), "1");
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("more than 100 headers"),
        "{body}"
    );
}

async fn https_serves_a_token_and_a_transfer_with_the_configured_certificate(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let mut s = Server::start_with(
        backend,
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
    );
    assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
    assert!(s.log().contains("scheme=\"https\""), "{}", s.log());
    // A client that does not trust the certificate gets nowhere.
    let untrusting = reqwest::Client::new();
    assert!(untrusting.get(s.path("/healthz")).send().await.is_err());
    // Plain HTTP on the TLS port is not served.
    let plain = s.url.replacen("https://", "http://", 1);
    assert!(reqwest::get(format!("{plain}/healthz")).await.is_err());
    s.http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let body = seed_like_body(&invoice(), json!(100));
    let (status, r) = s.pay(&body).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "CHARGE");
}

async fn a_client_that_stops_reading_its_responses_is_cut_off(backend: Backend) {
    let s = Server::start_with(
        backend,
        &["--idle-timeout", "2s", "--header-read-timeout", "2s"],
    );
    let stream = connect(&s).await;
    let (_unread, mut write) = stream.into_split();
    // Pipelined requests whose responses are never read: once the socket buffers are full the
    // server can neither write nor (so) read, and only a write timeout frees the connection.
    let request = b"GET /healthz HTTP/1.1\r\nHost: aqsha\r\n\r\n".repeat(1000);
    let flood = tokio::spawn(async move {
        loop {
            if write.write_all(&request).await.is_err() {
                return;
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(120), flood)
        .await
        .expect("a connection whose client stopped reading was kept open")
        .unwrap();
}
