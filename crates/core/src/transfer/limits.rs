//! The limit checks of a transfer (`crate::limits` has the limits, their defaults and their
//! counters), and the counting of a charge.
//!
//! Each counter is read and written in the transfer's own transaction, and the store locks it
//! until the commit ([`Tx::limit_counter`]): of transfers racing at a limit's edge, exactly as
//! many are charged as fit, on any number of instances.

use super::rules::{decline, Checked};
use super::sides::Resolved;
use super::TransferCommand;
use crate::limits::{self, Counter, TerminalLimits};
use crate::money::Money;
use crate::records::TerminalRecord;
use crate::tx::{StoreResult, Tx};
use aqsha_wire::codes::reason;

/// What a charge adds to which counters, once it is made.
pub(super) type Counts = Vec<(String, Counter)>;

/// 488: one transfer's amount is within the terminal's limit.
pub(super) fn per_transfer(
    terminal: &TerminalRecord,
    allowed: &TerminalLimits,
    amount: Money,
) -> Checked<()> {
    if amount > allowed.per_transfer {
        return Err(decline(
            reason::AMOUNT_LIMIT_EXCEEDED,
            format!(
                "the amount is above this terminal's limit of {} {} per transfer",
                allowed.per_transfer,
                terminal.currency.code()
            ),
        ));
    }
    Ok(())
}

/// 491, 528, 529 and 2678, in that order: the sender card's transfers today, what the receiver
/// card was credited today, what the terminal charged today and overall, each with this
/// transfer added, are within the terminal's limits. Returns what the charge will count.
pub(super) fn counters(
    tx: &mut dyn Tx,
    cmd: &TransferCommand,
    terminal: &TerminalRecord,
    allowed: &TerminalLimits,
    (sender, receiver): (&Resolved, &Resolved),
    amount: Money,
) -> Checked<Counts> {
    let merchant = &cmd.token.merchant_id;
    let day = limits::day_of(cmd.now);
    let this = Counter::one(amount);
    let cur = terminal.currency.code();
    // The merchant's own side of an AFT or OCT (its settlement account) is no card: the card
    // limits count cards only.
    let card_key = |side: &Resolved, key: &dyn Fn(&str) -> String| {
        side.settlement.is_none().then(|| key(&side.fingerprint))
    };
    let period = limits::period_of(cmd.now);
    let sender_key = card_key(sender, &|fp| limits::sender_key(merchant, fp, &period));
    let receiver_key = card_key(receiver, &|fp| limits::receiver_key(merchant, fp, &day));
    let sender_count = match &sender_key {
        Some(key) => tx.limit_counter(key)?.plus(this).transfers,
        None => 0,
    };
    if sender_count > allowed.sender_daily_transfers {
        return Err(decline(
            reason::FREQUENCY_LIMIT,
            format!(
                "the sender card has made {} transfers today, this terminal's limit",
                allowed.sender_daily_transfers
            ),
        ));
    }
    let within = |c: Counter, limit: Money| c.plus(this).total <= limit.minor();
    let receiver_count = match &receiver_key {
        Some(key) => tx.limit_counter(key)?,
        None => Counter::default(),
    };
    if !within(receiver_count, allowed.receiver_daily) {
        return Err(decline(
            reason::RECEIVER_DAILY_LIMIT,
            format!(
                "the receiver card would be credited more than {} {cur} today",
                allowed.receiver_daily,
            ),
        ));
    }
    let day_key = limits::terminal_day_key(&terminal.id, &day);
    if !within(tx.limit_counter(&day_key)?, allowed.terminal_daily) {
        return Err(decline(
            reason::TERMINAL_DAILY_LIMIT,
            format!(
                "the terminal would charge more than {} {cur} today",
                allowed.terminal_daily,
            ),
        ));
    }
    let total_key = limits::terminal_key(&terminal.id);
    if !within(tx.limit_counter(&total_key)?, allowed.terminal_total) {
        return Err(decline(
            reason::TERMINAL_LIMIT,
            format!(
                "the terminal would charge more than its overall limit of {} {cur}",
                allowed.terminal_total,
            ),
        ));
    }
    Ok([sender_key, receiver_key, Some(day_key), Some(total_key)]
        .into_iter()
        .flatten()
        .map(|k| (k, this))
        .collect())
}

/// Counts a charge, in its own transaction.
pub(super) fn count(tx: &mut dyn Tx, counts: Counts) -> StoreResult<()> {
    for (key, add) in counts {
        tx.add_to_counter(&key, add)?;
    }
    Ok(())
}

/// The counters a transfer will read, as far as they are known before it runs: the keys of
/// card numbers given in full and of the named terminal (a saved card's is found as it runs).
pub(super) fn keys_ahead(cmd: &TransferCommand, terminal: Option<&String>) -> Vec<String> {
    use super::SideInput::Pan;
    let merchant = &cmd.token.merchant_id;
    let day = limits::day_of(cmd.now);
    let mut keys = Vec::with_capacity(4);
    if let Pan(p) = &cmd.sender {
        keys.push(limits::sender_key(
            merchant,
            &p.fingerprint,
            &limits::period_of(cmd.now),
        ));
    }
    if let Pan(p) = &cmd.receiver {
        keys.push(limits::receiver_key(merchant, &p.fingerprint, &day));
    }
    if let Some(t) = terminal {
        keys.push(limits::terminal_day_key(t, &day));
        keys.push(limits::terminal_key(t));
    }
    keys
}
