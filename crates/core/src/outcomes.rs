//! The sandbox's outcome table (`docs/sandbox.md`, "Outcome table"): how a test makes the
//! network answer with a reason code of its choice, the way Stripe's test cards do.
//!
//! Two triggers, which work together:
//! - a **scenario card**: a card issued with `POST /sandbox/cards` and an `outcome` (and
//!   optionally `delay_ms`, and for a non-final outcome `resolve_to` / `resolve_after_ms`)
//!   answers that way on every transfer ([`Scenario`], stored with the network card);
//! - a **magic amount** ([`magic_amount`]): an amount whose minor part is `.01` and whose whole
//!   part is a code of the table answers that code on any card; `.02` makes a non-final code
//!   resolve to a failure instead of a charge.
//!
//! This module holds the data and the table only; the transfer rules decide with it
//! (`transfer::scenario`). It depends on money and the wire's codes alone.

use crate::money::Money;
use aqsha_wire::codes::{self, reason, ReasonCode};
use chrono::{DateTime, Utc};

/// Longest `delay_ms` a scenario card may have. Below the server's default request timeout
/// (30 s), so that a delayed answer still arrives under the default settings.
pub const MAX_DELAY_MS: u32 = 25_000;
/// How long a non-final outcome stays pending when the card does not say.
pub const DEFAULT_RESOLVE_AFTER_MS: u32 = 5_000;
/// Bounds of `resolve_after_ms`: at least a second (a resolution is never due in the batch that
/// recorded its operation), at most a day.
pub const MIN_RESOLVE_AFTER_MS: u32 = 1_000;
pub const MAX_RESOLVE_AFTER_MS: u32 = 86_400_000;
/// What a non-final magic amount ending in `.02` resolves to.
pub const MAGIC_FAILURE: ReasonCode = reason::DECLINED_BY_ISSUER;

/// How the issuer of one card answers, whatever the transfer. The default is the natural
/// answer: no outcome, no delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// The reason code the issuer answers with; `None` for its natural answer, `Some(0)` to
    /// approve (useful with a delay).
    pub outcome: Option<u32>,
    /// How long the answer is held back, in milliseconds.
    pub delay_ms: u32,
    /// For a non-final outcome, what it resolves to: 0 for `CHARGE`, else a final code.
    pub resolve_to: u32,
    /// For a non-final outcome, how long it stays pending.
    pub resolve_after_ms: u32,
}

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario {
            outcome: None,
            delay_ms: 0,
            resolve_to: 0,
            resolve_after_ms: DEFAULT_RESOLVE_AFTER_MS,
        }
    }
}

impl Scenario {
    /// A scenario as asked through the sandbox API, checked against the table and the bounds
    /// above. The error says which field is wrong and why.
    pub fn build(
        outcome: Option<u32>,
        delay_ms: Option<u32>,
        resolve_to: Option<u32>,
        resolve_after_ms: Option<u32>,
    ) -> Result<Scenario, String> {
        let code = match outcome {
            None => None,
            Some(c) => Some(codes::lookup(c).ok_or_else(|| {
                format!("outcome {c} is not a reason code of the outcome table (docs/sandbox.md)")
            })?),
        };
        let delay_ms = delay_ms.unwrap_or(0);
        if delay_ms > MAX_DELAY_MS {
            return Err(format!("delay_ms must be at most {MAX_DELAY_MS}"));
        }
        let pending = code.is_some_and(|c| !c.is_final);
        if !pending && (resolve_to.is_some() || resolve_after_ms.is_some()) {
            return Err(
                "resolve_to and resolve_after_ms apply only to a non-final outcome (454, 100, …)"
                    .into(),
            );
        }
        let resolve_to = resolve_to.unwrap_or(0);
        if resolve_to != 0 && !codes::lookup(resolve_to).is_some_and(|c| c.is_final) {
            return Err("resolve_to must be CHARGE or a final reason code of the table".into());
        }
        let resolve_after_ms = resolve_after_ms.unwrap_or(DEFAULT_RESOLVE_AFTER_MS);
        if !(MIN_RESOLVE_AFTER_MS..=MAX_RESOLVE_AFTER_MS).contains(&resolve_after_ms) {
            return Err(format!(
                "resolve_after_ms must be between {MIN_RESOLVE_AFTER_MS} and {MAX_RESOLVE_AFTER_MS}"
            ));
        }
        Ok(Scenario {
            outcome,
            delay_ms,
            resolve_to,
            resolve_after_ms,
        })
    }

    /// Whether the card answers other than naturally (a chosen code, or late).
    pub fn is_set(&self) -> bool {
        self.outcome.is_some() || self.delay_ms > 0
    }
}

