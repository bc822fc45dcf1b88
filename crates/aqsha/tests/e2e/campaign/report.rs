//! The campaign's figures and the violations found, printed as one block (trials run in
//! parallel) and appended to `AQSHA_CAMPAIGN_REPORT` when it is set.

use super::flows::{Flow, Kind, Outcome};
use super::hostile::Stats;
use super::{Faults, Settings};
use crate::common::receiver::{Answer, Receiver};
use crate::common::Backend;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The servers' resident memory over the load, in KiB (summed over the instances).
#[derive(Debug, Default)]
pub struct Rss {
    pub start: u64,
    pub peak: u64,
    pub end: u64,
    pub samples: usize,
}

impl Rss {
    pub fn of(samples: &[(Instant, u64)]) -> Rss {
        Rss {
            start: samples.first().map_or(0, |s| s.1),
            peak: samples.iter().map(|s| s.1).max().unwrap_or(0),
            end: samples.last().map_or(0, |s| s.1),
            samples: samples.len(),
        }
    }
}

/// The ledger's card and fee totals before and after, in tiyn.
#[derive(Debug)]
pub struct Money {
    pub cards_before: i64,
    pub cards_after: i64,
    pub fees_before: i64,
    pub fees_after: i64,
    pub fees_charged: i64,
}

pub struct Report {
    head: String,
    pub rss: Rss,
    pub hostile: Arc<Stats>,
    pub money: Option<Money>,
    pub unanswered_committed: usize,
    pub unanswered_not_done: usize,
    pub drain: Duration,
    pub callbacks_expected: usize,
    violations: Vec<String>,
    body: String,
}

impl Report {
    pub fn new(backend: Backend, s: &Settings, took: Duration, kills: usize, f: &Faults) -> Report {
        let head = format!(
            "campaign on {backend:?}: seed {}, {:.0} s of load, {} clients, {} kills (SIGKILL), \
             {} receiver outages, {} bad spells of the receiver",
            s.seed,
            took.as_secs_f64(),
            s.clients,
            kills,
            f.outages,
            f.spells
        );
        Report {
            head,
            rss: Rss::default(),
            hostile: Arc::default(),
            money: None,
            unanswered_committed: 0,
            unanswered_not_done: 0,
            drain: Duration::ZERO,
            callbacks_expected: 0,
            violations: Vec::new(),
            body: String::new(),
        }
    }

    pub fn violation(&mut self, what: String) {
        self.violations.push(what);
    }

    /// Counts what happened, and checks what the hits and flows show together.
    pub fn finish(&mut self, flows: &[Flow], receiver: &Receiver, kills: &[Instant]) {
        self.flows(flows);
        self.hostile_and_memory();
        let hits = receiver.hits();
        let first = self.callbacks(flows, &hits);
        self.lag(flows, &first, kills);
    }

    fn flows(&mut self, flows: &[Flow]) {
        let count = |p: &dyn Fn(&Flow) -> bool| flows.iter().filter(|f| p(f)).count();
        let answered = |f: &Flow| matches!(f.outcome, Outcome::Answered { .. }) && !f.retried;
        let mut why: HashMap<String, usize> = HashMap::new();
        for f in flows.iter().filter(|f| f.retried) {
            *why.entry(f.unanswered_why.clone()).or_default() += 1;
        }
        let _ = writeln!(
            self.body,
            "flows: {} ({} to a card number, {} to a saved card, {} saving the sender, {} declines)\n\
             answered during the load: {} ({} charges, {} declines); no token (server down): {}\n\
             unanswered, then resolved by status and retried with the same token: {} {why:?}: \
             {} had been committed (replayed), {} had not (run by the retry)",
            flows.len(),
            count(&|f| f.kind == Kind::ToPan),
            count(&|f| f.kind == Kind::ToSaved),
            count(&|f| f.kind == Kind::SaveSender),
            count(&|f| f.kind == Kind::Decline),
            count(&answered),
            count(&|f| answered(f) && f.resolved.as_deref() == Some("CHARGE")),
            count(&|f| answered(f) && f.resolved.as_deref() == Some("FAILED")),
            count(&|f| matches!(f.outcome, Outcome::NoToken)),
            count(&|f| f.retried),
            self.unanswered_committed,
            self.unanswered_not_done,
        );
        let mut latency: Vec<Duration> = flows
            .iter()
            .filter(|f| answered(f))
            .filter_map(|f| match f.outcome {
                Outcome::Answered { at, .. } => Some(at - f.sent),
                _ => None,
            })
            .collect();
        let _ = writeln!(self.body, "honest transfer latency: {}", percentiles(&mut latency));
        let clients = flows.iter().map(|f| f.client).max().map_or(0, |c| c + 1);
        for c in 0..clients {
            if !flows.iter().any(|f| f.client == c && answered(f)) {
                self.violation(format!("client {c} was never served"));
            }
        }
    }

