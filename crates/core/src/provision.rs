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
        },
        sealed: vault.seal(pan),
        opening_balance: terms.balance,
    }
}

/// A random UUID (v4) as text, for new terminal and card ids.
pub fn random_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
