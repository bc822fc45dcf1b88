//! Transfer limits (issue 14, item 3): what a terminal allows, and the counters they are
//! checked against.
//!
//! A leaf module, like `invoice`: the transfer rules check the limits, the store reads and
//! writes the counters in the transfer's own commit, and the sandbox API shows and changes a
//! terminal's settings; all of them name the counters through the keys made here.
//!
//! Five limits, each with its reason code:
//!
//! | limit | code | counted per |
//! |---|---|---|
//! | amount of one transfer | 488 | (nothing to count) |
//! | charged transfers from one sender card in a day | 491 | merchant, sender card, day |
//! | total a receiver card is credited in a day | 528 | merchant, receiver card, day |
//! | total a terminal charges in a day | 529 | terminal, day |
//! | total a terminal charges overall | 2678 | terminal |
//!
//! Card counters are kept per merchant, as the wrong-answer counts are (`card_guesses`): the
//! sandbox's public test cards are shared by every merchant, and one merchant's traffic must not
//! use up another's limits. Only charges count; a decline moves nothing and counts nothing.
//! Totals are of transfer amounts, without the fee. A day is the UTC calendar day, the same one
//! the invoice-tail rule counts in ([`crate::invoice::day_of`]).

pub use crate::invoice::day_of;
use crate::money::Money;
use chrono::{DateTime, Utc};

/// The period a sender card's transfers are counted in (491): the day, as for the other daily
/// limits.
pub fn period_of(now: DateTime<Utc>) -> String {
    day_of(now)
}

/// One terminal's limits as they apply: its own settings, defaults where it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalLimits {
    /// The largest amount of one transfer (488).
    pub per_transfer: Money,
    /// Charged transfers from one sender card per day (491).
    pub sender_daily_transfers: i64,
    /// What one receiver card may be credited in a day (528).
    pub receiver_daily: Money,
    /// What the terminal may charge in a day (529).
    pub terminal_daily: Money,
    /// What the terminal may charge overall (2678).
    pub terminal_total: Money,
}

impl TerminalLimits {
    /// The defaults: far above anything the seed flow, the tests or `aqsha bench` send (the
    /// bench sends 1 KZT transfers, about 200,000 a run, over fresh terminals and 1,024 cards),
    /// and at or below [`crate::money::MAX_MINOR`], so any of them can be set through the API.
    pub const DEFAULT: TerminalLimits = TerminalLimits {
        // 10,000,000.00
        per_transfer: Money::from_minor(1_000_000_000),
        sender_daily_transfers: 1_000_000,
        // 100,000,000.00
        receiver_daily: Money::from_minor(10_000_000_000),
        // 1,000,000,000.00
        terminal_daily: Money::from_minor(100_000_000_000),
        // 10,000,000,000.00
        terminal_total: Money::from_minor(1_000_000_000_000),
    };
}

impl Default for TerminalLimits {
    fn default() -> Self {
        TerminalLimits::DEFAULT
    }
}

/// A terminal's own settings, as stored: `None` takes the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitSettings {
    pub per_transfer: Option<Money>,
    pub sender_daily_transfers: Option<i64>,
    pub receiver_daily: Option<Money>,
    pub terminal_daily: Option<Money>,
    pub terminal_total: Option<Money>,
}

impl LimitSettings {
    /// The limits that apply under these settings.
    pub fn effective(&self) -> TerminalLimits {
        let d = TerminalLimits::DEFAULT;
        TerminalLimits {
            per_transfer: self.per_transfer.unwrap_or(d.per_transfer),
            sender_daily_transfers: self
                .sender_daily_transfers
                .unwrap_or(d.sender_daily_transfers),
            receiver_daily: self.receiver_daily.unwrap_or(d.receiver_daily),
            terminal_daily: self.terminal_daily.unwrap_or(d.terminal_daily),
            terminal_total: self.terminal_total.unwrap_or(d.terminal_total),
        }
    }
}

/// A counter's value: charged transfers and their total, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    pub transfers: i64,
    pub total: i64,
}

impl Counter {
    /// One more transfer of `amount`.
    pub fn one(amount: Money) -> Counter {
        Counter {
            transfers: 1,
            total: amount.minor(),
        }
    }

    /// What undoes this count (a pending transfer that ended without a charge).
    pub fn negated(self) -> Counter {
        Counter {
            transfers: -self.transfers,
            total: -self.total,
        }
    }

    pub fn plus(self, other: Counter) -> Counter {
        Counter {
            transfers: self.transfers.saturating_add(other.transfers),
            total: self.total.saturating_add(other.total),
        }
    }
}

/// A card's part of a counter key: the first 32 hex digits (128 bits) of its fingerprint, as
/// unique as a card needs and half the key (counter keys are written on the transfer path).
fn card_part(card: &str) -> &str {
    card.get(..32).unwrap_or(card)
}

/// The counter of a sender card's charged transfers in a period.
pub fn sender_key(merchant_id: &str, card: &str, period: &str) -> String {
    format!("out/{merchant_id}/{}/{period}", card_part(card))
}

/// The counter of what a receiver card was credited in a day.
pub fn receiver_key(merchant_id: &str, card: &str, day: &str) -> String {
    format!("in/{merchant_id}/{}/{day}", card_part(card))
}

/// The counter of what a terminal charged in a day.
pub fn terminal_day_key(terminal_id: &str, day: &str) -> String {
    format!("terminal/{terminal_id}/{day}")
}

/// The counter of what a terminal charged overall.
pub fn terminal_key(terminal_id: &str) -> String {
    format!("terminal/{terminal_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_fall_back_to_the_defaults_one_by_one() {
        let s = LimitSettings {
            sender_daily_transfers: Some(3),
            ..LimitSettings::default()
        };
        let e = s.effective();
        assert_eq!(e.sender_daily_transfers, 3);
        assert_eq!(e.per_transfer, TerminalLimits::DEFAULT.per_transfer);
        assert!(TerminalLimits::DEFAULT.terminal_total.minor() <= crate::money::MAX_MINOR);
    }

    #[test]
    fn keys_of_different_counters_never_collide() {
        let keys = [
            sender_key("m", "c", "2025-01-01"),
            receiver_key("m", "c", "2025-01-01"),
            terminal_day_key("t", "2025-01-01"),
            terminal_key("t"),
        ];
        for (i, a) in keys.iter().enumerate() {
            assert!(keys[i + 1..].iter().all(|b| b != a));
        }
    }
}
