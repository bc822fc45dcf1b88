//! Executing a batch: settled and invalid rows are answered at once, the rest are sent with
//! bounded concurrency, each only after its invoice's status is asked.

use super::journal::{Journal, JournalEntry, JournalState};
use super::plan::{Planned, Row};
use super::RowResult;
use aqsha_client::{
    Client, Error, InvoiceId, StatusPath, TransferOutcome, TransferState, WaitOptions,
};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub(super) struct Ctx {
    pub(super) client: Client,
    pub(super) journal: Journal,
    pub(super) stopping: AtomicBool,
    pub(super) wait: WaitOptions,
}

/// A row's invoice and result, by row index; `None` for a row not run.
pub(super) type Results = Vec<Option<(String, RowResult)>>;

/// The rows answered at once, and the rest still to run.
pub(super) struct Started {
    pub(super) results: Results,
    pub(super) work: Vec<(usize, Row, InvoiceId, bool)>,
    pub(super) already_done: usize,
}

pub(super) fn progress_bar(hidden: bool, total: u64) -> indicatif::ProgressBar {
    if hidden {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
        ) {
            b.set_style(style);
        }
        b
    }
}

/// Settled and invalid rows are answered at once; the rest go through the stream.
pub(super) fn answer_at_once(
    ctx: &Ctx,
    rows: &[Result<Row, String>],
    plans: Vec<Planned>,
    journal_state: &BTreeMap<usize, JournalState>,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Started> {
    let mut results: Vec<Option<(String, RowResult)>> = vec![None; rows.len()];
    let mut work = Vec::new();
    let mut already_done = 0usize;
    for (i, plan) in plans.into_iter().enumerate() {
        let inv_of =
            |s: Option<&JournalState>| s.and_then(|s| s.invoice.clone()).unwrap_or_default();
        match plan {
            Planned::Done(res) => {
                already_done += 1;
                results[i] = Some((inv_of(journal_state.get(&(i + 1))), res));
                bar.inc(1);
            }
            Planned::Invalid(why) => {
                let invoice = match &rows[i] {
                    Ok(r) => r.csv_invoice.as_ref().map(|i| i.to_string()),
                    Err(_) => None,
                }
                .unwrap_or_default();
                let res = RowResult::new("INVALID", true, why);
                ctx.journal.append(
                    &JournalEntry {
                        row: i + 1,
                        invoice: invoice.clone(),
                        digest: rows[i]
                            .as_ref()
                            .map(|r| r.digest.clone())
                            .unwrap_or_default(),
                        event: "result".into(),
                        result: Some(res.clone()),
                    },
                    false,
                )?;
                results[i] = Some((invoice, res));
                bar.inc(1);
            }
            Planned::Run { invoice, journaled } => {
                if let Ok(row) = &rows[i] {
                    work.push((i, row.clone(), invoice, journaled));
                }
            }
        }
    }
    Ok(Started {
        results,
        work,
        already_done,
    })
}

/// Sends the remaining rows, `concurrency` at a time; returns how many were resolved by status.
pub(super) async fn run_work(
    ctx: &Arc<Ctx>,
    work: Vec<(usize, Row, InvoiceId, bool)>,
    concurrency: usize,
    bar: &indicatif::ProgressBar,
    results: &mut Results,
) -> usize {
    let mut stream =
        futures_util::stream::iter(work.into_iter().map(|(i, row, invoice, journaled)| {
            let ctx = ctx.clone();
            async move {
                let res = run_row(&ctx, &row, &invoice, journaled).await;
                (i, invoice, res)
            }
        }))
        .buffer_unordered(concurrency);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut resolved_by_status = 0usize;
    while let Some((i, invoice, res)) = stream.next().await {
        let res = match res {
            Ok(r) => r,
            Err(e) => RowResult::new("ERROR", false, format!("{e:#}")),
        };
        if res.resolved_by_status {
            resolved_by_status += 1;
        }
        *counts.entry(res.state.clone()).or_default() += 1;
        bar.set_message(format!(
            "charged {} declined {} unknown {}",
            counts.get("CHARGE").copied().unwrap_or(0),
            counts.get("DECLINED").copied().unwrap_or(0),
            counts.get("UNKNOWN").copied().unwrap_or(0)
        ));
        bar.inc(1);
        results[i] = Some((invoice.to_string(), res));
    }
    drop(stream);
    resolved_by_status
}

/// One row: journal the plan, ask the status, send only an invoice the server has never seen,
/// and resolve an unknown outcome by status.
pub(super) async fn run_row(
    ctx: &Ctx,
    row: &Row,
    invoice: &InvoiceId,
    journaled: bool,
) -> anyhow::Result<RowResult> {
    if ctx.stopping.load(Ordering::SeqCst) {
        return Ok(RowResult::new("NOT_RUN", false, "interrupted"));
    }
    let entry = |event: &str, result: Option<RowResult>| JournalEntry {
        row: row.number,
        invoice: invoice.to_string(),
        digest: row.digest.clone(),
        event: event.into(),
        result,
    };
    if !journaled {
        // Durable before anything is sent: a later run must know this row's invoice.
        ctx.journal.append(&entry("planned", None), true)?;
    }
    let terminal = row.terminal.as_ref();
    let result = match ctx
        .client
        .status_on(terminal, StatusPath::P2p, invoice)
        .await
    {
        Ok(st) => match st.state {
            TransferState::NotFound => None,
            // A decline recorded before this row was planned is someone else's attempt.
            TransferState::Declined { .. } if !journaled => None,
            // An invoice charged for another amount is another transfer: never ours to
            // report as done, and never to be sent again.
            TransferState::Charged | TransferState::Authorized
                if st.amount() != Some(row.amount)
                    || st.transaction().map(|t| t.currency.as_str())
                        != Some(row.currency.code()) =>
            {
                Some(RowResult::new(
                    "CONFLICT",
                    true,
                    format!(
                        "invoice {invoice} is already charged for another transfer ({} {})",
                        st.amount().map(|a| a.to_string()).unwrap_or_default(),
                        st.transaction()
                            .map(|t| t.currency.as_str())
                            .unwrap_or_default()
                    ),
                ))
            }
            _ => Some(from_status(&st, true)),
        },
        Err(e) => Some(RowResult::new(
            "ERROR",
            false,
            format!("status check failed, nothing sent: {e}"),
        )),
    };
    let result = match result {
        Some(r) => r,
        None => send(ctx, row, invoice).await,
    };
    ctx.journal
        .append(&entry("result", Some(result.clone())), false)?;
    Ok(result)
}

pub(super) async fn send(ctx: &Ctx, row: &Row, invoice: &InvoiceId) -> RowResult {
    let mut t = row.transfer_template.clone();
    t.invoice_id = invoice.clone();
    match ctx.client.transfer(&t).await {
        Ok(TransferOutcome::Secure3d(s)) => RowResult {
            state: "SECURE3D".into(),
            is_final: false,
            message: format!(
                "waiting for the cardholder's 3-D Secure challenge at {}; nothing moved yet",
                s.acs_url()
            ),
            fee: s.fee.to_string(),
            operation_id: s.operation_id().to_string(),
            ..Default::default()
        },
        Ok(TransferOutcome::Completed(r)) => RowResult {
            state: r.status().to_string(),
            code: Some(0),
            meaning: "Success".into(),
            is_final: true,
            message: String::new(),
            reference: r.response.reference.clone(),
            fee: r.fee.to_string(),
            operation_id: r.response.id.clone(),
            resolved_by_status: false,
        },
        Err(Error::Api(f)) if f.is_final() => RowResult {
            state: "DECLINED".into(),
            code: Some(f.code()),
            meaning: f.meaning().to_string(),
            is_final: true,
            message: f.message().to_string(),
            ..Default::default()
        },
        Err(e) if e.is_outcome_unknown() => {
            match ctx
                .client
                .wait_for_final_with(row.terminal.as_ref(), invoice, ctx.wait)
                .await
            {
                Ok(st) if st.state == TransferState::NotFound => RowResult::new(
                    "UNKNOWN",
                    false,
                    format!("{e}; the server has no record of it yet"),
                ),
                Ok(st) => from_status(&st, true),
                Err(e2) => RowResult::new("UNKNOWN", false, format!("{e}; {e2}")),
            }
        }
        // Refused before sending (token, connection, input): nothing happened.
        Err(e) => RowResult::new("ERROR", false, format!("nothing sent: {e}")),
    }
}

pub(super) fn from_status(st: &aqsha_client::TransactionStatus, by_status: bool) -> RowResult {
    let tx = st.transaction();
    let mut r = RowResult {
        state: st.state.name().to_string(),
        is_final: st.is_final(),
        reference: tx.map(|t| t.reference.clone()).unwrap_or_default(),
        fee: st.fee().map(|f| f.to_string()).unwrap_or_default(),
        operation_id: tx.map(|t| t.id.clone()).unwrap_or_default(),
        resolved_by_status: by_status,
        ..Default::default()
    };
    match &st.state {
        TransferState::Declined {
            code,
            reason,
            message,
        } => {
            r.code = Some(*code);
            r.meaning = reason.map(|x| x.message.to_string()).unwrap_or_default();
            r.message = message.clone();
        }
        TransferState::Pending => {
            r.state = "UNKNOWN".into();
            r.message = "still in progress".into();
        }
        TransferState::Charged | TransferState::Authorized => {
            r.code = Some(0);
            r.meaning = "Success".into();
        }
        _ => {}
    }
    r
}
