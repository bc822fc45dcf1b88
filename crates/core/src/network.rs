//! How the sandbox network knows a card number, for one merchant.
//!
//! Merchants are tenants (issue 12): a number a merchant registers with `POST /sandbox/cards`,
//! or saves for its customers, is known by a fingerprint keyed to that merchant
//! ([`Vault::merchant_fingerprint`]), so another merchant sending money to the same number
//! reaches only the external network, and registering it again elsewhere neither fails nor
//! reveals anything. The documented public test cards are the one exception: every merchant
//! shares them, as on ePay's test host, and they are known by the network-wide fingerprint.

use crate::card::Pan;
use crate::money::Currency;
use crate::vault::Vault;
use std::collections::HashSet;

/// The network-wide fingerprints of the public test cards.
#[derive(Debug, Clone, Default)]
pub struct PublicCards {
    fingerprints: HashSet<String>,
}

impl PublicCards {
    pub fn new(fingerprints: impl IntoIterator<Item = String>) -> PublicCards {
        PublicCards {
            fingerprints: fingerprints.into_iter().collect(),
        }
    }

    /// Whether this PAN is one of the public test cards.
    pub fn contains(&self, vault: &Vault, pan: &Pan) -> bool {
        self.fingerprints.contains(&vault.fingerprint(pan))
    }

    /// The fingerprint under which `merchant_id` knows this PAN: the network-wide one for a
    /// public test card, the merchant's own for any other number.
    pub fn card_key(&self, vault: &Vault, merchant_id: &str, pan: &Pan) -> String {
        let shared = vault.fingerprint(pan);
        if self.fingerprints.contains(&shared) {
            shared
        } else {
            vault.merchant_fingerprint(merchant_id, pan)
        }
    }
}

/// The ledger account that money enters the sandbox from. The public cards were funded by the
/// network itself; a merchant's own cards are funded from that merchant's funding account, so
/// the ledger shows who created what, and a cap on it bounds what one merchant can create.
pub fn funding_account(owner: Option<&str>, currency: Currency) -> String {
    match owner {
        None => format!("funding:{}", currency.code()),
        Some(m) => format!("funding:{m}:{}", currency.code()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_cards_are_shared_and_others_are_per_merchant() {
        let v = Vault::new([3u8; 32]);
        let public = Pan::parse("4405639704015096").unwrap_or_else(|e| panic!("{e}"));
        let other = Pan::parse("4111111111111111").unwrap_or_else(|e| panic!("{e}"));
        let cards = PublicCards::new([v.fingerprint(&public)]);
        assert!(cards.contains(&v, &public));
        assert!(!cards.contains(&v, &other));
        assert_eq!(
            cards.card_key(&v, "a", &public),
            cards.card_key(&v, "b", &public)
        );
        assert_ne!(
            cards.card_key(&v, "a", &other),
            cards.card_key(&v, "b", &other)
        );
        assert_ne!(cards.card_key(&v, "a", &other), v.fingerprint(&other));
    }
}
