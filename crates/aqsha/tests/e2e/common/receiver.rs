//! A real HTTP endpoint on loopback that receives callbacks and records them; for fault
//! campaigns it also answers by a rule (500s, hangs) and goes down for a while ([`Receiver::outage`]).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When the request arrived.
    pub at: Instant,
    /// What the receiver answered (or, for a hang, began to).
    pub answer: Answer,
}

impl Hit {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> String {
        self.headers[name].to_str().unwrap().to_string()
    }
}

/// What the receiver does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// Wait this long, then answer 200.
    Hang(Duration),
}

/// Picks the answer to a request once the plan is used up; `None` means 200.
pub type Rule = Box<dyn FnMut() -> Answer + Send>;

#[derive(Clone, Default)]
struct Shared {
    hits: Arc<Mutex<Vec<Hit>>>,
    plan: Arc<Mutex<VecDeque<Answer>>>,
    rule: Arc<Mutex<Option<Rule>>>,
    /// Woken on every request, for [`Receiver::wait_for`].
    arrived: Arc<tokio::sync::Notify>,
}

pub struct Receiver {
    pub url: String,
    addr: std::net::SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

async fn handle(
    State(s): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let planned = s.plan.lock().unwrap().pop_front();
    let answer = planned.unwrap_or_else(|| match s.rule.lock().unwrap().as_mut() {
        Some(rule) => rule(),
        None => Answer::Status(200),
    });
    s.hits.lock().unwrap().push(Hit {
        path: uri.path().to_string(),
        headers,
        body,
        at: Instant::now(),
        answer,
    });
    s.arrived.notify_waiters();
    // A body that names the answer, which the dispatcher keeps the start of.
    match answer {
        Answer::Status(code) => (
            StatusCode::from_u16(code).unwrap(),
            format!("answer {code}"),
        ),
        Answer::Hang(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "answer 200".into())
        }
    }
}

impl Receiver {
    /// Starts on a free port; answers follow `plan`, then 200 for ever.
    pub async fn start(plan: &[Answer]) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Receiver::on(listener, plan)
    }

    /// Starts on a given address (to bring a receiver up where one was down).
    pub async fn start_at(addr: std::net::SocketAddr, plan: &[Answer]) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        Receiver::on(listener, plan)
    }

    fn on(listener: tokio::net::TcpListener, plan: &[Answer]) -> Receiver {
        let shared = Shared::default();
        shared.plan.lock().unwrap().extend(plan.iter().copied());
        let addr = listener.local_addr().unwrap();
        let task = serve(listener, &shared);
        Receiver {
            url: format!("http://{addr}"),
            addr,
            shared,
            task,
        }
    }

    /// Answers by `rule` once the plan is used up (`None`: 200 again).
    pub fn set_rule(&self, rule: Option<Rule>) {
        *self.shared.rule.lock().unwrap() = rule;
    }

    /// Stops listening for `down` (new connections are refused; requests already being
    /// answered finish), then listens again on the same address with the same records.
    pub async fn outage(&mut self, down: Duration) {
        self.task.abort();
        let _ = (&mut self.task).await;
        // The outage's length is the fault being injected, not a wait for an event.
        tokio::time::sleep(down).await;
        // While nothing listened, the kernel may have given the port to an outgoing
        // connection as its local port; it is free again once that connection closes.
        let listener =
            crate::common::eventually("the receiver's port", Duration::from_secs(60), || async {
                tokio::net::TcpListener::bind(self.addr).await.ok()
            })
            .await;
        self.task = serve(listener, &self.shared);
    }

    /// Woken on every request: register (`notified()`) before reading [`Self::hits`].
    pub fn arrivals(&self) -> Arc<tokio::sync::Notify> {
        self.shared.arrived.clone()
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// The hits after the first `n`.
    pub fn hits_since(&self, n: usize) -> Vec<Hit> {
        let hits = self.shared.hits.lock().unwrap();
        hits.get(n..).unwrap_or_default().to_vec()
    }

    /// Waits until `n` requests arrived (or panics after `secs`).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            // Registered before the count is read, so that no arrival in between is missed.
            let arrived = self.shared.arrived.notified();
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("only {} of {n} callbacks arrived", self.hits().len());
            }
        }
    }
}

fn serve(listener: tokio::net::TcpListener, shared: &Shared) -> tokio::task::JoinHandle<()> {
    let app = Router::new().fallback(handle).with_state(shared.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    })
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback port that nothing listens on (yet).
pub fn free_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}
