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

use super::conn::ConnArgs;
use super::{
    parse_receiver, parse_sender, print_json, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_UNKNOWN,
};
use anyhow::{anyhow, bail, Context};
use aqsha_client::{
    AccountId, Amount, CardNumber, Client, Currency, Error, InvoiceId, P2pTransfer, StatusPath,
    TerminalId, TransferState, WaitOptions,
};
use clap::Args;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
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

/// One data row as read from the file.
#[derive(Debug, Clone, Default)]
struct RawRow {
    fields: HashMap<String, String>,
}

impl RawRow {
    fn get(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.fields.get(*n))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }
}

/// A row ready to send.
#[derive(Debug, Clone)]
struct Row {
    /// 1-based data row number (the header is row 0).
    number: usize,
    csv_invoice: Option<InvoiceId>,
    amount: Amount,
    currency: Currency,
    from_label: String,
    to_label: String,
    terminal: Option<TerminalId>,
    transfer_template: P2pTransfer,
    digest: String,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct JournalEntry {
    row: usize,
    invoice: String,
    digest: String,
    /// `planned` (written before the transfer is sent) or `result`.
    event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<RowResult>,
}

#[derive(Default)]
struct JournalState {
    /// A `planned` entry exists: the row's transfer may have been sent.
    planned: bool,
    invoice: Option<String>,
    digest: String,
    result: Option<RowResult>,
}

struct Journal {
    file: Mutex<std::fs::File>,
}

impl Journal {
    fn append(&self, e: &JournalEntry, durable: bool) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(e)?;
        line.push(b'\n');
        let mut f = self
            .file
            .lock()
            .map_err(|_| anyhow!("journal lock poisoned"))?;
        f.write_all(&line).context("writing the journal")?;
        if durable {
            f.sync_data().context("syncing the journal")?;
        }
        Ok(())
    }
}

fn load_journal(path: &Path) -> anyhow::Result<BTreeMap<usize, JournalState>> {
    let mut out: BTreeMap<usize, JournalState> = BTreeMap::new();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let e: JournalEntry = match serde_json::from_str(line) {
            Ok(e) => e,
            // A crash can cut the last line short; the entry it held was never acted on
            // without a durable `planned` entry before it.
            Err(_) if i + 1 == lines.len() => continue,
            Err(err) => bail!("journal {} line {}: {err}", path.display(), i + 1),
        };
        let st = out.entry(e.row).or_default();
        let clash = |st: &JournalState, e: &JournalEntry| {
            anyhow!(
                "journal {}: row {} has two invoices ({} and {})",
                path.display(),
                e.row,
                st.invoice.as_deref().unwrap_or_default(),
                e.invoice
            )
        };
        if e.event == "planned" {
            if st.planned && st.invoice.as_deref() != Some(e.invoice.as_str()) {
                return Err(clash(st, &e));
            }
            if !st.planned {
                // Results before the plan (INVALID rows of an earlier file) never sent
                // anything and do not count.
                st.result = None;
            }
            st.planned = true;
            st.invoice = Some(e.invoice);
            st.digest = e.digest;
        } else if st.planned {
            if st.invoice.as_deref() != Some(e.invoice.as_str()) {
                return Err(clash(st, &e));
            }
            st.result = e.result;
        } else {
            st.invoice = Some(e.invoice);
            st.digest = e.digest;
            st.result = e.result;
        }
    }
    Ok(out)
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike `std`'s hasher.
fn fnv(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0x1f)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn label(side: &str) -> String {
    match CardNumber::parse(side) {
        Ok(n) => n.mask(),
        Err(_) => side.trim().to_string(),
    }
}

fn truthy(v: Option<&str>) -> bool {
    matches!(
        v.map(|s| s.to_ascii_lowercase()).as_deref(),
        Some("1" | "true" | "yes" | "y")
    )
}

