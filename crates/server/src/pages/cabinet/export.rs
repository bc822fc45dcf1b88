//! `GET /cabinet/operations.csv`: the filtered operations as a CSV download, streamed.
//!
//! The file is written a batch at a time: each batch is one keyset page of the same search the
//! list runs ([`Search::newest_first`] after the last row sent), turned into CSV and sent
//! before the next is read, so memory stays the size of one batch however many rows match.
//! A failure half-way ends the response with an error, so the browser reports a failed
//! download rather than keeping a file that looks complete.

use super::format::Zone;
use super::operations::filters_of;
use super::session::CabinetMerchant;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::AppState;
use aqsha_core::records::OperationRecord;
use aqsha_core::search::{stored_time, Condition, Cursor, Search};
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

/// Rows read per batch.
pub const BATCH: u32 = 1000;

/// The download counts the filtered set up to this many rows for its `X-Total-Rows`: beyond
/// it the header is left out. A count walks the same index as the list, so its cost grows
/// with the rows it counts (BENCHMARKS.md, issue 16: ~0.1–0.4 s for a million).
pub const COUNT_CAP: u64 = 1_000_000;

/// The list page counts up to this many rows (a tenth of that cost, paid on every page);
/// from here on it says the file is large rather than how large.
pub const LARGE: u64 = 100_000;

/// How many rows the export of these conditions would send, up to `cap` + 1.
pub async fn count(
    app: &AppState,
    merchant_id: &str,
    conditions: Vec<Condition>,
    cap: u64,
) -> Result<u64, aqsha_core::store::StoreError> {
    let search = Search::newest_first(conditions, 1, None);
    app.store
        .count_operations(merchant_id, search, cap + 1)
        .await
}

/// The count as the page shows it beside the export button.
pub fn describe(rows: u64, lang: Lang) -> String {
    let n = |v: u64| super::format::grouped(v, lang);
    if rows > COUNT_CAP {
        let t = ["Более {} строк: большой файл, он скачивается по частям и может занять несколько минут.", "{} жолдан көп: үлкен файл, ол бөліктермен жүктеледі және бірнеше минут алуы мүмкін.", "More than {} rows: a large file; it downloads as it is written and may take minutes."];
        t[lang.index()].replace("{}", &n(COUNT_CAP))
    } else if rows >= LARGE {
        let t = [
            "{} строк: большой файл, он скачивается по частям и может занять минуту или больше.",
            "{} жол: үлкен файл, ол бөліктермен жүктеледі және бір минут не одан көп алуы мүмкін.",
            "{} rows: a large file; it downloads as it is written and may take a minute or more.",
        ];
        t[lang.index()].replace("{}", &n(rows))
    } else {
        let t = [
            "Строк в выгрузке: {}",
            "Жүктемедегі жолдар: {}",
            "Rows to download: {}",
        ];
        t[lang.index()].replace("{}", &n(rows))
    }
}

/// The rows the export will send (when at most [`COUNT_CAP`]), counted as it starts; the
/// body streams, so there is no `Content-Length` to measure progress by.
pub const TOTAL_ROWS: &str = "x-total-rows";

/// The header line.
pub const COLUMNS: &str = "operation_id,created_at,status,reason_code,reason,invoice_id,\
account_id,terminal_id,amount,fee,currency,reference,int_reference,sender_mask,receiver_mask,kind\r\n";

/// What the stream carries from one batch to the next.
struct Next {
    app: AppState,
    merchant_id: String,
    conditions: Vec<Condition>,
    zone: Zone,
    after: Option<Cursor>,
    done: bool,
}

pub async fn csv(
    State(app): State<AppState>,
    m: CabinetMerchant,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let f = filters_of(raw.as_deref());
    let conditions = f
        .conditions(m.zone, m.lang)
        .map_err(|e| PageError::new(axum::http::StatusCode::BAD_REQUEST, m.lang).with_detail(e))?;
    // The size first, for the browser's progress bar: the rows that match now (the file may
    // end up with a few more, as new operations arrive while it is written).
    let total = count(&app, &m.merchant_id, conditions.clone(), COUNT_CAP)
        .await
        .map_err(|e| PageError::internal(m.lang, "counting operations failed", e))?;
    let first = Next {
        app,
        merchant_id: m.merchant_id.clone(),
        conditions,
        zone: m.zone,
        after: None,
        done: false,
    };
    let header_line = stream::once(async {
        Ok::<Bytes, aqsha_core::store::StoreError>(Bytes::from_static(COLUMNS.as_bytes()))
    });
    let rows = stream::unfold(first, |mut s| async move {
        if s.done {
            return None;
        }
        let search = Search::newest_first(s.conditions.clone(), BATCH, s.after.take());
        match s.app.store.search_operations(&s.merchant_id, search).await {
            Err(e) => {
                tracing::error!(request = %crate::request_id(), error = %e, "CSV export failed");
                s.done = true;
                Some((Err(e), s))
            }
            Ok(mut found) => {
                s.done = found.len() <= BATCH as usize;
                found.truncate(BATCH as usize);
                s.after = found.last().map(|op| Cursor {
                    created_at: stored_time(op.created_at),
                    id: op.id.clone(),
                });
                let mut out = String::with_capacity(found.len() * 200);
                for op in &found {
                    line(&mut out, op, s.zone);
                }
                Some((Ok(Bytes::from(out)), s))
            }
        }
    });
    let body = Body::from_stream(futures_util::StreamExt::chain(header_line, rows));
    let mut resp = body.into_response();
    let name = format!(
        "attachment; filename=\"operations-{}.csv\"",
        m.zone.local(chrono::Utc::now()).format("%Y%m%d-%H%M%S")
    );
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if total <= COUNT_CAP {
        h.insert(TOTAL_ROWS, HeaderValue::from(total));
    }
    Ok(resp)
}

/// One operation as a CSV line. Times in the merchant's zone with their offset (RFC 3339);
/// amounts in tenge with a point, as a spreadsheet or a program reads them.
pub fn line(out: &mut String, op: &OperationRecord, zone: Zone) {
    let time = zone
        .local(op.created_at)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    let fields: [&str; 16] = [
        &op.id,
        &time,
        op.status.as_str(),
        &op.reason_code.to_string(),
        &op.reason,
        &op.invoice_id,
        &op.account_id,
        &op.terminal_id,
        &decimal(op.amount.minor()),
        &decimal(op.fee.minor()),
        &op.currency,
        &op.reference,
        &op.int_reference,
        &op.sender.mask,
        &op.receiver.mask,
        op.kind.as_str(),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        cell(out, f);
    }
    out.push_str("\r\n");
}

/// Minor units as a decimal with two places and a point: `1234.50`.
fn decimal(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// A CSV cell (RFC 4180): quoted when it holds a comma, quote or line break. Text a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a leading `'`: an
/// account id or reason comes from the merchant's own requests, but a file opened in a
/// spreadsheet should never compute.
fn cell(out: &mut String, value: &str) {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || value.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in value.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        let mut s = String::new();
        cell(&mut s, "plain");
        s.push('|');
        cell(&mut s, "a,\"b\"");
        s.push('|');
        cell(&mut s, "=HYPERLINK(1)");
        assert_eq!(s, "plain|\"a,\"\"b\"\"\"|\"'=HYPERLINK(1)\"");
    }
}
