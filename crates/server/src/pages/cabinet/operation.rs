//! `GET /cabinet/operations/{id}`: one operation's whole story (issue 16, item 4): its fields
//! as the status API shows them ([`crate::routes::status::transaction`], the same code), both
//! cards masked, the fee, its ledger postings, its 3-D Secure challenge, and every callback
//! event with every delivery attempt; `POST …/callbacks/{event}/resend` sends one again
//! through the outbox ([`crate::ops::callbacks::resend`]). Another merchant's operation is a
//! 404, as an unknown one is: every read is scoped by the session's merchant.

use super::format::{self, Zone};
use super::kit::{post_token, Outcome, L};
use super::operations::{find, row, Row};
use super::session::CabinetMerchant;
use super::words::{self, t};
use super::{render, Layout};
use crate::pages::assets;
use crate::pages::csrf::CsrfToken;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::AppState;
use aqsha_core::records::{OperationRecord, OperationStatus};
use aqsha_core::store::CallbackView;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Html;
use chrono::{DateTime, Utc};

/// One attempt as the page shows it.
pub struct AttemptRow {
    pub number: u32,
    pub time: String,
    pub url: String,
    pub status: String,
    pub ok: bool,
    pub excerpt: String,
    pub next: String,
    pub duration: u64,
}

/// One callback event with its attempts.
pub struct EventRow {
    pub id: String,
    pub kind: &'static str,
    pub url: String,
    pub status: &'static str,
    pub delivered: bool,
    pub next: String,
    pub attempts: Vec<AttemptRow>,
}

pub struct PostingRow {
    pub account: String,
    pub kind: String,
    pub amount: String,
    pub debit: bool,
}

pub struct ChallengeRow {
    pub result: String,
    pub wrong_codes: u32,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "cabinet_operation.html")]
struct OperationPage {
    lang: Lang,
    stylesheet: String,
    layout: Layout,
    l: L,
    r: Row,
    outcome: Outcome,
    /// The status API's `transaction`, key by key, in its order.
    fields: Vec<(String, String)>,
    pending_until: Option<String>,
    postings: Vec<PostingRow>,
    challenge: Option<ChallengeRow>,
    events: Vec<EventRow>,
}

fn time_or_dash(at: Option<DateTime<Utc>>, zone: Zone, lang: Lang) -> String {
    at.map_or_else(|| "—".into(), |at| format::time(at, zone, lang))
}

fn event_row(v: CallbackView, zone: Zone, lang: Lang) -> EventRow {
    let l = L(lang);
    let attempts = v
        .attempts
        .iter()
        .map(|a| AttemptRow {
            number: a.attempt,
            time: format::time(a.at, zone, lang),
            url: v.event.url.clone(),
            status: match (a.http_status, &a.error) {
                (Some(s), _) => s.to_string(),
                (None, Some(e)) => e.clone(),
                (None, None) => "—".into(),
            },
            ok: a.http_status.is_some_and(|s| (200..300).contains(&s)),
            excerpt: a.response_excerpt.clone().unwrap_or_default(),
            next: time_or_dash(a.next_attempt_at, zone, lang),
            duration: a.duration_ms,
        })
        .collect();
    let status = match v.status.as_str() {
        "delivered" => l.t("Доставлено", "Жеткізілді", "Delivered"),
        "failed" => l.t("Не доставлено", "Жеткізілмеді", "Gave up"),
        _ => l.t("Ожидает доставки", "Жеткізуді күтуде", "Pending"),
    };
    EventRow {
        id: v.event.id.clone(),
        kind: match v.event.kind.as_str() {
            "success" => "postLink",
            _ => "failurePostLink",
        },
        url: v.event.url.clone(),
        status,
        delivered: v.status.as_str() == "delivered",
        next: time_or_dash(v.next_attempt_at, zone, lang),
        attempts,
    }
}

/// The status API's view of the operation as (key, value) pairs.
async fn status_fields(app: &AppState, op: &OperationRecord) -> Vec<(String, String)> {
    let Ok(tx) = crate::routes::status::shown(app, op).await else {
        return Vec::new();
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&tx) else {
        return Vec::new();
    };
    map.into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect()
}