fn parse_row(number: usize, raw: &RawRow, a: &BatchArgs) -> anyhow::Result<Row> {
    let amount_text = raw.get(&["amount"]).ok_or_else(|| anyhow!("no amount"))?;
    let amount = Amount::parse(amount_text)?;
    let currency_text = raw.get(&["currency"]).unwrap_or(a.currency.as_str());
    let currency: Currency = currency_text.parse().map_err(|e: String| anyhow!(e))?;
    let from = raw
        .get(&["from", "sender"])
        .ok_or_else(|| anyhow!("no from"))?;
    let to = raw
        .get(&["to", "receiver"])
        .ok_or_else(|| anyhow!("no to"))?;
    let csv_invoice = raw
        .get(&["invoice", "invoice_id", "invoiceid", "order_id"])
        .map(InvoiceId::new)
        .transpose()?;
    let sender = parse_sender(
        from,
        raw.get(&["expiry", "from_expiry"]).or(a.expiry.as_deref()),
        raw.get(&["cvc", "from_cvc"]).or(a.cvc.as_deref()),
        raw.get(&["name", "from_name"]),
        truthy(raw.get(&["save", "save_sender"])),
    )?;
    let save_receiver = truthy(raw.get(&["save_receiver"]));
    let receiver = parse_receiver(to, save_receiver)?;
    let terminal = super::terminal_opt(raw.get(&["terminal", "terminal_id"]))?;
    let account = raw
        .get(&["account_id", "accountid"])
        .or(a.account_id.as_deref());
    let description = raw.get(&["description"]).or(a.description.as_deref());
    let email = raw.get(&["email", "sender_email"]);
    // The template carries a placeholder invoice; the real one is set when the row runs.
    let placeholder = csv_invoice
        .clone()
        .unwrap_or_else(|| InvoiceId::new("000000").unwrap_or_else(|_| InvoiceId::generate()));
    let mut t = P2pTransfer::new(placeholder, amount, sender, receiver).currency(currency);
    t.terminal = terminal.clone();
    t.account_id = account.map(AccountId::new).transpose()?;
    t.description = description.map(str::to_string);
    t.sender_email = email.map(str::to_string);
    let (from_label, to_label) = (label(from), label(to));
    let save_text = truthy(raw.get(&["save", "save_sender"])).to_string();
    let amount_minor = amount.minor().to_string();
    let digest = fnv(&[
        csv_invoice.as_ref().map(InvoiceId::as_str).unwrap_or(""),
        &amount_minor,
        currency.code(),
        &from_label,
        &to_label,
        terminal.as_ref().map(TerminalId::as_str).unwrap_or(""),
        account.unwrap_or(""),
        &save_text,
        &save_receiver.to_string(),
        description.unwrap_or(""),
        email.unwrap_or(""),
    ]);
    Ok(Row {
        number,
        csv_invoice,
        amount,
        currency,
        from_label,
        to_label,
        terminal,
        transfer_template: t,
        digest,
    })
}

fn default_out(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "batch".into());
    let stem = name.strip_suffix(".csv").unwrap_or(&name);
    file.with_file_name(format!("{stem}.results.csv"))
}

