//! Each side's card: found by saved-card id or by card number, then asked of its issuer when
//! the sandbox network issued it. The sender's expiry and CVC answers are counted here.

use super::rules::{decline, Checked};
use super::{PanSide, SideInput, TransferCommand, TransferRules};
use crate::card::Brand;
use crate::records::{CardGuesses, NetworkCard, SideRecord, TransferType, VaultCard};
use crate::tx::Tx;
use crate::vault::{ct_eq, SealedPan};
use aqsha_wire::codes::reason;
use chrono::{DateTime, Datelike, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Sender,
    Receiver,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Sender => "sender",
            Role::Receiver => "receiver",
        }
    }
}

/// One side of a transfer after its card was resolved.
pub(super) struct Resolved {
    pub record: SideRecord,
    pub fingerprint: String,
    /// The network card, when the sandbox issued it; `None` for an external receiver and for
    /// the merchant's side of an AFT or OCT.
    pub network: Option<NetworkCard>,
    /// The merchant's settlement account, for the merchant's side of an AFT or OCT.
    pub settlement: Option<String>,
    pub save: Option<SaveRequest>,
}

impl Resolved {
    /// The ledger account this side pays from or is paid to: its network card's, or for the
    /// merchant's side of an AFT or OCT its settlement account; `None` for another issuer's
    /// card.
    pub fn account(&self) -> Option<&str> {
        match &self.network {
            Some(card) => Some(&card.account_id),
            None => self.settlement.as_deref(),
        }
    }
}

/// A card number to save for the order's customer once the charge is made.
pub(super) struct SaveRequest {
    pub sealed: SealedPan,
    pub mask: String,
    pub brand: Brand,
    pub payer_name: String,
}

/// Finds the card behind one side and asks its issuer, when the sandbox is the issuer.
pub(super) fn resolve(tx: &mut dyn Tx, cmd: &TransferCommand, role: Role) -> Checked<Resolved> {
    let side = match role {
        Role::Sender => &cmd.sender,
        Role::Receiver => &cmd.receiver,
    };
    match side {
        SideInput::CardId { id, .. } => saved_card(tx, cmd, id, role),
        SideInput::Pan(p) => card_number(tx, cmd, p, role),
        SideInput::Merchant => super::merchant::side(cmd),
        SideInput::Phone(p) => super::phone::side(tx, cmd, p),
    }
}

/// What the request itself says of a side before its card is looked at: a card number's mask
/// and brand, or how the side was named. A decline then still shows which card was used.
pub(super) fn presented(side: &SideInput) -> SideRecord {
    match side {
        SideInput::Pan(p) => SideRecord {
            card_id: String::new(),
            mask: p.mask.clone(),
            brand: Some(p.brand),
            transfer_type: Some(TransferType::Pan),
        },
        SideInput::CardId { .. } => SideRecord {
            transfer_type: Some(TransferType::CardId),
            ..SideRecord::default()
        },
        SideInput::Phone(_) => SideRecord {
            transfer_type: Some(TransferType::Phone),
            ..SideRecord::default()
        },
        SideInput::Merchant => SideRecord::default(),
    }
}

/// A side given by saved-card id (`TYPECARDID`).
fn saved_card(tx: &mut dyn Tx, cmd: &TransferCommand, id: &str, role: Role) -> Checked<Resolved> {
    let card = active_saved_card(tx, cmd, id, role)?;
    let network = tx.network_card(&card.fingerprint)?;
    if let Some(n) = &network {
        issuer_checks(n, role, cmd.now)?;
    }
    Ok(Resolved {
        record: SideRecord {
            card_id: card.id,
            mask: card.mask,
            brand: Some(card.brand),
            transfer_type: Some(TransferType::CardId),
        },
        fingerprint: card.fingerprint,
        network,
        settlement: None,
        save: None,
    })
}

/// 487: the id is an active saved card of this merchant, and a sender's is the order's
/// customer's (it pays without a CVC only for them). Unknown, deactivated and another
/// merchant's card all answer alike, so a card id reveals nothing about cards that are not the
/// caller's.
fn active_saved_card(
    tx: &mut dyn Tx,
    cmd: &TransferCommand,
    id: &str,
    role: Role,
) -> Checked<VaultCard> {
    let account = cmd.order.account_id.as_deref().unwrap_or("");
    match tx.vault_card(id)? {
        Some(c)
            if c.active
                && c.merchant_id == cmd.token.merchant_id
                && (role == Role::Receiver || c.account_id == account) =>
        {
            Ok(c)
        }
        _ => Err(decline(
            reason::NOT_PERMITTED_TO_MERCHANT,
            format!(
                "{} card id is not an active saved card of this merchant{}",
                role.name(),
                match role {
                    Role::Sender => " for this order's accountID",
                    Role::Receiver => "",
                }
            ),
        )),
    }
}

