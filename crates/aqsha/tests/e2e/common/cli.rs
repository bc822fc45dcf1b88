//! Helpers for the client and CLI tests: the built `aqsha` binary as a client against a test
//! server, and a real HTTP proxy in front of the server that can withhold or replace answers
//! to transfers (to make an outcome unknown the way a network or a gateway would).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::{bin, Server, CLIENT_ID, CLIENT_SECRET, TERMINAL};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout};

/// Environment variables the CLI reads; removed so the developer's own settings never leak in.
const CLI_ENV: &[&str] = &[
    "AQSHA_PROFILE",
    "AQSHA_PROFILE_FILE",
    "AQSHA_URL",
    "AQSHA_TOKEN_URL",
    "AQSHA_API_URL",
    "AQSHA_CLIENT_ID",
    "AQSHA_CLIENT_SECRET",
    "AQSHA_TERMINAL",
    "AQSHA_TIMEOUT",
    "AQSHA_CARD_CVC",
    "AQSHA_CARD_EXPIRY",
    "AQSHA_CALLBACK_SECRET",
    "AQSHA_SECRET_HASH",
    "AQSHA_CONFIG_DIR",
    "XDG_CONFIG_HOME",
];

/// `aqsha` with a clean environment and no profile file, pointed at nothing yet.
pub fn bare_cli(s: &Server) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(bin());
    for k in CLI_ENV {
        c.env_remove(k);
    }
    // A config directory without a profile file, so ~/.config is never read.
    c.env("AQSHA_CONFIG_DIR", s.dir.path().join("cli-config"));
    c.kill_on_drop(true);
    c
}

/// `aqsha` pointed at the test server with the sandbox merchant and terminal, by environment
/// variables (the way a script would set it up).
pub fn cli(s: &Server) -> tokio::process::Command {
    let mut c = bare_cli(s);
    c.env("AQSHA_URL", &s.url)
        .env("AQSHA_CLIENT_ID", CLIENT_ID)
        .env("AQSHA_CLIENT_SECRET", CLIENT_SECRET)
        .env("AQSHA_TERMINAL", TERMINAL);
    c
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "command failed: {self:?}");
        self
    }
}

/// Runs to completion (two minutes at most) and collects the output.
pub async fn run(cmd: &mut tokio::process::Command, args: &[&str]) -> Output {
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("command did not finish within 120 s")
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A long-running `aqsha` process whose stdout is read line by line.
pub struct Running {
    pub child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    err_lines: Lines<BufReader<ChildStderr>>,
}

impl Running {
    pub fn spawn(mut cmd: tokio::process::Command, args: &[&str]) -> Running {
        let mut child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        Running {
            child,
            lines: BufReader::new(stdout).lines(),
            err_lines: BufReader::new(stderr).lines(),
        }
    }

    /// The next stdout line, waiting up to `secs`.
    pub async fn line(&mut self, secs: u64) -> String {
        tokio::time::timeout(Duration::from_secs(secs), self.lines.next_line())
            .await
            .expect("no output line in time")
            .unwrap()
            .expect("stdout closed")
    }

    pub async fn json_line(&mut self, secs: u64) -> Value {
        let l = self.line(secs).await;
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
    }

    /// The rest of stdout, up to its end (the process has exited or will).
    pub async fn rest(&mut self, secs: u64) -> String {
        let mut out = String::new();
        let read = async {
            while let Ok(Some(l)) = self.lines.next_line().await {
                out.push_str(&l);
                out.push('\n');
            }
        };
        tokio::time::timeout(Duration::from_secs(secs), read)
            .await
            .expect("stdout not closed in time");
        out
    }

    pub async fn wait(&mut self, secs: u64) -> i32 {
        let st = tokio::time::timeout(Duration::from_secs(secs), self.child.wait())
            .await
            .expect("process did not exit in time")
            .unwrap();
        st.code().unwrap_or(-1)
    }

    /// Waits for a stderr line containing `needle` (up to `secs`), skipping others.
    pub async fn stderr_until(&mut self, needle: &str, secs: u64) -> String {
        let find = async {
            while let Ok(Some(l)) = self.err_lines.next_line().await {
                if l.contains(needle) {
                    return l;
                }
            }
            panic!("stderr closed without {needle:?}");
        };
        tokio::time::timeout(Duration::from_secs(secs), find)
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} on stderr in time"))
    }
}

