//! Transfers to a phone number (`TYPEPHONE`): the receiver is named by a phone number and the
//! holder's IIN, and the sandbox's phone directory says which card that is (docs/sandbox.md,
//! "Phone directory").
//!
//! Phone numbers and IINs are personal data: the server turns them into keyed values before
//! the command is built ([`crate::vault::Vault::phone_key`], [`crate::vault::Vault::iin_check`]),
//! so neither reaches the store, a log or this module in plain text.

use super::rules::{decline, Checked};
use super::sides::{issuer_checks, Resolved, Role};
use super::TransferCommand;
use crate::records::{SideRecord, TransferType};
use crate::tx::Tx;
use crate::vault::ct_eq;
use aqsha_wire::codes::reason;

/// A receiver given by phone number and IIN, as keyed values.
#[derive(Debug, Clone)]
pub struct PhoneSide {
    /// The phone number's directory key.
    pub phone_key: String,
    /// The IIN's check value for that key.
    pub iin_check: String,
}

/// 471 when no card is bound to the phone number (for this merchant or publicly), 2357 when
/// the IIN is not the one the phone is registered with; then the card's issuer checks.
pub(super) fn side(tx: &mut dyn Tx, cmd: &TransferCommand, p: &PhoneSide) -> Checked<Resolved> {
    let no_card = || {
        decline(
            reason::NO_SUCH_CARD,
            "no card is registered for this phone number",
        )
    };
    let entry = tx
        .phone_entry(&cmd.token.merchant_id, &p.phone_key)?
        .ok_or_else(no_card)?;
    if !ct_eq(&entry.iin_check, &p.iin_check) {
        return Err(decline(
            reason::IIN_PHONE_MISMATCH,
            "the IIN does not match the phone number's holder",
        ));
    }
    let card = tx
        .network_card(&entry.card_fingerprint)?
        .ok_or_else(no_card)?;
    issuer_checks(&card, Role::Receiver, cmd.now)?;
    Ok(Resolved {
        record: SideRecord {
            card_id: String::new(),
            mask: card.mask.clone(),
            brand: Some(card.brand),
            transfer_type: Some(TransferType::Phone),
        },
        fingerprint: card.fingerprint.clone(),
        network: Some(card),
        settlement: None,
        save: None,
    })
}
