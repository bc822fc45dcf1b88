//! Reading the batch CSV into rows, matching it against the journal and choosing each row's
//! invoice.

use super::journal::{load_journal, JournalState};
use super::{BatchArgs, RowResult};
use crate::cli::{parse_receiver, parse_sender};
use anyhow::{anyhow, bail, Context};
use aqsha_client::{AccountId, Amount, CardNumber, Currency, InvoiceId, P2pTransfer, TerminalId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

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
pub(super) struct Row {
    /// 1-based data row number (the header is row 0).
    pub(super) number: usize,
    pub(super) csv_invoice: Option<InvoiceId>,
    pub(super) amount: Amount,
    pub(super) currency: Currency,
    pub(super) from_label: String,
    pub(super) to_label: String,
    pub(super) terminal: Option<TerminalId>,
    pub(super) transfer_template: P2pTransfer,
    pub(super) digest: String,
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
    let terminal = crate::cli::terminal_opt(raw.get(&["terminal", "terminal_id"]))?;
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

pub(super) fn default_out(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "batch".into());
    let stem = name.strip_suffix(".csv").unwrap_or(&name);
    file.with_file_name(format!("{stem}.results.csv"))
}

pub(super) fn default_journal(file: &Path) -> PathBuf {
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

pub(super) enum Planned {
    /// Settled by an earlier run.
    Done(RowResult),
    /// To run with this invoice; `journaled` when an earlier run already planned it.
    Run {
        invoice: InvoiceId,
        journaled: bool,
    },
    Invalid(String),
}

/// Reads the file: each data row parsed into a [`Row`], or the reason it cannot run.
pub(super) fn read_rows(a: &BatchArgs) -> anyhow::Result<Vec<Result<Row, String>>> {
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
        rows.push(parse_row(number, &raw, a).map_err(|e| format!("{e:#}")));
    }
    Ok(rows)
}

/// Loads the journal and checks that it belongs to this file.
pub(super) fn load_matching_journal(
    a: &BatchArgs,
    journal_path: &Path,
    rows: &[Result<Row, String>],
) -> anyhow::Result<BTreeMap<usize, JournalState>> {
    // Match the journal against the file and choose each row's invoice.
    let mut journal_state = load_journal(journal_path)?;
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
    Ok(journal_state)
}

/// Matches the journal against the file and chooses each row's invoice.
pub(super) fn choose_invoices(
    rows: &[Result<Row, String>],
    journal_state: &BTreeMap<usize, JournalState>,
) -> anyhow::Result<Vec<Planned>> {
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
    Ok(plans)
}