/// A side given by card number (`TYPEPAN`): 472 when its check digit is wrong; a sender's
/// must be the network's (471) and answer its expiry and CVC; a receiver's may be any
/// issuer's.
fn card_number(
    tx: &mut dyn Tx,
    cmd: &TransferCommand,
    p: &PanSide,
    role: Role,
) -> Checked<Resolved> {
    if !p.luhn_ok {
        return Err(decline(
            reason::INVALID_CARD_NUMBER,
            format!("{} card number fails the check digit (Luhn)", role.name()),
        ));
    }
    let network = tx.network_card(&p.fingerprint)?;
    match (&network, role) {
        (Some(n), _) => {
            issuer_checks(n, role, cmd.now)?;
            if role == Role::Sender {
                check_answers(tx, &cmd.rules, &cmd.token.merchant_id, p, n, cmd.now)?;
            }
        }
        (None, Role::Sender) => {
            return Err(decline(
                reason::NO_SUCH_CARD,
                "sender card is not known to the network",
            ))
        }
        (None, Role::Receiver) => {}
    }
    Ok(Resolved {
        record: SideRecord {
            card_id: String::new(),
            mask: p.mask.clone(),
            brand: Some(p.brand),
            transfer_type: Some(TransferType::Pan),
        },
        fingerprint: p.fingerprint.clone(),
        network,
        settlement: None,
        save: save_request(p),
    })
}

fn save_request(p: &PanSide) -> Option<SaveRequest> {
    match (&p.sealed, p.save) {
        (Some(sealed), true) => Some(SaveRequest {
            sealed: sealed.clone(),
            mask: p.mask.clone(),
            brand: p.brand,
            payer_name: p.name.clone().unwrap_or_default(),
        }),
        _ => None,
    }
}

/// The sender's expiry and CVC against the issuer's, counting wrong answers per card and
/// merchant: once `wrong_answer_limit` are given, the card is refused to that merchant (492)
/// for `block_for`, whatever is answered, so a CVC cannot be found by trying. A right answer
/// clears the count. The count is written in the decline's own commit.
fn check_answers(
    tx: &mut dyn Tx,
    rules: &TransferRules,
    merchant_id: &str,
    p: &PanSide,
    card: &NetworkCard,
    now: DateTime<Utc>,
) -> Checked<()> {
    let mut g = tx.card_guesses(merchant_id, &p.fingerprint)?;
    if let Some(until) = g.blocked_until.filter(|u| *u > now) {
        return Err(decline(
            reason::PIN_TRIES_EXCEEDED,
            format!(
                "the sender card is blocked after {} wrong CVC or expiry answers, until {}",
                rules.wrong_answer_limit,
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ));
    }
    let Some(wrong) = wrong_answer(p, card) else {
        if g != CardGuesses::default() {
            tx.put_card_guesses(merchant_id, &p.fingerprint, CardGuesses::default())?;
        }
        return Ok(());
    };
    g.wrong += 1;
    g.blocked_until = None;
    if g.wrong >= rules.wrong_answer_limit {
        g = CardGuesses {
            wrong: 0,
            blocked_until: Some(now + rules.block_for),
        };
    }
    tx.put_card_guesses(merchant_id, &p.fingerprint, g)?;
    Err(wrong)
}

/// 457 for a wrong expiry, 466 for a wrong CVC; `None` when both are right.
fn wrong_answer(p: &PanSide, card: &NetworkCard) -> Option<super::rules::Stop> {
    if p.expiry != Some(card.expiry) {
        return Some(decline(
            reason::WRONG_EXPIRY,
            "wrong expiry date for the sender card",
        ));
    }
    let cvc_right = p
        .cvc_check
        .as_deref()
        .is_some_and(|c| ct_eq(c, &card.cvc_check));
    (!cvc_right).then(|| decline(reason::DECLINED_BY_ISSUER_466, "CVC check failed"))
}

/// The issuer's own view of its card: locked (465), or past its expiry (478).
pub(super) fn issuer_checks(card: &NetworkCard, role: Role, now: DateTime<Utc>) -> Checked<()> {
    if card.locked {
        return Err(decline(
            reason::CARD_RESTRICTED,
            format!("{} card is blocked", role.name()),
        ));
    }
    if card.enforce_expiry && card.expiry.has_passed(now.year(), now.month()) {
        return Err(decline(
            reason::EXPIRED_CARD,
            format!("{} card has expired", role.name()),
        ));
    }
    Ok(())
}
