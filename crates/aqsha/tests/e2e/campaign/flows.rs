//! The honest clients: complete flows (a token bound to the order, then the transfer) against
//! whichever instance is up, with callbacks to the campaign's receiver. Each flow is recorded
//! with what the client saw, so that the checks can hold the server to it.

use super::cluster::{pick, Cluster, Urls};
use crate::common::{MASTERCARD, SAVED_RECEIVER, TERMINAL_2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a flow does; each kind is a different path through the transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The client's card to a card number.
    ToPan,
    /// The client's card to the seed's saved card (`TYPECARDID`, customer `testUser1`).
    ToSaved,
    /// The client's card to a card number, saving the sender for the client's customer.
    SaveSender,
    /// A card with 1 KZT: declined for funds (484).
    Decline,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// The token request got no token (the server was down or died): nothing was sent.
    NoToken,
    /// The transfer got a complete answer.
    Answered { status: u16, body: Value, at: Instant },
    /// The transfer got no answer (connection cut, timeout, 503): the outcome is unknown.
    Unanswered { why: String },
}

#[derive(Debug, Clone)]
pub struct Flow {
    pub client: usize,
    pub kind: Kind,
    pub invoice: String,
    pub body: Value,
    pub amount_minor: i64,
    pub token: Option<String>,
    pub sent: Instant,
    pub outcome: Outcome,
    /// What the checks found the outcome to be in the end (`CHARGE`, `FAILED`, `none`).
    pub resolved: Option<String>,
    /// The charge's fee, from the status API.
    pub fee_minor: i64,
    /// Unanswered during the load, and sent again by the checks (its outcome is the retry's).
    pub retried: bool,
    /// Why it was unanswered during the load (`connect`, `cut`, `timeout`, `503`).
    pub unanswered_why: String,
}

/// A client's cards: one with plenty of money, one with 1 KZT.
#[derive(Debug, Clone)]
pub struct Cards {
    pub rich_id: String,
    pub rich_pan: String,
    pub poor_id: String,
    pub poor_pan: String,
}

pub struct Ctx {
    pub urls: Urls,
    pub http: reqwest::Client,
    pub receiver: String,
    pub cards: Vec<Cards>,
}

const CVC: &str = "321";
/// The opening balance of each client's rich card: 10,000,000 KZT, in tiyn.
pub const RICH_MINOR: i64 = 1_000_000_000;

impl Ctx {
    pub async fn prepare(cluster: &Cluster, receiver: &str, clients: usize) -> Ctx {
        let s = cluster.admin();
        let mut cards = Vec::new();
        for _ in 0..clients {
            let (rich_id, rich_pan) = issue(s, "10000000").await;
            let (poor_id, poor_pan) = issue(s, "1").await;
            cards.push(Cards {
                rich_id,
                rich_pan,
                poor_id,
                poor_pan,
            });
        }
        Ctx {
            urls: cluster.urls.clone(),
            // A client gives up on an answer after this; the flow is then unanswered.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            receiver: receiver.to_string(),
            cards,
        }
    }