/// What the proxy does with transfer requests (`POST .../payments/cards/auth` or
/// `.../p2p/transfer`). Everything else is passed through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Forward, let the server finish, then never answer (until the proxy is dropped).
    HangAfterForward,
    /// Never forward and never answer: the request is lost on the way.
    DropRequest,
    /// Forward, then answer 502 with an empty body, as a gateway in front of ePay would.
    BadGateway,
    /// Forward, then answer 500 with ePay's error body and code 100 (system error, poll).
    ServerError,
    /// Forward, then answer 400 with code 454 ("operation failed, the amount may be held",
    /// a poll code).
    PollCode,
    /// Pass the first `n` transfers; hang every later one after forwarding it.
    HangAfter(usize),
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    mode: Arc<Mutex<Mode>>,
    transfers: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    /// Set to true to let withheld answers go.
    release: tokio::sync::watch::Sender<bool>,
}

pub struct Proxy {
    pub url: String,
    state: ProxyState,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: &str, mode: Mode) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            mode: Arc::new(Mutex::new(mode)),
            transfers: Arc::new(AtomicUsize::new(0)),
            answered: Arc::new(AtomicUsize::new(0)),
            release: tokio::sync::watch::channel(false).0,
        };
        let app = Router::new().fallback(proxy).with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Proxy { url, state, task }
    }

    /// Lets every withheld answer (`HangAfterForward`, `HangAfter`) go out now, and answers
    /// later ones at once.
    pub fn release(&self) {
        self.state.release.send_replace(true);
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// Transfer requests that reached the proxy.
    pub fn transfers(&self) -> usize {
        self.state.transfers.load(Ordering::SeqCst)
    }

    /// Transfer requests the proxy answered.
    pub fn answered(&self) -> usize {
        self.state.answered.load(Ordering::SeqCst)
    }

    /// Waits until `n` transfer requests arrived.
    pub async fn wait_for_transfers(&self, n: usize, secs: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while self.transfers() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {n} transfers reached the proxy",
                self.transfers()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const NEVER: Duration = Duration::from_secs(3600);

fn error_body(code: u32, message: &str) -> String {
    serde_json::json!({"code": code, "message": message, "invoiceId": "", "id": "",
                       "reference": "", "accountId": ""})
    .to_string()
}

async fn proxy(
    State(p): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let is_transfer = method == Method::POST
        && (path.ends_with("/payments/cards/auth") || path.ends_with("/p2p/transfer"));
    let mut mode = Mode::Pass;
    if is_transfer {
        let n = p.transfers.fetch_add(1, Ordering::SeqCst);
        mode = *p.mode.lock().unwrap();
        if let Mode::HangAfter(limit) = mode {
            mode = if n < limit {
                Mode::Pass
            } else {
                Mode::HangAfterForward
            };
        }
    }
    if mode == Mode::DropRequest {
        tokio::time::sleep(NEVER).await;
    }
    let target = format!(
        "{}{}",
        p.upstream,
        uri.path_and_query().map(|x| x.as_str()).unwrap_or(path)
    );
    let mut req = p.http.request(method, target).body(body);
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let bytes = resp.bytes().await.unwrap();
    let json = |status: StatusCode, text: String| {
        (status, [("content-type", "application/json")], text).into_response()
    };
    let answer = match mode {
        Mode::Pass | Mode::HangAfter(_) | Mode::DropRequest => {
            (status, [("content-type", content_type)], bytes).into_response()
        }
        Mode::HangAfterForward => {
            let mut rx = p.release.subscribe();
            let _ = tokio::time::timeout(NEVER, rx.wait_for(|released| *released)).await;
            (status, [("content-type", content_type)], bytes).into_response()
        }
        Mode::BadGateway => StatusCode::BAD_GATEWAY.into_response(),
        Mode::ServerError => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_body(100, "System error: internal error"),
        ),
        Mode::PollCode => json(
            StatusCode::BAD_REQUEST,
            error_body(454, "Operation failed, the amount may be held"),
        ),
    };
    if is_transfer {
        p.answered.fetch_add(1, Ordering::SeqCst);
    }
    answer
}
