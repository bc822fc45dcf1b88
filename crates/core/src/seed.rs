//! The sandbox seed: turns `seed/sandbox.json` (plain test data) into records a store installs.
//!
//! The seed is data, not code: nothing in the domain knows a test card's number. The documented
//! test cards carry `enforce_expiry: false` in the data, which is why they keep working although
//! their printed dates have passed; any other card is declined once its expiry has passed.

use crate::card::{Cvc, Expiry, Pan};
use crate::fee::FeeSchedule;
use crate::money::{Currency, Money};
use crate::provision::{
    hash_password, network_card, new_merchant, new_phone, CardTerms, NewMerchant, NewRecords,
    PhoneCard,
};
use crate::records::{NewNetworkCard, VaultCard};
use crate::vault::Vault;
use chrono::Utc;
use serde::Deserialize;

/// The sandbox data shipped inside the binary.
pub const SANDBOX_SEED: &str = include_str!("../seed/sandbox.json");
/// The public phone directory, installed apart (its own marker) so that a database seeded
/// before the directory existed gets it too.
pub const PHONE_SEED: &str = include_str!("../seed/phones.json");

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed data is invalid: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
struct SeedFile {
    marker: String,
    merchants: Vec<SeedMerchant>,
    fee: SeedFee,
    cards: Vec<SeedCard>,
}

#[derive(Deserialize)]
struct SeedMerchant {
    name: String,
    client_id: String,
    client_secret: String,
    cabinet_email: Option<String>,
    cabinet_password: Option<String>,
    terminals: Vec<SeedTerminal>,
}

#[derive(Deserialize)]
struct SeedTerminal {
    id: String,
    currency: String,
    /// ePay's short terminal number; the same as migration "terminal_numbers" gives these
    /// terminals in a database seeded before it.
    number: Option<String>,
}

#[derive(Deserialize)]
struct SeedFee {
    percent_bps: i64,
    min_fee: String,
}

#[derive(Deserialize)]
struct SeedCard {
    pan: String,
    expire: String,
    cvc: String,
    locked: bool,
    enforce_expiry: bool,
    balance: String,
    currency: String,
    saved: Option<SeedSaved>,
    /// Enrolled in 3-D Secure (docs/sandbox.md); absent means not.
    #[serde(default)]
    secure3d: bool,
}

#[derive(Deserialize)]
struct SeedSaved {
    id: String,
    merchant: String,
    account_id: String,
    payer_name: String,
}

#[derive(Deserialize)]
struct PhoneFile {
    marker: String,
    phones: Vec<SeedPhone>,
}

#[derive(Deserialize)]
struct SeedPhone {
    phone: String,
    iin: String,
    /// The public test card the phone is bound to.
    card: String,
}

/// The public phone directory, with its keyed values made by this vault.
pub fn phones(vault: &Vault) -> Result<NewRecords, SeedError> {
    let file: PhoneFile =
        serde_json::from_str(PHONE_SEED).map_err(|e| SeedError::Invalid(e.to_string()))?;
    let mut seed = NewRecords {
        marker: Some(file.marker),
        ..Default::default()
    };
    for p in &file.phones {
        let pan = Pan::parse(&p.card).map_err(|_| bad("phone card"))?;
        let card = PhoneCard::Fingerprint(vault.fingerprint(&pan));
        seed.phones
            .push(new_phone(vault, &p.phone, &p.iin, None, card));
    }
    Ok(seed)
}

fn bad(what: &str) -> SeedError {
    SeedError::Invalid(what.to_string())
}

/// Reads the shipped seed and prepares its records with this vault's keys.
pub fn prepare(vault: &Vault) -> Result<NewRecords, SeedError> {
    let file: SeedFile =
        serde_json::from_str(SANDBOX_SEED).map_err(|e| SeedError::Invalid(e.to_string()))?;
    let fee = FeeSchedule {
        percent_bps: file.fee.percent_bps,
        min_fee: Money::parse_positive(&file.fee.min_fee).map_err(|_| bad("fee.min_fee"))?,
    };
    let mut seed = NewRecords {
        marker: Some(file.marker),
        ..Default::default()
    };
    for m in &file.merchants {
        seed.merchants.push(merchant(m, fee)?);
    }
    for c in &file.cards {
        let pan = Pan::parse(&c.pan).map_err(|_| bad("card pan"))?;
        let card = card(vault, &pan, c)?;
        if let Some(s) = &c.saved {
            let saved = saved_card(vault, &pan, &card.card.fingerprint, s, &seed.merchants)?;
            seed.vault_cards.push(saved);
        }
        seed.cards.push(card);
    }
    Ok(seed)
}

