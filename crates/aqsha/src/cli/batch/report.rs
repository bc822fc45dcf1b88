//! The end of a batch: the result CSV, the summary and the exit code.

use super::plan::Row;
use super::run::Results;
use super::RowResult;
use crate::cli::{print_json, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_SECURE3D, EXIT_UNKNOWN};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;

/// The result CSV, in file order, written whole and renamed into place. Returns the count of
/// rows in each state.
pub(super) fn write_results(
    out_path: &Path,
    rows: &[Result<Row, String>],
    results: &Results,
) -> anyhow::Result<BTreeMap<String, usize>> {
    let mut totals: BTreeMap<String, usize> = BTreeMap::new();
    let tmp = out_path.with_extension("csv.tmp");
    {
        let mut w = csv::Writer::from_path(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        w.write_record([
            "row",
            "invoice",
            "amount",
            "currency",
            "from",
            "to",
            "state",
            "code",
            "meaning",
            "final",
            "message",
            "reference",
            "fee",
            "operation_id",
            "resolved_by_status",
        ])?;
        for (i, r) in results.iter().enumerate() {
            let (invoice, res) = r.clone().unwrap_or_else(|| {
                (
                    String::new(),
                    RowResult::new("NOT_RUN", false, "interrupted"),
                )
            });
            *totals.entry(res.state.clone()).or_default() += 1;
            let (amount, currency, from, to) = match &rows[i] {
                Ok(row) => (
                    row.amount.to_string(),
                    row.currency.code().to_string(),
                    row.from_label.clone(),
                    row.to_label.clone(),
                ),
                Err(_) => Default::default(),
            };
            w.write_record([
                (i + 1).to_string(),
                invoice,
                amount,
                currency,
                from,
                to,
                res.state.clone(),
                res.code.map(|c| c.to_string()).unwrap_or_default(),
                res.meaning.clone(),
                res.is_final.to_string(),
                res.message.clone(),
                res.reference.clone(),
                res.fee.clone(),
                res.operation_id.clone(),
                res.resolved_by_status.to_string(),
            ])?;
        }
        w.flush()?;
    }
    std::fs::rename(&tmp, out_path)
        .with_context(|| format!("cannot write {}", out_path.display()))?;
    Ok(totals)
}

pub(super) struct Summary<'a> {
    pub(super) json: bool,
    pub(super) rows: &'a [Result<Row, String>],
    pub(super) totals: &'a BTreeMap<String, usize>,
    pub(super) already_done: usize,
    pub(super) resolved_by_status: usize,
    pub(super) interrupted: bool,
    pub(super) out_path: &'a Path,
    pub(super) journal_path: &'a Path,
}

pub(super) fn print_summary(s: &Summary) {
    let Summary {
        json,
        rows,
        totals,
        already_done,
        resolved_by_status,
        interrupted,
        out_path,
        journal_path,
    } = *s;
    let count = |k: &str| totals.get(k).copied().unwrap_or(0);
    if json {
        print_json(&serde_json::json!({
            "rows": rows.len(),
            "states": totals,
            "alreadyDone": already_done,
            "resolvedByStatus": resolved_by_status,
            "interrupted": interrupted,
            "results": out_path.display().to_string(),
            "journal": journal_path.display().to_string(),
        }));
    } else {
        let others: Vec<String> = totals
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "CHARGE" | "DECLINED" | "UNKNOWN" | "ERROR" | "INVALID"
                )
            })
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        say!(
            "{} rows: charged {}, declined {}, invalid {}, errors {}, unknown {}{}",
            rows.len(),
            count("CHARGE"),
            count("DECLINED"),
            count("INVALID"),
            count("ERROR"),
            count("UNKNOWN"),
            if others.is_empty() {
                String::new()
            } else {
                format!(", {}", others.join(", "))
            }
        );
        say!("{already_done} settled by an earlier run, {resolved_by_status} resolved by status");
        say!("results: {}", out_path.display());
        say!("journal: {}", journal_path.display());
        if interrupted {
            say!("interrupted: run the same command again to finish; nothing will be sent twice");
        }
    }
}

pub(super) fn exit_code(interrupted: bool, totals: &BTreeMap<String, usize>) -> u8 {
    let count = |k: &str| totals.get(k).copied().unwrap_or(0);
    if interrupted {
        EXIT_INTERRUPTED
    } else if count("UNKNOWN") > 0 || count("NOT_RUN") > 0 {
        EXIT_UNKNOWN
    } else if count("SECURE3D") > 0 {
        EXIT_SECURE3D
    } else if totals
        .keys()
        .any(|k| !matches!(k.as_str(), "CHARGE" | "AUTH"))
    {
        EXIT_FAILURE
    } else {
        0
    }
}