async fn load(
    app: &AppState,
    m: &CabinetMerchant,
    csrf: &str,
    id: &str,
    outcome: Outcome,
) -> Result<Html<String>, PageError> {
    let lang = m.lang;
    let op = find(app, m, id).await?.ok_or(PageError::not_found(lang))?;
    let failed = |e| PageError::internal(lang, "reading an operation's story failed", e);
    let postings = app
        .store
        .operation_postings(&m.merchant_id, &op.id)
        .await
        .map_err(failed)?;
    let events = app
        .store
        .callbacks(&m.merchant_id, Some(&op.invoice_id))
        .await
        .map_err(failed)?;
    let challenge = app.store.challenge_view(&op.id).await.map_err(failed)?;
    let pending_until = if op.status == OperationStatus::Pending {
        let due = app
            .store
            .pending_due(&m.merchant_id, &op.id)
            .await
            .map_err(failed)?;
        // A challenge waiting for its code resolves when it expires, if not before.
        let expires = challenge.as_ref().map(|c| c.challenge.expires_at);
        Some(time_or_dash(due.or(expires), m.zone, lang))
    } else {
        None
    };
    let path = format!("/cabinet/operations/{}", op.id);
    let mut layout = Layout::new(m, csrf, &path, &path);
    layout.title = t(&words::NAV[1].1, lang);
    let page = OperationPage {
        lang,
        stylesheet: assets::url("pages.css"),
        layout,
        l: L(lang),
        r: row(&op, m.zone, lang),
        outcome,
        fields: status_fields(app, &op).await,
        pending_until,
        postings: postings
            .into_iter()
            .map(|p| PostingRow {
                account: p.account_id,
                kind: p.kind,
                amount: format::tenge(p.amount_minor, lang),
                debit: p.amount_minor < 0,
            })
            .collect(),
        challenge: challenge
            .filter(|c| c.challenge.merchant_id == m.merchant_id)
            .map(|c| ChallengeRow {
                result: match c.challenge.result {
                    None => L(lang).t("ждёт кода", "код күтуде", "waiting for the code"),
                    Some(0) => L(lang).t("пройдена", "өтті", "passed"),
                    Some(_) => L(lang).t("не пройдена", "өтпеді", "failed"),
                }
                .to_string()
                    + &c.challenge
                        .result
                        .filter(|r| *r != 0)
                        .map(|r| format!(" · {r}"))
                        .unwrap_or_default(),
                wrong_codes: c.challenge.wrong_codes,
                expires: format::time(c.challenge.expires_at, m.zone, lang),
            }),
        events: events
            .into_iter()
            .filter(|v| v.event.operation_id == op.id)
            .map(|v| event_row(v, m.zone, lang))
            .collect(),
    };
    render(&page, lang)
}

/// `GET /cabinet/operations/{id}`.
pub async fn page(
    State(app): State<AppState>,
    m: CabinetMerchant,
    csrf: CsrfToken,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    load(&app, &m, &csrf.0, &id, Outcome::default()).await
}

/// `POST /cabinet/operations/{id}/callbacks/{event}/resend`: the event due again now, in the
/// outbox; the page again, saying so. An event of another operation or merchant is a 404.
pub async fn resend(
    State(app): State<AppState>,
    m: CabinetMerchant,
    headers: HeaderMap,
    Path((id, event)): Path<(String, String)>,
) -> Result<Html<String>, PageError> {
    let lang = m.lang;
    let op = find(&app, &m, &id)
        .await?
        .ok_or(PageError::not_found(lang))?;
    let events = app
        .store
        .callbacks(&m.merchant_id, Some(&op.invoice_id))
        .await
        .map_err(|e| PageError::internal(lang, "reading callbacks failed", e))?;
    if !events
        .iter()
        .any(|v| v.event.id == event && v.event.operation_id == op.id)
    {
        return Err(PageError::not_found(lang));
    }
    let found = crate::ops::callbacks::resend(&app, &m.merchant_id, &event)
        .await
        .map_err(|e| PageError::internal(lang, "resending a callback failed", e))?;
    if !found {
        return Err(PageError::not_found(lang));
    }
    let done = L(lang).t(
        "Уведомление поставлено в очередь на отправку.",
        "Хабарлама жіберу кезегіне қойылды.",
        "The callback is queued to be sent again.",
    );
    let token = post_token(&app, &headers);
    load(&app, &m, &token, &id, Outcome::done(done)).await
}