fn merchant(m: &SeedMerchant, fee: FeeSchedule) -> Result<NewMerchant, SeedError> {
    let terminals = m
        .terminals
        .iter()
        .map(|t| {
            Ok((
                t.id.clone(),
                Currency::parse(&t.currency).ok_or_else(|| bad("terminal currency"))?,
            ))
        })
        .collect::<Result<Vec<_>, SeedError>>()?;
    let mut nm = new_merchant(&m.name, &m.client_id, &m.client_secret, &terminals, fee);
    for (t, seeded) in nm.terminals.iter_mut().zip(&m.terminals) {
        t.number = seeded.number.clone().unwrap_or_default();
    }
    nm.cabinet_email = m.cabinet_email.clone();
    nm.cabinet_password_hash = match &m.cabinet_password {
        Some(p) => Some(hash_password(p).map_err(|e| SeedError::Invalid(e.to_string()))?),
        None => None,
    };
    Ok(nm)
}

/// A public test card: known by the network-wide fingerprint, shared by every merchant.
fn card(vault: &Vault, pan: &Pan, c: &SeedCard) -> Result<NewNetworkCard, SeedError> {
    let (mm, yy) = c.expire.split_once('/').ok_or_else(|| bad("card expire"))?;
    let expiry = Expiry::parse(mm, yy).ok_or_else(|| bad("card expire"))?;
    let cvc = Cvc::parse(&c.cvc).map_err(|_| bad("card cvc"))?;
    let currency = Currency::parse(&c.currency).ok_or_else(|| bad("card currency"))?;
    let balance = if c.balance.trim() == "0" {
        Money::ZERO
    } else {
        Money::parse_positive(&c.balance).map_err(|_| bad("card balance"))?
    };
    let terms = CardTerms {
        expiry,
        locked: c.locked,
        enforce_expiry: c.enforce_expiry,
        balance,
        currency,
        scenario: Default::default(),
        secure3d: c.secure3d,
    };
    Ok(network_card(
        vault,
        vault.fingerprint(pan),
        None,
        pan,
        &cvc,
        terms,
    ))
}

/// A test card saved for one of the seed's merchants' customers, on its first terminal.
fn saved_card(
    vault: &Vault,
    pan: &Pan,
    fingerprint: &str,
    s: &SeedSaved,
    merchants: &[NewMerchant],
) -> Result<VaultCard, SeedError> {
    let merchant = merchants
        .iter()
        .find(|m| m.record.client_id == s.merchant)
        .ok_or_else(|| bad("saved card merchant"))?;
    Ok(VaultCard {
        id: s.id.clone(),
        merchant_id: merchant.record.id.clone(),
        account_id: s.account_id.clone(),
        fingerprint: fingerprint.to_string(),
        sealed: vault.seal(pan),
        mask: pan.mask(),
        brand: pan.brand(),
        payer_name: s.payer_name.clone(),
        active: true,
        created_at: Utc::now(),
        transaction_id: String::new(),
        reference: String::new(),
        int_reference: String::new(),
        terminal_id: merchant
            .terminals
            .first()
            .map(|t| t.id.clone())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_prepares_without_plain_card_data() {
        let v = Vault::new([1u8; 32]);
        let seed = prepare(&v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seed.merchants.len(), 1);
        assert_eq!(seed.merchants[0].terminals.len(), 4);
        assert_eq!(seed.cards.len(), 7);
        // Only the one documented as such is enrolled in 3-D Secure (docs/sandbox.md).
        let enrolled: Vec<_> = seed.cards.iter().filter(|c| c.card.secure3d).collect();
        assert_eq!(enrolled.len(), 1);
        assert_eq!(enrolled[0].card.mask, "440563...3001");
        assert_eq!(seed.vault_cards[0].mask, "440563...7622");
        let shown = format!("{seed:?}");
        for secret in [
            "4405639704015096",
            "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG",
            "XZG1E@Mm",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked into records");
        }
    }
}
