//! How the dispatcher sends: merchants share it fairly (one merchant's hanging endpoints do
//! not hold back another's callbacks), and it ignores proxy variables unless told to use a
//! proxy.

use crate::common::receiver::Receiver;
use crate::common::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

crate::tests! {
    both: [
        a_merchant_whose_endpoint_hangs_does_not_hold_back_another,
        callbacks_ignore_proxy_variables_unless_a_proxy_is_configured,
    ],
}

/// An endpoint that accepts connections and never answers: it reads until the caller gives
/// up and closes. Counts connections accepted, open now, and open at most.
struct Hanging {
    url: String,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    most_open: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Hanging {
    async fn start() -> Hanging {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (accepted, open, most_open) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (a, o, m) = (accepted.clone(), open.clone(), most_open.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                let o = o.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {}
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Hanging {
            url,
            accepted,
            open,
            most_open,
            task,
        }
    }

    fn counts(&self) -> (usize, usize, usize) {
        (
            self.accepted.load(Ordering::SeqCst),
            self.open.load(Ordering::SeqCst),
            self.most_open.load(Ordering::SeqCst),
        )
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Each merchant runs at most this many attempts at once in the fairness test.
const CAP: usize = 4;
/// More events than the dispatcher's 256 slots: without a per-merchant cap, merchant A alone
/// would hold every slot.
const A_EVENTS: usize = 300;

async fn a_merchant_whose_endpoint_hangs_does_not_hold_back_another(backend: Backend) {
    // A's attempts hang for a minute, far longer than the test waits for B.
    let s = Server::start_with(
        backend,
        &[
            "--callback-per-merchant",
            &CAP.to_string(),
            "--callback-timeout",
            "60s",
        ],
    );
    let shop_b = s.add_merchant("shop-b");
    let hanging = Hanging::start().await;

    // Merchant A (the sandbox merchant): many transfers whose postLink hangs.
    let bodies: Vec<_> = (0..A_EVENTS)
        .map(|_| {
            let mut b = seed_like_body(&invoice(), json!(100));
            b["order"]["postLink"] = json!(format!("{}/a", hanging.url));
            b
        })
        .collect();
    for chunk in bodies.chunks(20) {
        for (st, r) in join_all(chunk.iter().map(|b| s.pay(b))).await {
            assert_eq!(st, StatusCode::OK, "{r}");
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while hanging.counts().1 < CAP {
        assert!(
            tokio::time::Instant::now() < deadline,
            "A's attempts did not start: {:?}",
            hanging.counts()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Merchant B's callback goes to an endpoint that answers.
    let r = Receiver::start(&[]).await;
    let inv = invoice();
    let terminal = shop_b["terminal"].as_str().unwrap();
    let (st, v) = s
        .token_raw(&[
            ("client_id", shop_b["client_id"].as_str().unwrap()),
            ("client_secret", shop_b["client_secret"].as_str().unwrap()),
            ("invoiceID", &inv),
            ("terminal", terminal),
        ])
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let body = json!({
        "order": {"amount": 100, "currency": "KZT", "id": inv, "terminalId": terminal,
                  "postLink": format!("{}/b", r.url)},
        "card": {
            "sender": {"transferType": "TYPEPAN", "cardCred": VISA, "cvc": "815",
                       "expire": {"month": "01", "year": "25"}},
            "receiver": {"transferType": "TYPEPAN", "cardCred": MASTERCARD}
        }
    });
    let (st, resp) = s.transfer(v["access_token"].as_str().unwrap(), &body).await;
    assert_eq!(st, StatusCode::OK, "{resp}");
    let hit = r.wait_for(1, 30).await.remove(0);
    assert_eq!(hit.json()["invoiceId"], inv.as_str());

    // B's callback arrived while A's attempts were all still hanging: none of them ended,
    // and A never had more than its cap running.
    let (accepted, open, most_open) = hanging.counts();
    assert_eq!((accepted, open, most_open), (CAP, CAP, CAP));
    let pending = s
        .sandbox_get("/sandbox/callbacks")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "pending")
        .count();
    assert_eq!(pending, A_EVENTS, "all of A's events are still pending");
}

async fn callbacks_ignore_proxy_variables_unless_a_proxy_is_configured(backend: Backend) {
    // A real HTTP server acting as the proxy: a proxied request arrives in absolute form and
    // is recorded by its path like any other.
    let proxy = Receiver::start(&[]).await;
    let target = Receiver::start(&[]).await;
    let mut env: Vec<(&str, Option<&str>)> = vec![("NO_PROXY", None), ("no_proxy", None)];
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        env.push((var, Some(proxy.url.as_str())));
    }
    let body = || {
        let mut b = seed_like_body(&invoice(), json!(100));
        b["order"]["postLink"] = json!(format!("{}/ok", target.url));
        b
    };

    // The variables are set, and ignored: the callback goes straight to its target.
    let s = Server::start_with_env(backend, &["--callback-timeout", "2s"], &env);
    let (st, r) = s.pay(&body()).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    target.wait_for(1, 30).await;
    assert!(proxy.hits().is_empty(), "a callback went through the proxy");
    drop(s);

    // Configured, the proxy carries every callback.
    let s = Server::start_with_env(
        backend,
        &["--callback-timeout", "2s", "--callback-proxy", &proxy.url],
        &env,
    );
    let (st, r) = s.pay(&body()).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let hits = proxy.wait_for(1, 30).await;
    assert_eq!(hits[0].path, "/ok");
    assert_eq!(
        target.hits().len(),
        1,
        "only the first server's callback is direct"
    );
}
