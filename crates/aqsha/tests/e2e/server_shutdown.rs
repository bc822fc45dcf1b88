//! SIGTERM: a request in flight is drained and answered; stalled clients cannot keep the server
//! alive past its grace period; no transfer that was acknowledged is lost. Every test runs the
//! real binary, since the signal is the point.

use crate::common::tcp::{connect, get_on, stalled_transfer};
use crate::common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

crate::tests! {
    both: [
        sigterm_drains_an_in_flight_request,
        sigterm_exits_within_the_grace_period_despite_stalled_clients_and_loses_no_acknowledged_transfer,
    ],
}

async fn sigterm_drains_an_in_flight_request(backend: Backend) {
    let mut s = Server::process(backend);
    let body = seed_like_body(&invoice(), json!(100));
    let token = s.token_for(&body["order"]).await;
    let text = body.to_string();
    let (first, rest) = text.split_at(10);
    // A raw connection that the server has provably accepted (it answered a request on it),
    // so the signal cannot land while the connection still waits in the listen queue.
    let mut c = connect(&s).await;
    assert!(get_on(&mut c, "/healthz").await.contains("200"));
    // A transfer whose body arrives slowly: SIGTERM lands while it is in flight.
    let head = format!(
        "POST /payments/cards/auth HTTP/1.1\r\nHost: aqsha\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        text.len()
    );
    c.write_all(head.as_bytes()).await.unwrap();
    unsafe_free_sigterm(s.pid());
    eventually("the server logs the signal", EVENTUALLY, || async {
        s.log().contains("shutdown signal received").then_some(())
    })
    .await;
    c.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(EVENTUALLY, c.read_to_end(&mut answer))
        .await
        .expect("the drained request is answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (_, json) = answer.split_once("\r\n\r\n").unwrap();
    let v: Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["status"], "CHARGE");
    let status = s.stop_waiting();
    assert!(status.success(), "{status:?}");
    assert!(s.log().contains("drained"));
    // The charge survived the shutdown.
    s.restart();
    let t = s.token(&[("terminal", TERMINAL_2)]).await;
    let (_, st) = s
        .get_json(
            &format!(
                "/check-status/p2p/transaction/{}",
                body["order"]["id"].as_str().unwrap()
            ),
            &t,
        )
        .await;
    assert_eq!(st["resultCode"], "100");
}

/// A transfer that reports, rather than panics on, a connection the server dropped.
async fn try_pay(http: &reqwest::Client, url: &str, body: &Value) -> Result<(u16, Value), String> {
    let form = order_token_form(&body["order"]);
    let token: Value = http
        .post(format!("{url}/oauth2/token"))
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let token = token["access_token"]
        .as_str()
        .ok_or("no token")?
        .to_string();
    let resp = http
        .post(format!("{url}/payments/cards/auth"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let value = resp.json().await.map_err(|e| e.to_string())?;
    Ok((status, value))
}

async fn sigterm_exits_within_the_grace_period_despite_stalled_clients_and_loses_no_acknowledged_transfer(
    backend: Backend,
) {
    let mut s = Server::start_with(
        backend,
        &[
            "--shutdown-grace",
            "2s",
            "--header-read-timeout",
            "300s",
            "--idle-timeout",
            "300s",
            "--request-timeout",
            "300s",
        ],
    );
    let before = s.balance("440563...5096").await;
    // One client stalled in its headers, one halfway through its body (a request in flight
    // that never completes): neither may keep the server alive past the grace period.
    let mut half_head = connect(&s).await;
    half_head
        .write_all(b"POST /payments/cards/auth HTTP/1.1\r\nHost: aq")
        .await
        .unwrap();
    let _half_body = stalled_transfer(&s).await;
    // Transfers keep coming while the signal arrives.
    let (url, http) = (s.url.clone(), s.http.clone());
    let mut clients = Vec::new();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..8 {
        let (url, http, answered) = (url.clone(), http.clone(), answered.clone());
        clients.push(tokio::spawn(async move {
            let mut tried = Vec::new();
            loop {
                let body = seed_like_body(&invoice(), json!(100));
                let answer = try_pay(&http, &url, &body).await;
                let stop = answer.is_err();
                if !stop {
                    answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                tried.push((body, answer));
                if stop {
                    return tried;
                }
            }
        }));
    }
    // SIGTERM once every client is under way (a few answers each on average).
    eventually("the clients are paying", EVENTUALLY, || async {
        (answered.load(std::sync::atomic::Ordering::SeqCst) >= 24).then_some(())
    })
    .await;
    unsafe_free_sigterm(s.pid());
    let status = s
        .wait_exit(EVENTUALLY)
        .expect("the server did not exit after SIGTERM");
    assert!(status.success(), "{status:?}");
    let log = s.log();
    assert!(log.contains("writer stopped"), "{log}");
    let mut tried = Vec::new();
    for c in clients {
        tried.extend(c.await.unwrap());
    }
    s.restart();
    let token = s.token(&[("terminal", TERMINAL_2)]).await;
    let (mut acknowledged, mut charged) = (0, 0i64);
    for (body, answer) in &tried {
        let inv = body["order"]["id"].as_str().unwrap();
        let (_, st) = s
            .get_json(&format!("/check-status/p2p/transaction/{inv}"), &token)
            .await;
        let is_charged = st["transaction"]["statusName"] == "CHARGE";
        charged += i64::from(is_charged);
        // Acknowledged as charged: it must have been committed. Refused or cut off:
        // committed whole, or not at all (the balance below).
        if let Ok((200, r)) = answer {
            acknowledged += 1;
            assert!(is_charged, "acknowledged but not committed: {r} / {st}");
            assert_eq!(st["transaction"]["id"], r["id"]);
        }
    }
    eprintln!(
        "tried {}, acknowledged {acknowledged}, committed {charged}",
        tried.len()
    );
    assert!(acknowledged > 0, "no transfer was acknowledged: {tried:?}");
    // Exactly the committed transfers moved money: nothing half-done.
    assert_eq!(s.balance("440563...5096").await, before - charged * 19_500);
    s.assert_ledger_balanced().await;
}
