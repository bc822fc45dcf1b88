//! `GET /cabinet/operations`: the merchant's operations, newest first, filtered, with the
//! search box and keyset paging. One operation's page is [`super::operation`].
//!
//! The filters become conditions of the API's search ([`aqsha_core::search::Search`]), run by
//! the store's one query builder; the merchant is the store call's first argument, from the
//! session. A page starts after the last row of the page before (`after`, a cursor of its
//! time and id), so page 1000 costs what page 1 does.

use super::format::{self, Zone};
use super::session::CabinetMerchant;
use super::{render, Layout};
use crate::pages::assets;
use crate::pages::csrf::CsrfToken;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::AppState;
use aqsha_core::money::Money;
use aqsha_core::records::{OperationRecord, OperationStatus};
use aqsha_core::search::{stored_time, Condition, Cursor, Field, Method, Search, Value};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Html;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Rows on a page.
pub const PAGE_SIZE: u32 = 50;

/// The list's filters, as the form sends them (every field optional; empty means unset).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Filters {
    /// The search box.
    pub q: String,
    /// Local dates, `YYYY-MM-DD`, both included.
    pub from: String,
    pub to: String,
    /// `CHARGE` or `FAILED`.
    pub status: String,
    pub terminal: String,
    pub invoice: String,
    pub reference: String,
    /// A mask or its last digits (`5096`, `440563...7622`, `*7622`).
    pub card: String,
    pub account: String,
    /// Tenge, `1234.56` or `1234,56`.
    pub min: String,
    pub max: String,
    pub code: String,
    /// The keyset cursor ([`Cursor::encode`]).
    pub after: String,
}

/// Why a filter cannot be used, in the page's language.
fn bad(lang: Lang, what: &str) -> String {
    let [rus, kaz, eng] = [
        "Не удалось прочитать фильтр",
        "Сүзгіні оқу мүмкін болмады",
        "Cannot read the filter",
    ];
    format!("{}: {what}", [rus, kaz, eng][lang.index()])
}

fn text(field: Field, method: Method, value: &str) -> Condition {
    Condition {
        field,
        method,
        values: vec![Value::Text(value.to_string())],
    }
}

/// A card mask as the search box or the filter gives it, as a `like` pattern: digits, `*`
/// and `.` only; the stored masks read `440563...7622`, so `*` and a run of dots are any
/// digits in between.
fn mask_pattern(input: &str) -> Option<String> {
    let s = input.trim();
    if !s.chars().any(|c| c.is_ascii_digit())
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '.')
    {
        return None;
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        // Bare digits are the card's last ones.
        return Some(format!("%{s}"));
    }
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('%') {
            out.push('%');
        }
    }
    Some(out)
}

/// Whether the search box holds a card mask rather than a number: `*` or dots, or just the
/// four last digits.
fn looks_like_mask(q: &str) -> bool {
    q.contains(['*', '.']) || (q.len() == 4 && q.chars().all(|c| c.is_ascii_digit()))
}

fn money(lang: Lang, text: &str) -> Result<Value, String> {
    Money::parse_positive(&text.replace(',', "."))
        .map(|m| Value::Int(m.minor()))
        .map_err(|_| bad(lang, text))
}

fn date(lang: Lang, text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad(lang, text))
}

