//! `aqsha batch FILE.csv`: many transfers from a CSV file, with bounded concurrency, a
//! progress bar, a result CSV and safe resumption.
//!
//! Safety rests on a journal (JSON lines, `FILE.csv.journal` by default). Before a row's
//! transfer is sent, a `planned` entry with its invoice id is appended and flushed to disk, so
//! an invoice generated for a row is never forgotten. Before sending, the invoice's status is
//! always asked: an invoice that is already charged (or still pending) is never sent again, on
//! this run or any later one. After the answer, a `result` entry is appended. Re-running the
//! same file after an interruption skips rows with a settled result, resolves the others by
//! status, and sends only invoices the server has never seen. The journal holds no card
//! number and no CVC: rows are recognised by a digest of their masked fields.
//!
//! The parts, in the order a run goes through them: [`plan`] reads and checks the CSV and
//! chooses each row's invoice against the [`journal`]; [`run`](mod@run) answers settled and invalid
//! rows at once and sends the rest; [`report`] writes the result CSV and the summary.

mod journal;
mod plan;
mod report;
mod run;

use super::conn::ConnArgs;
use aqsha_client::{Client, WaitOptions};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Args)]
pub struct BatchArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The CSV file. Header names (any order, case-insensitive): amount, from, to (required);
    /// invoice, currency, expiry, cvc, name, save, save_receiver, account_id, description,
    /// email, terminal (optional). `from`/`to` hold a card number or a saved card's id.
    file: PathBuf,
    /// Result CSV. Default: FILE with `.results.csv` in place of `.csv`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Journal for safe resumption. Default: FILE with `.journal` appended.
    #[arg(long)]
    journal: Option<PathBuf>,
    /// Transfers in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Sender expiry (MM/YY) for rows without one.
    #[arg(long, env = "AQSHA_CARD_EXPIRY")]
    expiry: Option<String>,
    /// Sender CVC for rows without one.
    #[arg(long, env = "AQSHA_CARD_CVC", hide_env_values = true)]
    cvc: Option<String>,
    /// accountID for rows without one.
    #[arg(long)]
    account_id: Option<String>,
    /// Currency for rows without one.
    #[arg(long, default_value = "KZT")]
    currency: String,
    /// Description for rows without one.
    #[arg(long)]
    description: Option<String>,
    /// Do not draw the progress bar (it is drawn only on a terminal anyway).
    #[arg(long)]
    no_progress: bool,
    /// How long to wait for the final status of a transfer whose outcome is unknown, seconds.
    #[arg(long, default_value_t = 60)]
    wait_timeout: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct RowResult {
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<u32>,
    #[serde(default)]
    meaning: String,
    #[serde(rename = "final")]
    is_final: bool,
    #[serde(default)]
    message: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    fee: String,
    #[serde(default)]
    operation_id: String,
    #[serde(default)]
    resolved_by_status: bool,
}

impl RowResult {
    fn new(state: &str, is_final: bool, message: impl Into<String>) -> RowResult {
        RowResult {
            state: state.into(),
            is_final,
            message: message.into(),
            ..Default::default()
        }
    }

    /// Settled rows are not touched again by a later run.
    fn settled(&self) -> bool {
        !matches!(self.state.as_str(), "UNKNOWN" | "ERROR" | "NOT_RUN")
    }
}

pub async fn run(a: BatchArgs) -> anyhow::Result<u8> {
    let resolved = a.conn.resolve()?;
    let json = resolved.json;
    let client = Client::new(resolved.config)?;
    let out_path = a.out.clone().unwrap_or_else(|| plan::default_out(&a.file));
    let journal_path = a
        .journal
        .clone()
        .unwrap_or_else(|| plan::default_journal(&a.file));

    let rows = plan::read_rows(&a)?;
    let journal_state = plan::load_matching_journal(&a, &journal_path, &rows)?;
    let plans = plan::choose_invoices(&rows, &journal_state)?;

    let ctx = Arc::new(run::Ctx {
        client,
        journal: journal::Journal {
            file: Mutex::new(journal::open_for_append(&journal_path)?),
        },
        stopping: AtomicBool::new(false),
        wait: WaitOptions {
            deadline: Duration::from_secs(a.wait_timeout),
            not_found_after: Duration::from_secs(a.wait_timeout.min(10)),
            ..WaitOptions::default()
        },
    });
    {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                ctx.stopping.store(true, Ordering::SeqCst);
                note!("interrupted: no new transfer starts; finishing those in flight");
            }
        });
    }

    let bar = run::progress_bar(a.no_progress || json, rows.len() as u64);
    let mut started = run::answer_at_once(&ctx, &rows, plans, &journal_state, &bar)?;
    let resolved_by_status = run::run_work(
        &ctx,
        std::mem::take(&mut started.work),
        usize::from(a.concurrency),
        &bar,
        &mut started.results,
    )
    .await;
    bar.finish_and_clear();

    let totals = report::write_results(&out_path, &rows, &started.results)?;
    let interrupted = ctx.stopping.load(Ordering::SeqCst);
    report::print_summary(&report::Summary {
        json,
        rows: &rows,
        totals: &totals,
        already_done: started.already_done,
        resolved_by_status,
        interrupted,
        out_path: &out_path,
        journal_path: &journal_path,
    });
    Ok(report::exit_code(interrupted, &totals))
}