/// The outcome a magic amount asks for, on any card: `C.01` answers code `C` of the table
/// (a non-final `C` then resolves to `CHARGE`), `C.02` answers a non-final `C` that resolves
/// to [`MAGIC_FAILURE`]. Every other amount is an ordinary one. The seed's and the
/// benchmark's amounts are whole tenge, so they never meet this table.
pub fn magic_amount(amount: Money) -> Option<Scenario> {
    let minor = amount.minor();
    let code = codes::lookup(u32::try_from(minor / 100).ok()?)?;
    let resolve_to = match (minor % 100, code.is_final) {
        (1, _) => 0,
        (2, false) => MAGIC_FAILURE.code,
        _ => return None,
    };
    Some(Scenario {
        outcome: Some(code.code),
        resolve_to,
        ..Scenario::default()
    })
}

/// How a pending operation resolves, fixed when it was recorded: what it turns into and the
/// accounts a charge posts to (the same postings an immediate charge would have made).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingPlan {
    /// 0 for `CHARGE`, else the final code it fails with.
    pub resolve_to: u32,
    pub sender_account: String,
    /// The receiver's card account, or the external settlement account.
    pub receiver_account: String,
    pub fee_account: String,
    /// The sender's name as given, for the callback.
    pub payer_name: String,
    /// The token's postLink and failurePostLink: the callback's `secret_hash` goes only to
    /// these (`transfer::outcome`).
    pub token_links: [Option<String>; 2],
    /// What the transfer added to the limit counters (`crate::limits`) when it was recorded
    /// pending: a pending transfer holds its place under the limits as a charge does, so
    /// racing transfers cannot pass a limit while it waits, and it is undone if the transfer
    /// ends without a charge.
    #[serde(default)]
    pub counts: Vec<(String, crate::limits::Counter)>,
    /// The operation waits for a 3-D Secure challenge (`transfer::secure3d`), not for a
    /// sandbox outcome: its failure is worded as the challenge's.
    #[serde(default)]
    pub secure3d: bool,
}

/// A pending operation's resolution, as stored (`pending_resolutions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingResolution {
    pub operation_id: String,
    pub merchant_id: String,
    pub due_at: DateTime<Utc>,
    pub plan: PendingPlan,
}

/// A resolution claimed by one resolver for one attempt: only the holder of `claim` may carry
/// it out, so two instances never resolve one operation twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueResolution {
    pub pending: PendingResolution,
    pub claim: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_amounts_name_a_code_in_their_whole_part() {
        let m = |minor| magic_amount(Money::from_minor(minor));
        assert_eq!(m(46_501).and_then(|s| s.outcome), Some(465));
        assert_eq!(m(45_401).map(|s| s.resolve_to), Some(0));
        assert_eq!(m(45_402).map(|s| s.resolve_to), Some(MAGIC_FAILURE.code));
        // `.02` means something only for a non-final code; other amounts are ordinary.
        assert_eq!(m(46_502), None);
        assert_eq!(m(46_500), None);
        assert_eq!(m(10_000), None);
        assert_eq!(m(99_901), None);
        assert_eq!(m(324_001).and_then(|s| s.outcome), Some(3240));
    }

    /// The documented table (docs/sandbox.md) has a row for every code, with its finality.
    #[test]
    fn the_documented_table_lists_every_code() {
        let doc = include_str!("../../../docs/sandbox.md");
        for c in codes::ALL {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| {} |", c.code)))
                .unwrap_or_else(|| panic!("docs/sandbox.md has no row for {}", c.code));
            assert_eq!(row.contains("not final"), !c.is_final, "{row}");
        }
    }

    #[test]
    fn scenarios_are_checked_against_the_table_and_bounds() {
        assert!(Scenario::build(Some(465), None, None, None).is_ok());
        assert!(Scenario::build(Some(9999), None, None, None).is_err());
        assert!(Scenario::build(None, Some(MAX_DELAY_MS + 1), None, None).is_err());
        assert!(Scenario::build(Some(465), None, Some(0), None).is_err());
        assert!(Scenario::build(Some(454), None, Some(100), None).is_err());
        assert!(Scenario::build(Some(454), None, None, Some(10)).is_err());
        let s = Scenario::build(Some(454), Some(10), Some(484), Some(2_000)).unwrap();
        assert_eq!(
            (s.resolve_to, s.resolve_after_ms, s.delay_ms),
            (484, 2_000, 10)
        );
        assert!(!Scenario::default().is_set());
        assert!(Scenario::build(None, Some(1), None, None).unwrap().is_set());
    }
}
