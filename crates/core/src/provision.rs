//! Provisioning: new merchants with their terminals, network cards with their accounts, the
//! ids and secrets they are given, and the set of records a store installs in one go
//! ([`NewRecords`]). The sandbox seed (module `seed`), `aqsha merchant add` and the sandbox
//! API all build their records here.

use crate::card::{Cvc, Expiry, Pan};
use crate::fee::FeeSchedule;
use crate::money::{Currency, Money};
use crate::records::{MerchantRecord, NetworkCard, NewNetworkCard, TerminalRecord, VaultCard};
use crate::vault::{sha256_hex, Vault};
use rand::Rng;

/// A merchant to create, with everything its records need.
#[derive(Debug, Clone)]
pub struct NewMerchant {
    pub record: MerchantRecord,
    pub cabinet_email: Option<String>,
    /// The IANA time zone its cabinet shows (checked by the caller); `None`: Asia/Almaty.
    pub time_zone: Option<String>,
    /// Argon2id PHC string.
    pub cabinet_password_hash: Option<String>,
    /// The key Aqsha signs this merchant's callbacks with.
    pub callback_secret: String,
    pub terminals: Vec<TerminalRecord>,
}

/// Records to install in one transaction: the seed, a merchant added by `aqsha merchant add`,
/// a card or terminal added through the sandbox API. With a `marker`, a store installs them
/// only once.
#[derive(Debug, Clone, Default)]
pub struct NewRecords {
    pub marker: Option<String>,
    pub merchants: Vec<NewMerchant>,
    /// Terminals for merchants that exist already.
    pub terminals: Vec<TerminalRecord>,
    pub cards: Vec<NewNetworkCard>,
    pub vault_cards: Vec<VaultCard>,
    /// Most money a merchant may create in the sandbox, per currency: merchant-owned cards'
    /// opening balances are refused once their funding account would pass it.
    pub funding_cap: Option<Money>,
    /// Phone directory entries. One whose card is not found (or not the owner's or public)
    /// fails the install with [`crate::tx::StoreError::Refused`].
    pub phones: Vec<NewPhone>,
}

/// A phone number bound to a network card in the sandbox's phone directory: the number as a
/// keyed digest and a mask, the IIN as a keyed check value (docs/sandbox.md, "Phone directory").
#[derive(Debug, Clone)]
pub struct NewPhone {
    pub phone_key: String,
    pub phone_mask: String,
    pub iin_check: String,
    /// The merchant whose entry it is; `None` for a public one (the seed's).
    pub owner: Option<String>,
    pub card: PhoneCard,
}

/// Which card a new phone entry is bound to.
#[derive(Debug, Clone)]
pub enum PhoneCard {
    /// A network card's id, as the sandbox API lists it: the owner's own or a public card.
    Id(String),
    /// A public card's network-wide fingerprint (the seed's).
    Fingerprint(String),
}

/// A phone number as the sandbox API shows it: the country digit, the operator code and the
/// last two digits (`7701*****67`).
pub fn phone_mask(phone: &str) -> String {
    match (phone.get(..4), phone.get(phone.len().saturating_sub(2)..)) {
        (Some(head), Some(tail)) if phone.len() > 6 => {
            format!("{head}{}{tail}", "*".repeat(phone.len() - 6))
        }
        _ => "*".repeat(phone.len()),
    }
}

/// A phone directory entry with its keyed values made by `vault`.
pub fn new_phone(
    vault: &Vault,
    phone: &str,
    iin: &str,
    owner: Option<String>,
    card: PhoneCard,
) -> NewPhone {
    let phone_key = vault.phone_key(phone);
    NewPhone {
        iin_check: vault.iin_check(&phone_key, iin),
        phone_mask: phone_mask(phone),
        phone_key,
        owner,
        card,
    }
}

/// The ledger account of a merchant's fees.
pub fn fee_account(merchant_id: &str) -> String {
    format!("fee:{merchant_id}")
}

/// The ledger account behind a network card.
pub fn card_account(card_id: &str) -> String {
    format!("card:{card_id}")
}

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
}

/// Whether `password` is the one `hash` (a PHC string from [`hash_password`]) was made from.
/// A malformed hash matches nothing. Slow by design (argon2id): call it off the async threads.
pub fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A random secret in the style of ePay's client secrets (36 letters and digits).
pub fn random_secret(len: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(A[rng.gen_range(0..A.len())]))
        .collect()
}

/// Builds a merchant with its terminals, all on one fee schedule.
pub fn new_merchant(
    name: &str,
    client_id: &str,
    client_secret: &str,
    terminals: &[(String, Currency)],
    fee: FeeSchedule,
) -> NewMerchant {
    let id = uuid::Uuid::new_v4().to_string();
    NewMerchant {
        record: MerchantRecord {
            id: id.clone(),
            client_id: client_id.to_string(),
            secret_hash: sha256_hex(client_secret.as_bytes()),
            name: name.to_string(),
            disabled: false,
        },
        cabinet_email: None,
        time_zone: None,
        cabinet_password_hash: None,
        callback_secret: random_secret(40),
        terminals: terminals
            .iter()
            .map(|(t, c)| TerminalRecord {
                id: t.clone(),
                merchant_id: id.clone(),
                currency: *c,
                fee,
                fee_account: fee_account(&id),
                // The store gives the next free number.
                number: String::new(),
            })
            .collect(),
    }
}

/// What the issuer knows of a card besides its number and CVC.
#[derive(Debug, Clone, Copy)]
pub struct CardTerms {
    pub expiry: Expiry,
    pub locked: bool,
    pub enforce_expiry: bool,
    pub balance: Money,
    pub currency: Currency,
    /// How its issuer answers; the default is naturally (`docs/sandbox.md`).
    pub scenario: crate::outcomes::Scenario,
    /// Enrolled in 3-D Secure (`transfer::secure3d`).
    pub secure3d: bool,
}

/// A network card ready to install: sealed number, CVC check value, funded account. `owner` is
/// the merchant issuing it (its `fingerprint` must then be that merchant's, see
/// [`crate::network::PublicCards::card_key`]); `None` makes a public test card.
pub fn network_card(
    vault: &Vault,
    fingerprint: String,
    owner: Option<String>,
    pan: &Pan,
    cvc: &Cvc,
    terms: CardTerms,
) -> NewNetworkCard {
    let id = uuid::Uuid::new_v4().to_string();
    NewNetworkCard {
        card: NetworkCard {
            id: id.clone(),
            cvc_check: vault.cvc_check_value(&fingerprint, cvc),
            fingerprint,
            mask: pan.mask(),
            brand: pan.brand(),
            expiry: terms.expiry,
            locked: terms.locked,
            enforce_expiry: terms.enforce_expiry,
            account_id: card_account(&id),
            currency: terms.currency,
            owner,
            scenario: terms.scenario,
            secure3d: terms.secure3d,
        },
        sealed: vault.seal(pan),
        opening_balance: terms.balance,
    }
}

/// A random UUID (v4) as text, for new terminal and card ids.
pub fn random_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn phone_masks_hide_the_subscriber_number() {
        assert_eq!(super::phone_mask("77011234567"), "7701*****67");
        assert_eq!(super::phone_mask("7701"), "****");
    }
}