impl Filters {
    /// The conditions the filters make, or what is wrong with one.
    pub fn conditions(&self, zone: Zone, lang: Lang) -> Result<Vec<Condition>, String> {
        let mut out = Vec::new();
        let q = self.q.trim();
        if !q.is_empty() {
            if looks_like_mask(q) {
                let p = mask_pattern(q).ok_or_else(|| bad(lang, q))?;
                out.push(text(Field::CardMask, Method::Like, &p));
            } else {
                out.push(text(Field::AnyNumber, Method::Eq, q));
            }
        }
        if !self.from.is_empty() {
            let start = zone.day_start(date(lang, &self.from)?);
            out.push(text(Field::CreatedAt, Method::Ge, &stored_time(start)));
        }
        if !self.to.is_empty() {
            let end = date(lang, &self.to)?
                .succ_opt()
                .ok_or_else(|| bad(lang, &self.to))?;
            out.push(text(
                Field::CreatedAt,
                Method::Lt,
                &stored_time(zone.day_start(end)),
            ));
        }
        if !self.status.is_empty() {
            let s = OperationStatus::parse(&self.status).ok_or_else(|| bad(lang, &self.status))?;
            out.push(text(Field::Status, Method::Eq, s.as_str()));
        }
        for (value, field) in [
            (&self.terminal, Field::TerminalId),
            (&self.invoice, Field::InvoiceId),
            (&self.reference, Field::Reference),
            (&self.account, Field::AccountId),
        ] {
            let v = value.trim();
            if !v.is_empty() {
                out.push(text(field, Method::Eq, v));
            }
        }
        if !self.card.trim().is_empty() {
            let p = mask_pattern(&self.card).ok_or_else(|| bad(lang, &self.card))?;
            out.push(text(Field::CardMask, Method::Like, &p));
        }
        for (value, method) in [(&self.min, Method::Ge), (&self.max, Method::Le)] {
            if !value.trim().is_empty() {
                out.push(Condition {
                    field: Field::Amount,
                    method,
                    values: vec![money(lang, value.trim())?],
                });
            }
        }
        if !self.code.trim().is_empty() {
            let code: u32 = self
                .code
                .trim()
                .parse()
                .map_err(|_| bad(lang, &self.code))?;
            out.push(Condition {
                field: Field::ReasonCode,
                method: Method::Eq,
                values: vec![Value::Int(i64::from(code))],
            });
        }
        Ok(out)
    }

