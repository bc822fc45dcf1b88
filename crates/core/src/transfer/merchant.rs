//! AFT and OCT: the merchant's own settlement account as one side of a transfer.
//!
//! An AFT (`/chdebit/transfer`) moves money from the sender's card to the merchant: the
//! receiver side is [`SideInput::Merchant`], and the amount is credited to the merchant's
//! settlement account for the order's currency. An OCT (`/chpayment/transfer`) pays out from
//! that account to the receiver's card: the sender side is the merchant, and the account must
//! cover amount and fee, or the payout is declined with 484 (insufficient funds: the payer is
//! the merchant). Every other check is the P2P transfer's, in the same order.

use super::rules::{decline, Checked};
use super::sides::Resolved;
use super::{SideInput, TransferCommand};
use crate::money::Currency;
use crate::records::SideRecord;
use aqsha_wire::codes::reason;

/// The ledger account holding what a merchant has received and not yet paid out, per
/// currency. AFTs credit it, OCTs debit it, and the sandbox API funds it from the merchant's
/// funding account (`POST /sandbox/merchant/fund`).
pub fn settlement_account(merchant_id: &str, currency: Currency) -> String {
    format!("settlement:{merchant_id}:{}", currency.code())
}

/// The settlement account an OCT pays from, when the command is one and names a currency
/// Aqsha knows; a store locks it before the command reads its balance.
pub(super) fn payer_lock(cmd: &TransferCommand) -> Option<String> {
    if !matches!(cmd.sender, SideInput::Merchant) {
        return None;
    }
    let currency = Currency::parse(&cmd.order.currency)?;
    Some(settlement_account(&cmd.token.merchant_id, currency))
}

/// The merchant's side: no card, its settlement account in the order's currency.
pub(super) fn side(cmd: &TransferCommand) -> Checked<Resolved> {
    // The currency was checked before any side is resolved (469 otherwise).
    let currency = Currency::parse(&cmd.order.currency)
        .ok_or_else(|| decline(reason::INVALID_TRANSACTION, "currency is not supported"))?;
    let account = settlement_account(&cmd.token.merchant_id, currency);
    Ok(Resolved {
        record: SideRecord::default(),
        fingerprint: account.clone(),
        network: None,
        settlement: Some(account),
        save: None,
    })
}