fn default_journal(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// Hands out invoice ids whose last six digits are not used by any other row.
struct InvoiceGen {
    prefix: u32,
    next: u32,
    used_tails: HashSet<String>,
}

impl InvoiceGen {
    fn new(used_tails: HashSet<String>) -> InvoiceGen {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        InvoiceGen {
            prefix: rng.gen_range(100_000..1_000_000),
            next: rng.gen_range(0..1_000_000),
            used_tails,
        }
    }

    fn take(&mut self) -> anyhow::Result<InvoiceId> {
        for _ in 0..1_000_000 {
            let tail = format!("{:06}", self.next);
            self.next = (self.next + 1) % 1_000_000;
            if self.used_tails.insert(tail.clone()) {
                return Ok(InvoiceId::new(format!("{:06}{tail}", self.prefix))?);
            }
        }
        bail!("no free invoice tail left")
    }
}

struct Ctx {
    client: Client,
    journal: Journal,
    stopping: AtomicBool,
    wait: WaitOptions,
}

enum Planned {
    /// Settled by an earlier run.
    Done(RowResult),
    /// To run with this invoice; `journaled` when an earlier run already planned it.
    Run {
        invoice: InvoiceId,
        journaled: bool,
    },
    Invalid(String),
}

pub async fn run(a: BatchArgs) -> anyhow::Result<u8> {
    let resolved = a.conn.resolve()?;
    let json = resolved.json;
    let client = Client::new(resolved.config)?;
    let out_path = a.out.clone().unwrap_or_else(|| default_out(&a.file));
    let journal_path = a
        .journal
        .clone()
        .unwrap_or_else(|| default_journal(&a.file));

    // Read the file.
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?;
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: no header row", a.file.display()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase().replace([' ', '-'], "_"))
        .collect();
    for required in ["amount", "from", "to"] {
        let aliases: &[&str] = match required {
            "from" => &["from", "sender"],
            "to" => &["to", "receiver"],
            _ => &["amount"],
        };
        if !headers.iter().any(|h| aliases.contains(&h.as_str())) {
            bail!(
                "{}: the header has no {required:?} column",
                a.file.display()
            );
        }
    }
    let mut rows: Vec<Result<Row, String>> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let number = i + 1;
        let record = record.with_context(|| format!("{}: row {number}", a.file.display()))?;
        let raw = RawRow {
            fields: headers
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_string))
                .collect(),
        };
        rows.push(parse_row(number, &raw, &a).map_err(|e| format!("{e:#}")));
    }

    // Match the journal against the file and choose each row's invoice.
    let mut journal_state = load_journal(&journal_path)?;
    // A row never planned never sent anything (the `planned` entry is durable before any
    // send); its only entries are INVALID results, which a fixed file may now supersede.
    journal_state.retain(|_, st| st.planned);
    for (n, st) in &journal_state {
        match rows.get(n.wrapping_sub(1)) {
            Some(Ok(r)) if r.digest == st.digest => {}
            _ => bail!(
                "{} does not match its journal {} at row {n}: the file changed since the \
                 journal was written. Restore the file, or use a new --journal for a new batch",
                a.file.display(),
                journal_path.display()
            ),
        }
    }
    let mut used_tails: HashSet<String> = HashSet::new();
    let tail = |i: &str| i[i.len().saturating_sub(6)..].to_string();
    for st in journal_state.values() {
        if let Some(i) = &st.invoice {
            used_tails.insert(tail(i));
        }
    }
    for r in rows.iter().flatten() {
        if let Some(i) = &r.csv_invoice {
            used_tails.insert(tail(i.as_str()));
        }
    }
    let mut gen = InvoiceGen::new(used_tails);
    // Invoices settled by an earlier run are taken, whatever row comes first now.
    let mut seen_invoices: HashSet<String> = journal_state
        .values()
        .filter(|st| st.result.as_ref().is_some_and(RowResult::settled))
        .filter_map(|st| st.invoice.clone())
        .collect();
    let mut plans: Vec<Planned> = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let st = journal_state.get(&(i + 1));
        let plan = match (r, st) {
            (
                _,
                Some(JournalState {
                    result: Some(res), ..
                }),
            ) if res.settled() => Planned::Done(res.clone()),
            (Err(e), _) => Planned::Invalid(e.clone()),
            (
                Ok(_),
                Some(JournalState {
                    invoice: Some(inv), ..
                }),
            ) => Planned::Run {
                invoice: InvoiceId::new(inv.as_str())?,
                journaled: true,
            },
            (Ok(row), _) => Planned::Run {
                invoice: match &row.csv_invoice {
                    Some(i) => i.clone(),
                    None => gen.take()?,
                },
                journaled: false,
            },
        };
        let plan = match plan {
            Planned::Run { invoice, journaled }
                if !seen_invoices.insert(invoice.to_string()) && !journaled =>
            {
                Planned::Invalid(format!(
                    "invoice {invoice} appears on an earlier row of this file"
                ))
            }
            p => p,
        };
        plans.push(plan);
    }

    let journal_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal_path)
        .with_context(|| format!("cannot open the journal {}", journal_path.display()))?;
    // A crash may have cut the last entry short (load_journal skipped it): drop it, so the
    // next entry starts on a line of its own.
    let bytes = std::fs::read(&journal_path).unwrap_or_default();
    if bytes.last().is_some_and(|&c| c != b'\n') {
        let keep = bytes.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
        journal_file
            .set_len(keep as u64)
            .context("repairing the journal")?;
    }
    let ctx = Arc::new(Ctx {
        client,
        journal: Journal {
            file: Mutex::new(journal_file),
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

    let total = rows.len() as u64;
    let bar = if a.no_progress || json {
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
    };

    // Settled and invalid rows are answered at once; the rest go through the stream.
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

    let mut stream =
        futures_util::stream::iter(work.into_iter().map(|(i, row, invoice, journaled)| {
            let ctx = ctx.clone();
            async move {
                let res = run_row(&ctx, &row, &invoice, journaled).await;
                (i, invoice, res)
            }
        }))
        .buffer_unordered(usize::from(a.concurrency));
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
    bar.finish_and_clear();

    // The result CSV, in file order, written whole and renamed into place.
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
    std::fs::rename(&tmp, &out_path)
        .with_context(|| format!("cannot write {}", out_path.display()))?;

    let interrupted = ctx.stopping.load(Ordering::SeqCst);
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
    Ok(if interrupted {
        EXIT_INTERRUPTED
    } else if count("UNKNOWN") > 0 || count("NOT_RUN") > 0 {
        EXIT_UNKNOWN
    } else if totals
        .keys()
        .any(|k| !matches!(k.as_str(), "CHARGE" | "AUTH"))
    {
        EXIT_FAILURE
    } else {
        0
    })
}

/// One row: journal the plan, ask the status, send only an invoice the server has never seen,
/// and resolve an unknown outcome by status.
async fn run_row(
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

async fn send(ctx: &Ctx, row: &Row, invoice: &InvoiceId) -> RowResult {
    let mut t = row.transfer_template.clone();
    t.invoice_id = invoice.clone();
    match ctx.client.transfer(&t).await {
        Ok(r) => RowResult {
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

fn from_status(st: &aqsha_client::TransactionStatus, by_status: bool) -> RowResult {
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