    /// A live instance, waiting while all are down (a restart is at most seconds away).
    pub async fn url(&self, rng: &mut StdRng) -> String {
        loop {
            if let Some(url) = pick(&self.urls, rng) {
                return url;
            }
            // The restart cannot be awaited from here; it is observed by polling.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A card of the sandbox merchant's with this balance in KZT: its id and number.
async fn issue(s: &crate::common::Server, balance: &str) -> (String, String) {
    let card = json!({"expire": "12/39", "cvc": CVC, "balance": balance});
    let (status, v) = s.sandbox_post("/sandbox/cards", &card).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{v}");
    let field = |k: &str| v[k].as_str().unwrap().to_string();
    (field("id"), field("pan"))
}

/// Runs flows one after the other until `deadline`.
pub async fn run_client(ctx: Arc<Ctx>, client: usize, seed: u64, deadline: Instant) -> Vec<Flow> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut flows = Vec::new();
    while Instant::now() < deadline {
        let kind = match rng.gen_range(0..100) {
            0..=39 => Kind::ToPan,
            40..=64 => Kind::ToSaved,
            65..=79 => Kind::SaveSender,
            _ => Kind::Decline,
        };
        flows.push(one_flow(&ctx, client, kind, &mut rng).await);
    }
    flows
}

/// A transfer body of this kind, and its amount in tiyn.
fn body(ctx: &Ctx, client: usize, kind: Kind, rng: &mut StdRng) -> (Value, i64) {
    let mut minor: i64 = rng.gen_range(100..=50_099);
    // Tiyn .01 and .02 are the sandbox's magic amounts (docs/sandbox.md): an issuer's answer
    // chosen by the amount, which these flows do not ask for.
    if matches!(minor % 100, 1 | 2) {
        minor += 2;
    }
    let cards = &ctx.cards[client];
    let pan = if kind == Kind::Decline { &cards.poor_pan } else { &cards.rich_pan };
    let mut sender = json!({"transferType": "TYPEPAN", "cardCred": pan, "cvc": CVC,
        "expire": {"month": "12", "year": "39"}, "name": "Campaign Client"});
    let (account, receiver) = match kind {
        Kind::ToSaved => (
            "testUser1".to_string(),
            json!({"transferType": "TYPECARDID", "cardCred": SAVED_RECEIVER}),
        ),
        _ => (
            format!("campaign-{client}"),
            json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD}),
        ),
    };
    if kind == Kind::SaveSender {
        sender["save"] = json!(true);
    }
    let amount: Value = format!("{}.{:02}", minor / 100, minor % 100).parse().unwrap();
    let body = json!({
        "order": {"amount": amount, "currency": "KZT", "description": "campaign",
            "id": crate::common::invoice(), "accountID": account, "terminalId": TERMINAL_2,
            "postLink": format!("{}/ok", ctx.receiver),
            "failurePostLink": format!("{}/fail", ctx.receiver)},
        "card": {"sender": sender, "receiver": receiver},
    });
    (body, minor)
}

async fn one_flow(ctx: &Ctx, client: usize, kind: Kind, rng: &mut StdRng) -> Flow {
    let (body, amount_minor) = body(ctx, client, kind, rng);
    let mut flow = Flow {
        client,
        kind,
        invoice: body["order"]["id"].as_str().unwrap().to_string(),
        body,
        amount_minor,
        token: None,
        sent: Instant::now(),
        outcome: Outcome::NoToken,
        resolved: None,
        fee_minor: 0,
        retried: false,
        unanswered_why: String::new(),
    };
    let url = ctx.url(rng).await;
    flow.token = token(&ctx.http, &url, &flow.body["order"]).await;
    let Some(token) = flow.token.clone() else {
        return flow;
    };
    // The transfer goes to any instance: a token issued by one works at the others.
    let url = ctx.url(rng).await;
    flow.sent = Instant::now();
    flow.outcome = transfer(&ctx.http, &url, &token, &flow.body).await;
    flow
}

/// A token bound to the order, as a merchant's backend asks for one; `None` without an answer.
pub async fn token(http: &reqwest::Client, url: &str, order: &Value) -> Option<String> {
    let form = crate::common::order_token_form(order);
    let resp = http.post(format!("{url}/oauth2/token")).form(&form).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let v: Value = resp.json().await.ok()?;
    v["access_token"].as_str().map(str::to_string)
}

/// Sends the transfer; a 503 (busy, or the request timeout) counts as unanswered, as its
/// outcome may be unknown.
pub async fn transfer(http: &reqwest::Client, url: &str, token: &str, body: &Value) -> Outcome {
    let sent = http
        .post(format!("{url}/payments/cards/auth"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return Outcome::Unanswered { why: kind_of(&e) },
    };
    let status = resp.status().as_u16();
    match resp.text().await {
        Ok(_) if status == 503 => Outcome::Unanswered { why: "503".into() },
        Ok(text) => Outcome::Answered {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            at: Instant::now(),
        },
        Err(e) => Outcome::Unanswered { why: kind_of(&e) },
    }
}

fn kind_of(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else {
        "cut".into()
    }
}
