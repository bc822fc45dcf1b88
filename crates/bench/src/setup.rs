//! Before the run: the bench's own terminals and funded cards, through the sandbox API, and
//! the request bodies encoded once.

use crate::BenchArgs;
use anyhow::{bail, Context};
use futures_util::StreamExt;
use rand::Rng;
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) struct Setup {
    pub(crate) cards: Vec<(String, String)>,
    pub(crate) terminals: Vec<String>,
    pub(crate) prefix: u64,
}

pub(crate) fn http_client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .timeout(Duration::from_secs(30))
        .build()?)
}

pub(crate) async fn setup(args: &BenchArgs, http: &reqwest::Client) -> anyhow::Result<Setup> {
    let mut terminals = Vec::new();
    for _ in 0..args.terminals.max(1) {
        let v = sandbox_post(http, args, "terminals", json!({"currency": "KZT"})).await?;
        terminals.push(v["id"].as_str().unwrap_or_default().to_string());
    }
    // Cards are issued 32 at a time, so their commits group.
    let issue = |_| async {
        let card = json!({"expire": "12/39", "cvc": "123", "balance": args.balance.to_string()});
        let v = sandbox_post(http, args, "cards", card).await?;
        Ok::<_, anyhow::Error>((
            v["pan"].as_str().unwrap_or_default().to_string(),
            "123".to_string(),
        ))
    };
    let cards: Vec<(String, String)> = futures_util::stream::iter(0..args.cards.max(2))
        .map(issue)
        .buffer_unordered(32)
        .collect::<Vec<anyhow::Result<_>>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    // Invoices are 15 digits: an 8-digit random run prefix, the terminal's index, and a 6-digit
    // counter per terminal, so the last six digits are unique per terminal.
    let prefix = rand::thread_rng().gen_range(10_000_000..100_000_000u64);
    Ok(Setup {
        cards,
        terminals,
        prefix,
    })
}

/// `POST /sandbox/{what}` with the merchant's credentials; the answer's JSON.
async fn sandbox_post(
    http: &reqwest::Client,
    args: &BenchArgs,
    what: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let r = http
        .post(format!("{}/sandbox/{what}", args.url))
        .basic_auth(&args.client_id, Some(&args.client_secret))
        .json(&body)
        .send()
        .await
        .context("cannot reach the server")?;
    if !r.status().is_success() {
        bail!(
            "creating sandbox {what} failed: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }
    Ok(r.json().await?)
}

/// What one flow needs, encoded once at setup: per terminal, the token request's fields but
/// the invoice and the terminal's JSON; per card, its sender and receiver JSON.
pub(crate) struct Requests {
    pub(crate) token_forms: Vec<String>,
    pub(crate) amount: String,
    pub(crate) senders: Vec<String>,
    pub(crate) receivers: Vec<String>,
    pub(crate) terminals: Vec<String>,
}

impl Requests {
    pub(crate) fn new(args: &BenchArgs, setup: &Setup) -> anyhow::Result<Requests> {
        let token_forms = setup
            .terminals
            .iter()
            .map(|terminal| {
                serde_urlencoded::to_string([
                    ("grant_type", "client_credentials"),
                    ("scope", "transfer"),
                    ("client_id", &args.client_id),
                    ("client_secret", &args.client_secret),
                    ("amount", &args.amount),
                    ("currency", "KZT"),
                    ("terminal", terminal),
                ])
            })
            .collect::<Result<_, _>>()?;
        let amount: u64 = args
            .amount
            .parse()
            .with_context(|| format!("--amount {:?} must be whole tenge", args.amount))?;
        let senders = setup
            .cards
            .iter()
            .map(|(pan, cvc)| {
                json!({"transferType": "TYPEPAN", "cardCred": pan, "cvc": cvc,
                    "expire": {"month": "12", "year": "39"}})
                .to_string()
            })
            .collect();
        let receivers = setup
            .cards
            .iter()
            .map(|(pan, _)| json!({"transferType": "TYPEPAN", "cardCred": pan}).to_string())
            .collect();
        let terminals = setup
            .terminals
            .iter()
            .map(|t| Value::from(t.as_str()).to_string())
            .collect();
        Ok(Requests {
            token_forms,
            amount: amount.to_string(),
            senders,
            receivers,
            terminals,
        })
    }
}
