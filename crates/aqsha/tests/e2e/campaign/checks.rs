//! The invariants, checked through the public API once the load has stopped: every answer
//! the clients got is what the status API says, every unanswered request is resolved and safe
//! to retry, no card paid twice, the ledger balanced and money conserved to the tiyn, and
//! every final operation's callback delivered.

use super::flows::{self, Ctx, Flow, Kind, Outcome};
use super::report::Report;
use crate::common::receiver::{Answer, Receiver};
use crate::common::{to_minor, Server, TERMINAL_2};
use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// The ledger's balances per kind of account, in KZT tiyn.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub by_kind: HashMap<String, i64>,
}

impl Snapshot {
    pub async fn take(s: &Server) -> Snapshot {
        let ledger = s.sandbox_get("/sandbox/ledger").await;
        assert_eq!(ledger["balanced"], true, "{ledger}");
        let by_kind = ledger["totals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["currency"] == "KZT")
            .map(|t| (t["kind"].as_str().unwrap().to_string(), t["balance_minor"].as_i64().unwrap()))
            .collect();
        Snapshot { by_kind }
    }

    fn of(&self, kind: &str) -> i64 {
        self.by_kind.get(kind).copied().unwrap_or(0)
    }
}

pub async fn run(
    s: &Server,
    ctx: &Ctx,
    receiver: &Receiver,
    flows: &mut [Flow],
    before: &Snapshot,
    r: &mut Report,
) {
    let status_token = s.token(&[("terminal", TERMINAL_2)]).await;
    resolve_unanswered(s, ctx, &status_token, flows, r).await;
    let statuses: Vec<Value> = stream::iter(flows.iter())
        .map(|f| status(ctx, &s.url, &status_token, &f.invoice))
        .buffered(16)
        .collect()
        .await;
    for (f, st) in flows.iter_mut().zip(&statuses) {
        check_status(f, st, r);
    }
    check_cards(s, ctx, flows, r).await;
    check_money(s, flows, before, r).await;
    wait_for_callbacks(receiver, flows, r).await;
}

async fn status(ctx: &Ctx, url: &str, token: &str, invoice: &str) -> Value {
    let resp = ctx
        .http
        .get(format!("{url}/check-status/payment/transaction/{invoice}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

/// Each unanswered transfer: its status first (whatever it is), then the same request again
/// with the same token, which must either replay the committed answer or run it now.
async fn resolve_unanswered(s: &Server, ctx: &Ctx, st: &str, flows: &mut [Flow], r: &mut Report) {
    for f in flows.iter_mut() {
        if !matches!(f.outcome, Outcome::Unanswered { .. }) {
            continue;
        }
        let before = status(ctx, &s.url, st, &f.invoice).await;
        let token = f.token.clone().unwrap();
        let mut answer = flows::transfer(&ctx.http, &s.url, &token, &f.body).await;
        // A 503 says "busy, try again": the campaign's drain may still be busy.
        for _ in 0..20 {
            if !matches!(answer, Outcome::Unanswered { .. }) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            answer = flows::transfer(&ctx.http, &s.url, &token, &f.body).await;
        }
        let Outcome::Answered { status: code, body, .. } = &answer else {
            r.violation(format!("{}: the retry got no answer: {answer:?}", f.invoice));
            continue;
        };
        match before["resultCode"].as_str() {
            Some("100") => {
                r.unanswered_committed += 1;
                let same = *code == 200 && body["id"] == before["transaction"]["id"];
                if !same {
                    r.violation(format!(
                        "{}: charged before the retry, but the retry answered {code} {body}",
                        f.invoice
                    ));
                }
            }
            Some("101") => {
                r.unanswered_committed += 1;
                if !(*code == 400 && body["id"] == before["transaction"]["id"]) {
                    r.violation(format!(
                        "{}: declined before the retry, but the retry answered {code} {body}",
                        f.invoice
                    ));
                }
            }
            Some("102") => r.unanswered_not_done += 1,
            other => r.violation(format!("{}: status before the retry {other:?}", f.invoice)),
        }
        if let Outcome::Unanswered { why } = &f.outcome {
            f.unanswered_why = why.clone();
        }
        f.retried = true;
        f.outcome = answer;
    }
}

/// What the client was told must be what the status API says.
fn check_status(f: &mut Flow, st: &Value, r: &mut Report) {
    let code = st["resultCode"].as_str().unwrap_or("?");
    let tx = &st["transaction"];
    match (&f.outcome, code) {
        (Outcome::NoToken, "102") => f.resolved = Some("none".into()),
        (Outcome::Answered { status: 200, body, .. }, "100")
            if tx["statusName"] == "CHARGE"
                && tx["id"] == body["id"]
                && to_minor(&tx["amount"]) == f.amount_minor =>
        {
            f.fee_minor = to_minor(&tx["fee"]);
            f.resolved = Some("CHARGE".into());
        }
        (Outcome::Answered { status: 400, body, .. }, "101")
            if f.kind == Kind::Decline
                && body["code"] == 484
                && tx["statusName"] == "FAILED"
                && tx["reasonCode"] == "484" =>
        {
            f.resolved = Some("FAILED".into())
        }
        (outcome, _) => r.violation(format!(
            "{} ({:?}): the client saw {outcome:?}, the status API says {st}",
            f.invoice, f.kind
        )),
    }
}

/// Each client's card paid exactly its charges' amounts and fees: a double charge would show.
async fn check_cards(s: &Server, ctx: &Ctx, flows: &[Flow], r: &mut Report) {
    let cards = s.sandbox_get("/sandbox/cards").await;
    let balance = |id: &str| {
        let card = cards.as_array().unwrap().iter().find(|c| c["id"] == id);
        to_minor(&card.unwrap()["balance"])
    };
    for (client, c) in ctx.cards.iter().enumerate() {
        let paid: i64 = flows
            .iter()
            .filter(|f| f.client == client && f.resolved.as_deref() == Some("CHARGE"))
            .map(|f| f.amount_minor + f.fee_minor)
            .sum();
        let (want, got) = (super::flows::RICH_MINOR - paid, balance(&c.rich_id));
        if want != got {
            r.violation(format!("client {client}'s card: balance {got}, expected {want}"));
        }
        // The card with 1 KZT only ever declines.
        if balance(&c.poor_id) != 100 {
            r.violation(format!("client {client}'s 1 KZT card moved"));
        }
    }
}

/// The ledger balanced, and money conserved: transfers move money between cards and fee
/// accounts only, and the fee accounts gained exactly the fees of the charges.
async fn check_money(s: &Server, flows: &[Flow], before: &Snapshot, r: &mut Report) {
    let after = Snapshot::take(s).await;
    let fees: i64 = flows.iter().filter(|f| f.resolved.as_deref() == Some("CHARGE")).map(|f| f.fee_minor).sum();
    r.money = Some(super::report::Money {
        cards_before: before.of("card"),
        cards_after: after.of("card"),
        fees_before: before.of("fee"),
        fees_after: after.of("fee"),
        fees_charged: fees,
    });
    if before.of("card") + before.of("fee") != after.of("card") + after.of("fee") {
        r.violation(format!("money not conserved: {before:?} -> {after:?}"));
    }
    if after.of("fee") - before.of("fee") != fees || before.of("funding") != after.of("funding") {
        r.violation(format!("fees {fees} charged, but the ledger went {before:?} -> {after:?}"));
    }
}

/// Waits (on the receiver's arrivals, bounded) until every final operation's callback was
/// answered 200 at least once.
async fn wait_for_callbacks(receiver: &Receiver, flows: &[Flow], r: &mut Report) {
    let mut remaining: HashMap<String, &str> = flows
        .iter()
        .filter_map(|f| match f.resolved.as_deref() {
            Some("CHARGE") => Some((f.invoice.clone(), "/ok")),
            Some("FAILED") => Some((f.invoice.clone(), "/fail")),
            _ => None,
        })
        .collect();
    r.callbacks_expected = remaining.len();
    let arrivals = receiver.arrivals();
    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_secs(180);
    let mut seen = 0;
    loop {
        let arrived = arrivals.notified();
        // Only the hits since the last look: a long campaign has a hundred thousand.
        let hits = receiver.hits_since(seen);
        seen += hits.len();
        for h in hits.iter().filter(|h| h.answer == Answer::Status(200)) {
            let invoice = h.json()["invoiceId"].as_str().unwrap_or("").to_string();
            if remaining.get(&invoice) == Some(&h.path.as_str()) {
                remaining.remove(&invoice);
            }
        }
        if remaining.is_empty() || tokio::time::timeout_at(deadline, arrived).await.is_err() {
            break;
        }
    }
    let missing: Vec<&String> = remaining.keys().collect();
    r.drain = started.elapsed();
    for i in missing.iter().take(20) {
        r.violation(format!("{i}: no callback delivered within 180 s"));
    }
    if missing.len() > 20 {
        r.violation(format!("... and {} more callbacks missing", missing.len() - 20));
    }
}
