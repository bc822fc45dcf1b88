//! Test helpers: a server for each test, in this process ([`Server::start`]: the real router
//! on a real listener and database) or as the real `aqsha` binary ([`Server::process`], for
//! tests of the process itself: logs, signals, crashes, flags), on a free loopback port with
//! its own data directory (a real SQLite file) or its own PostgreSQL database.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod cli;
pub mod client;
pub mod forms;
pub mod harness;
mod hygiene;
mod inproc;
pub mod pg;
mod process;
pub mod receiver;
mod sandbox;
pub mod tcp;

#[allow(unused_imports)]
pub use harness::eventually;
pub use hygiene::assert_no_card_data;
pub use process::{first_stdout_line, unsafe_free_sigterm};
use reqwest::StatusCode;
use serde_json::{json, Value};

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

pub const CLIENT_ID: &str = "test";
pub const CLIENT_SECRET: &str = "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG";
pub const TERMINAL: &str = "67e34d63-102f-4bd1-898e-370781d0074d";
pub const TERMINAL_2: &str = "40a348cb-68a3-45d5-9002-a4836d79c3b5";
pub const TERMINAL_3: &str = "c36b282f-6819-4d4f-85df-a4bdc8a8f703";
pub const USD_TERMINAL: &str = "d9d7978c-d6ee-4ec0-8cda-165251a4bf16";
pub const SAVED_RECEIVER: &str = "fcf69516-f7e8-9b14-e053-1d1a000aef2f";
pub const VISA: &str = "4405639704015096";
pub const MASTERCARD: &str = "5522042705066736";
pub const AMEX_LOCKED: &str = "377514500004820";
pub const VISA_MASK: &str = "440563...5096";
pub const MASTERCARD_MASK: &str = "552204...6736";

/// How long a test waits for something that should happen soon (a delivery, a close).
pub const EVENTUALLY: Duration = Duration::from_secs(30);

/// The vault key of test servers on PostgreSQL (which needs one given explicitly).
pub const TEST_MASTER_KEY: &str =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_aqsha"))
}

/// Which database the test's server uses; each test is handed its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How the server runs.
enum Runner {
    /// The `aqsha` binary; `None` while stopped.
    Process(Option<Child>),
    /// The router in this process, on its own thread and runtime, with the configuration it
    /// restarts with; `None` while stopped.
    InProcess(Box<aqsha_server::Config>, Option<inproc::Running>),
}

pub struct Server {
    runner: Runner,
    /// The PostgreSQL database behind this one, when the backend is PostgreSQL.
    pub pg: Option<pg::PgDb>,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    extra_args: Vec<String>,
    /// Environment variables set for the server process (besides the inherited ones), and
    /// variables removed from it (a value of `None`).
    env: Vec<(String, Option<String>)>,
}

impl Server {
    /// A server in this process: no logs to read and no process to signal, but nothing to
    /// wait for either. Most tests want this one.
    pub fn start(backend: Backend) -> Server {
        Server::start_configured(backend, |_| {})
    }

    /// [`Server::start`] with settings changed from the defaults of `aqsha serve`.
    pub fn start_configured(
        backend: Backend,
        adjust: impl FnOnce(&mut aqsha_server::Config),
    ) -> Server {
        let pg = (backend == Backend::Postgres).then(pg::PgDb::create);
        let mut s = Server::new(pg, Vec::new(), Vec::new());
        let mut config = inproc::config(&s.data_dir(), s.pg.as_ref().map(|pg| pg.url.as_str()));
        adjust(&mut config);
        s.runner = Runner::InProcess(Box::new(config), None);
        s.spawn();
        s
    }

    /// The real `aqsha serve` process, for tests of its logs, signals, crashes and flags.
    pub fn process(backend: Backend) -> Server {
        Server::start_with(backend, &[])
    }

    /// [`Server::process`] with these command-line arguments.
    pub fn start_with(backend: Backend, args: &[&str]) -> Server {
        Server::start_with_env(backend, args, &[])
    }

    /// [`Server::start_with`], with environment variables set (`Some`) or removed (`None`).
    pub fn start_with_env(backend: Backend, args: &[&str], env: &[(&str, Option<&str>)]) -> Server {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect();
        let pg = (backend == Backend::Postgres).then(pg::PgDb::create);
        let mut extra: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if let Some(pg) = &pg {
            extra.extend([
                "--database".to_string(),
                pg.url.clone(),
                "--master-key".to_string(),
                TEST_MASTER_KEY.to_string(),
            ]);
        }
        Server::launch(pg, extra, env)
    }