    fn hostile_and_memory(&mut self) {
        let h = &self.hostile;
        let _ = writeln!(
            self.body,
            "hostile: {} idle connections held (peak {} open, {} opened, {} closed by the server), \
             {} byte-by-byte clients ({} connections, {} bytes, {} closed by the server), {} refused",
            h.idle_target,
            h.idle_peak.load(Relaxed),
            h.idle_opened.load(Relaxed),
            h.idle_closed.load(Relaxed),
            h.slow_target,
            h.slow_opened.load(Relaxed),
            h.slow_bytes.load(Relaxed),
            h.slow_closed.load(Relaxed),
            h.refused.load(Relaxed),
        );
        let r = &self.rss;
        let _ = writeln!(
            self.body,
            "server RSS (all instances): start {} MiB, peak {} MiB, end {} MiB ({} samples)",
            r.start / 1024,
            r.peak / 1024,
            r.end / 1024,
            r.samples
        );
        if let Some(m) = &self.money {
            let _ = writeln!(
                self.body,
                "money (tiyn): cards {} -> {}, fee accounts {} -> {}, fees charged {}; \
                 cards + fees {} -> {}",
                m.cards_before,
                m.cards_after,
                m.fees_before,
                m.fees_after,
                m.fees_charged,
                m.cards_before + m.fees_before,
                m.cards_after + m.fees_after
            );
        }
    }

    /// Delivery counts and duplicates; returns each invoice's first delivery.
    fn callbacks(&mut self, flows: &[Flow], hits: &[crate::common::receiver::Hit]) -> HashMap<String, Instant> {
        let known: HashMap<&str, &Flow> = flows.iter().map(|f| (f.invoice.as_str(), f)).collect();
        let mut answers: HashMap<String, usize> = HashMap::new();
        let mut delivered: HashMap<String, usize> = HashMap::new();
        let mut events: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
        let mut first: HashMap<String, Instant> = HashMap::new();
        for h in hits {
            *answers.entry(format!("{:?}", h.answer)).or_default() += 1;
            let invoice = h.json()["invoiceId"].as_str().unwrap_or("").to_string();
            if !known.contains_key(invoice.as_str()) {
                self.violation(format!("a callback for an unknown invoice {invoice:?}"));
            }
            let event = h.header("x-aqsha-event-id");
            events.entry(invoice.clone()).or_default().insert(event.clone());
            if h.answer == Answer::Status(200) {
                *delivered.entry(event).or_default() += 1;
                first.entry(invoice).or_insert(h.at);
            }
        }
        for (invoice, ids) in &events {
            if ids.len() > 1 {
                self.violation(format!("{invoice}: {} callback events for one operation", ids.len()));
            }
        }
        let duplicates: usize = delivered.values().map(|n| n - 1).sum();
        let _ = writeln!(
            self.body,
            "callbacks: {} final operations, {} delivered (answered 200), {duplicates} delivered \
             more than once; {} requests in all {answers:?}; drain after the load {:.1} s",
            self.callbacks_expected,
            delivered.len(),
            hits.len(),
            self.drain.as_secs_f64()
        );
        first
    }

    /// From a transfer's answer to its callback's first delivery: "around a kill" when an
    /// instance was killed in between (or within a second before the answer).
    fn lag(&mut self, flows: &[Flow], first: &HashMap<String, Instant>, kills: &[Instant]) {
        let (mut around, mut steady) = (Vec::new(), Vec::new());
        // Whether delivery keeps up: the median lag in each tenth of the load.
        let start = flows.iter().map(|f| f.sent).min();
        let end = flows.iter().map(|f| f.sent).max();
        let mut tenths: Vec<Vec<Duration>> = vec![Vec::new(); 10];
        for f in flows.iter().filter(|f| !f.retried) {
            let (Outcome::Answered { at, .. }, Some(&got)) = (&f.outcome, first.get(&f.invoice)) else {
                continue;
            };
            let lag = got.saturating_duration_since(*at);
            if let (Some(start), Some(end)) = (start, end) {
                let span = (end - start).as_secs_f64().max(1e-3);
                let tenth = ((*at - start).as_secs_f64() / span * 10.0) as usize;
                tenths[tenth.min(9)].push(lag);
            }
            let window = at.checked_sub(Duration::from_secs(1)).unwrap_or(*at)..=got;
            if kills.iter().any(|k| window.contains(k)) {
                around.push(lag);
            } else {
                steady.push(lag);
            }
        }
        let _ = writeln!(
            self.body,
            "callback lag, answer -> first delivery: steady {}; around a kill {}",
            percentiles(&mut steady),
            percentiles(&mut around)
        );
        let medians: Vec<String> = tenths
            .iter_mut()
            .map(|t| {
                t.sort();
                t.get(t.len() / 2).map_or("-".into(), |d| format!("{:.1}", d.as_secs_f64()))
            })
            .collect();
        let _ = writeln!(
            self.body,
            "callback lag p50 in each tenth of the load, s: {}",
            medians.join(" ")
        );
    }

    pub fn print_and_save(&self, path: Option<&std::path::Path>) {
        let mut text = format!("{}\n{}", self.head, self.body);
        let _ = writeln!(text, "violations: {}", self.violations.len());
        for v in &self.violations {
            let _ = writeln!(text, "  - {v}");
        }
        eprintln!("{text}");
        if let Some(path) = path {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
            f.write_all(text.as_bytes()).unwrap();
        }
    }

    pub fn assert_sound(&self) {
        assert!(self.violations.is_empty(), "{}: {:#?}", self.head, self.violations);
        // Generous: the memory of a server under hostile clients stays within a small
        // multiple of where it started.
        assert!(
            self.rss.peak <= self.rss.start * 4 + 256 * 1024,
            "server memory grew: {:?}",
            self.rss
        );
    }
}

fn percentiles(v: &mut [Duration]) -> String {
    if v.is_empty() {
        return "n=0".into();
    }
    v.sort();
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    format!(
        "n={} p50 {} ms, p99 {} ms, max {} ms",
        v.len(),
        at(0.5).as_millis(),
        at(0.99).as_millis(),
        v[v.len() - 1].as_millis()
    )
}
