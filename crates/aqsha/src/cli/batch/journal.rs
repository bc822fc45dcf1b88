//! The batch journal: JSON lines, appended before a row's transfer is sent (`planned`) and
//! after its outcome is known (`result`), read back to resume an interrupted batch.

use super::RowResult;
use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct JournalEntry {
    pub(super) row: usize,
    pub(super) invoice: String,
    pub(super) digest: String,
    /// `planned` (written before the transfer is sent) or `result`.
    pub(super) event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) result: Option<RowResult>,
}

#[derive(Default)]
pub(super) struct JournalState {
    /// A `planned` entry exists: the row's transfer may have been sent.
    pub(super) planned: bool,
    pub(super) invoice: Option<String>,
    pub(super) digest: String,
    pub(super) result: Option<RowResult>,
}

pub(super) struct Journal {
    pub(super) file: Mutex<std::fs::File>,
}

impl Journal {
    pub(super) fn append(&self, e: &JournalEntry, durable: bool) -> anyhow::Result<()> {
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

pub(super) fn load_journal(path: &Path) -> anyhow::Result<BTreeMap<usize, JournalState>> {
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

/// Opens the journal for appending, creating it if needed.
pub(super) fn open_for_append(journal_path: &Path) -> anyhow::Result<std::fs::File> {
    let journal_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(journal_path)
        .with_context(|| format!("cannot open the journal {}", journal_path.display()))?;
    // A crash may have cut the last entry short (load_journal skipped it): drop it, so the
    // next entry starts on a line of its own.
    let bytes = std::fs::read(journal_path).unwrap_or_default();
    if bytes.last().is_some_and(|&c| c != b'\n') {
        let keep = bytes.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
        journal_file
            .set_len(keep as u64)
            .context("repairing the journal")?;
    }
    Ok(journal_file)
}