    /// Another instance on an existing database (several instances behind one balancer). All
    /// instances must share the vault's master key.
    pub fn start_instance(database_url: &str, master_key: &str, args: &[&str]) -> Server {
        let mut extra: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        extra.extend([
            "--database".to_string(),
            database_url.to_string(),
            "--master-key".to_string(),
            master_key.to_string(),
        ]);
        Server::launch(None, extra, Vec::new())
    }

    fn launch(
        pg: Option<pg::PgDb>,
        extra: Vec<String>,
        env: Vec<(String, Option<String>)>,
    ) -> Server {
        let mut s = Server::new(pg, extra, env);
        s.spawn();
        s
    }

    fn new(pg: Option<pg::PgDb>, extra: Vec<String>, env: Vec<(String, Option<String>)>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Server {
            runner: Runner::Process(None),
            pg,
            url: String::new(),
            dir,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            extra_args: extra,
            env,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    pub fn path(&self, p: &str) -> String {
        format!("{}{}", self.url, p)
    }

    /// A transfer-scope token for a merchant added by [`Server::add_merchant`].
    pub async fn token_of(&self, merchant: &Value) -> String {
        self.token_of_scoped(merchant, "transfer").await
    }

    /// A token with this scope for a merchant added by [`Server::add_merchant`].
    pub async fn token_of_scoped(&self, merchant: &Value, scope: &str) -> String {
        let resp = self
            .http
            .post(self.path("/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", scope),
                ("client_id", merchant["client_id"].as_str().unwrap()),
                ("client_secret", merchant["client_secret"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap();
        let v: Value = resp.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_string()
    }

    /// A token for the sandbox merchant, bound to the given fields.
    pub async fn token(&self, fields: &[(&str, &str)]) -> String {
        let (status, body) = self.token_raw(fields).await;
        assert_eq!(status, StatusCode::OK, "token request failed: {body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn token_raw(&self, fields: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut form: Vec<(String, String)> = vec![
            ("grant_type".into(), "client_credentials".into()),
            ("scope".into(), "transfer".into()),
            ("client_id".into(), CLIENT_ID.into()),
            ("client_secret".into(), CLIENT_SECRET.into()),
        ];
        for (k, v) in fields {
            form.retain(|(name, _)| name != k);
            form.push((k.to_string(), v.to_string()));
        }
        let resp = self
            .http
            .post(self.path("/oauth2/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }

    /// A token bound to this order's invoice, amount, currency and terminal, and to its
    /// customer (`accountID`) when it names one, as the Aqsha client does.
    pub async fn token_for(&self, order: &Value) -> String {
        let amount = order["amount"].to_string();
        let mut fields = vec![
            ("invoiceID", order["id"].as_str().unwrap()),
            ("amount", amount.trim_matches('"')),
            ("currency", order["currency"].as_str().unwrap()),
            ("terminal", order["terminalId"].as_str().unwrap()),
        ];
        if let Some(account) = order["accountID"].as_str() {
            fields.push(("accountId", account));
        }
        self.token(&fields).await
    }

    pub async fn transfer(&self, token: &str, body: &Value) -> (StatusCode, Value) {
        self.transfer_text(token, &body.to_string()).await
    }

    pub async fn transfer_text(&self, token: &str, body: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(self.path("/payments/cards/auth"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        (status, value)
    }

    /// Token + transfer for a body whose order carries the binding fields.
    pub async fn pay(&self, body: &Value) -> (StatusCode, Value) {
        let token = self.token_for(&body["order"]).await;
        self.transfer(&token, body).await
    }

    /// The API's password grant (`/oauth2/token`, scope `transfer`) for a cabinet login.
    pub async fn password_grant(&self, username: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.path("/oauth2/token"))
            .form(&[
                ("grant_type", "password"),
                ("scope", "transfer"),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }

    /// A second merchant with a cabinet login (`owner@shop-b.kz`, its generated password in
    /// `cabinet_password`) and one charge of 70 KZT of its own; the merchant and that invoice.
    pub async fn other_merchant_with_a_charge(&self) -> (Value, String) {
        let other = self.add_merchant_with("shop-b", &["--cabinet-email", "owner@shop-b.kz"]);
        let theirs = invoice();
        let mut body = seed_like_body(&theirs, json!(70));
        body["order"]["terminalId"] = other["terminal"].clone();
        body["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD});
        let (st, r) = self.transfer(&self.token_of(&other).await, &body).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        (other, theirs)
    }

    pub async fn get_json(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(self.path(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }

    pub async fn sandbox_get(&self, path: &str) -> Value {
        let resp = self
            .sandbox(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    /// Balance of a sandbox card by mask, in minor units (balance is shown in tenge).
    pub async fn balance(&self, mask: &str) -> i64 {
        let cards = self.sandbox_get("/sandbox/cards").await;
        let card = cards
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["mask"] == mask)
            .unwrap_or_else(|| panic!("no sandbox card {mask}"));
        to_minor(&card["balance"])
    }

    pub async fn assert_ledger_balanced(&self) {
        let l = self.sandbox_get("/sandbox/ledger").await;
        assert_eq!(l["balanced"], true, "ledger: {l}");
    }

    /// Issues a new sandbox card; returns its card number.
    pub async fn issue_card(&self, expire: &str, cvc: &str, balance: &str, locked: bool) -> String {
        let card = json!({"expire": expire, "cvc": cvc, "balance": balance, "locked": locked});
        let (status, v) = self.sandbox_post("/sandbox/cards", &card).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["pan"].as_str().unwrap().to_string()
    }

    /// Runs `aqsha merchant ARGS…` against this server's database (no vault key: the
    /// administration commands other than `add` touch no card data).
    pub fn merchant_cli(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new(bin());
        cmd.arg("merchant")
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir());
        if let Some(pg) = &self.pg {
            cmd.args(["--database", &pg.url]);
        }
        cmd.env_remove("AQSHA_MASTER_KEY").output().unwrap()
    }

    /// Creates a second merchant through the CLI, against this server's database.
    pub fn add_merchant(&self, client_id: &str) -> Value {
        self.add_merchant_with(client_id, &[])
    }

    /// [`Server::add_merchant`] with more arguments (`--cabinet-email`, say).
    pub fn add_merchant_with(&self, client_id: &str, more: &[&str]) -> Value {
        let mut cmd = Command::new(bin());
        cmd.args(["merchant", "add", "--client-id", client_id])
            .args(more)
            .arg("--data-dir")
            .arg(self.data_dir());
        if let Some(pg) = &self.pg {
            cmd.args(["--database", &pg.url, "--master-key", TEST_MASTER_KEY]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // An in-process server stops when its `Running` is dropped.
        if let Runner::Process(Some(mut c)) =
            std::mem::replace(&mut self.runner, Runner::Process(None))
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How many of these answers are charges, and how many declines with `code`.
pub fn charged_and_declined(results: &[(StatusCode, Value)], code: u64) -> (usize, usize) {
    let ok = results
        .iter()
        .filter(|(st, _)| *st == StatusCode::OK)
        .count();
    let declined = results
        .iter()
        .filter(|(st, r)| *st == StatusCode::BAD_REQUEST && r["code"] == code)
        .count();
    (ok, declined)
}

pub fn to_minor(v: &Value) -> i64 {
    let text = v.to_string();
    let (w, f) = text.split_once('.').unwrap_or((&text, ""));
    let f = format!("{f:0<2}");
    w.parse::<i64>().unwrap() * 100 + f[..2].parse::<i64>().unwrap()
}

static INVOICE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A fresh invoice id whose last six digits are unique within this test process.
pub fn invoice() -> String {
    let n = INVOICE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pid = std::process::id() as u64 % 1000;
    format!("{pid:03}{:06}{:06}", rand_u32() % 1_000_000, n % 1_000_000)
}

fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.subsec_nanos()
}

/// The sandbox merchant's token request bound to this order (invoice, amount, currency,
/// terminal, and customer when the order names one), as a form: for tests that send it
/// themselves, through a client of their own or to a server that may be down.
pub fn order_token_form(order: &Value) -> Vec<(&'static str, String)> {
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let mut form = vec![
        ("grant_type", "client_credentials".to_string()),
        ("scope", "transfer".to_string()),
        ("client_id", CLIENT_ID.to_string()),
        ("client_secret", CLIENT_SECRET.to_string()),
        ("invoiceID", text(&order["id"])),
        ("amount", order["amount"].to_string()),
        ("currency", text(&order["currency"])),
        ("terminal", text(&order["terminalId"])),
    ];
    if let Some(account) = order["accountID"].as_str() {
        form.push(("accountId", account.to_string()));
    }
    form
}

/// A transfer body: sender by PAN (the seed's VISA), receiver the seed's saved card.
pub fn seed_like_body(invoice: &str, amount: Value) -> Value {
    json!({
        "order": {
            "amount": amount,
            "currency": "KZT",
            "description": "Test p2p payment",
            "id": invoice,
            "accountID": "testUser1",
            "senderEmail": "dosbols@halykbank.kz",
            "terminalId": TERMINAL_2,
        },
        "card": {
            "sender": {
                "transferType": "TYPEPAN",
                "cvc": "815",
                "expire": {"month": "01", "year": "25"},
                "name": "Arman Ali",
                "cardCred": VISA
            },
            "receiver": {"transferType": "TYPECARDID", "cardCred": SAVED_RECEIVER}
        }
    })
}

/// Files under a directory, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