    /// The query string of these filters, without the cursor.
    pub fn query(&self) -> String {
        let f = Filters {
            after: String::new(),
            ..self.clone()
        };
        serde_urlencoded::to_string(&f)
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty() && !p.ends_with('='))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Reads the query string leniently: an unknown key is ignored, as a browser's form may add
/// its button's name.
pub fn filters_of(raw: Option<&str>) -> Filters {
    serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default()
}

/// One row of the table.
pub struct Row {
    pub id: String,
    pub time: String,
    pub invoice: String,
    pub amount: String,
    pub fee: String,
    pub charged: bool,
    pub status: &'static str,
    pub code: u32,
    pub reason: String,
    pub sender: String,
    pub receiver: String,
    pub account: String,
    pub reference: String,
    pub terminal: String,
}

pub fn row(op: &OperationRecord, zone: Zone, lang: Lang) -> Row {
    Row {
        id: op.id.clone(),
        time: format::time(op.created_at, zone, lang),
        invoice: op.invoice_id.clone(),
        amount: format::tenge(op.amount.minor(), lang),
        fee: format::tenge(op.fee.minor(), lang),
        charged: op.charged(),
        status: if op.charged() {
            ["Проведена", "Өтті", "Charged"][lang.index()]
        } else {
            ["Отклонена", "Қабылданбады", "Declined"][lang.index()]
        },
        code: op.reason_code,
        reason: crate::pages::reasons::merchant(op.reason_code, lang).to_string(),
        sender: op.sender.mask.clone(),
        receiver: op.receiver.mask.clone(),
        account: op.account_id.clone(),
        reference: op.reference.clone(),
        terminal: op.terminal_id.chars().take(8).collect(),
    }
}

#[derive(Template)]
#[template(path = "cabinet_operations.html")]
struct ListPage {
    lang: Lang,
    stylesheet: String,
    layout: Layout,
    t: &'static super::words::ListWords,
    f: Filters,
    error: Option<String>,
    rows: Vec<Row>,
    next: Option<String>,
    first: Option<String>,
    export: String,
    /// How many rows the export would send, in words.
    export_size: Option<String>,
}

/// `GET /cabinet/operations`.
pub async fn list(
    State(app): State<AppState>,
    m: CabinetMerchant,
    csrf: CsrfToken,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let lang = m.lang;
    let f = filters_of(raw.as_deref());
    let query = f.query();
    let back = if query.is_empty() {
        "/cabinet/operations".to_string()
    } else {
        format!("/cabinet/operations?{query}")
    };
    let mut page = ListPage {
        lang,
        stylesheet: assets::url("pages.css"),
        layout: Layout::new(&m, &csrf.0, "/cabinet/operations", &back),
        t: super::words::list_words(lang),
        f: f.clone(),
        error: None,
        rows: Vec::new(),
        next: None,
        first: (!f.after.is_empty()).then(|| back.clone()),
        export: format!(
            "/cabinet/operations.csv{}",
            if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            }
        ),
        export_size: None,
    };
    let conditions = match f.conditions(m.zone, lang) {
        Ok(c) => c,
        Err(e) => {
            page.error = Some(e);
            return render(&page, lang);
        }
    };
    let rows = super::export::count(
        &app,
        &m.merchant_id,
        conditions.clone(),
        super::export::LARGE,
    )
    .await
    .map_err(|e| PageError::internal(lang, "counting operations failed", e))?;
    page.export_size = Some(super::export::describe(rows, lang));
    let after = Cursor::decode(&f.after);
    let search = Search::newest_first(conditions, PAGE_SIZE, after);
    let mut found = app
        .store
        .search_operations(&m.merchant_id, search)
        .await
        .map_err(|e| PageError::internal(lang, "listing operations failed", e))?;
    if found.len() > PAGE_SIZE as usize {
        found.truncate(PAGE_SIZE as usize);
        page.next = found.last().map(|op| {
            let c = Cursor {
                created_at: stored_time(op.created_at),
                id: op.id.clone(),
            };
            let sep = if query.is_empty() { "" } else { "&" };
            format!(
                "/cabinet/operations?{query}{sep}after={}",
                percent_encoding::utf8_percent_encode(
                    &c.encode(),
                    percent_encoding::NON_ALPHANUMERIC
                )
            )
        });
    }
    page.rows = found.iter().map(|op| row(op, m.zone, lang)).collect();
    render(&page, lang)
}

/// The merchant's operation with this id.
pub async fn find(
    app: &AppState,
    m: &CabinetMerchant,
    id: &str,
) -> Result<Option<OperationRecord>, PageError> {
    if id.is_empty() || id.len() > 64 {
        return Ok(None);
    }
    let search = Search::newest_first(vec![text(Field::OperationId, Method::Eq, id)], 1, None);
    let found = app
        .store
        .search_operations(&m.merchant_id, search)
        .await
        .map_err(|e| PageError::internal(m.lang, "reading an operation failed", e))?;
    Ok(found.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_become_like_patterns() {
        assert_eq!(mask_pattern("7622").as_deref(), Some("%7622"));
        assert_eq!(
            mask_pattern("440563...7622").as_deref(),
            Some("440563%7622")
        );
        assert_eq!(mask_pattern("*7622").as_deref(), Some("%7622"));
        assert_eq!(mask_pattern("4405*").as_deref(), Some("4405%"));
        assert_eq!(mask_pattern("44%"), None);
        assert!(
            looks_like_mask("1234") && looks_like_mask("4405...") && !looks_like_mask("123456789")
        );
    }

    #[test]
    fn filters_round_trip_through_the_query_string() {
        let f = filters_of(Some("status=FAILED&min=10%2C5&q=&after=x&button=1"));
        assert_eq!(f.status, "FAILED");
        assert_eq!(f.query(), "status=FAILED&min=10%2C5");
        let c = f.conditions(Zone::default(), Lang::Eng).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].values, vec![Value::Int(1050)]);
        assert!(filters_of(Some("from=yesterday"))
            .conditions(Zone::default(), Lang::Eng)
            .is_err());
    }
}
