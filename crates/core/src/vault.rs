//! The card vault's cryptography: PAN encryption, fingerprints, CVC checks, request digests.
//!
//! One 32-byte master key (from configuration, or generated on first start) is split with
//! HMAC-SHA256 into separate keys, one per purpose, so that no key ever serves two jobs:
//! - `enc`: AES-256-GCM over the PAN, with a random 96-bit nonce per record;
//! - `fp`: the keyed fingerprint of a PAN, so saving one card twice finds the first record,
//!   without the number being recoverable from the fingerprint by brute force;
//! - `cvc`: a keyed check value of (card, CVC), so the sandbox issuer can verify a CVC without
//!   the CVC ever being stored — the way real issuers check CVV2 with their own keys;
//! - `req`: digests of transfer requests, to recognise a retried request without keeping its body;
//! - `token`: AES-256-GCM over access-token claims, so a token carries its own binding and any
//!   instance holding the master key can read it without a database look-up.
//!
//! Each sealed PAN carries the key id it was sealed with, so keys can rotate later.

use crate::card::{Cvc, Pan};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// A PAN sealed with AES-256-GCM: `blob` is nonce (12 bytes) followed by the ciphertext and tag.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPan {
    pub key_id: String,
    pub blob: Vec<u8>,
}

impl std::fmt::Debug for SealedPan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedPan(key {})", self.key_id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("master key must be 64 hexadecimal characters (32 bytes)")]
    BadMasterKey,
    #[error("sealed with key {0}, which this vault does not hold")]
    UnknownKey(String),
    #[error("sealed card number failed authentication")]
    Corrupt,
}

pub struct Vault {
    key_id: String,
    enc: Aes256Gcm,
    fp_key: [u8; 32],
    cvc_key: [u8; 32],
    req_key: [u8; 32],
    token: Aes256Gcm,
}

/// Associated data of sealed tokens: a token blob can never be mistaken for another kind.
const TOKEN_AAD: &[u8] = b"aqsha-token-v1";

fn derive(master: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).unwrap_or_else(|_| unreachable!());
    mac.update(b"aqsha/");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

fn hmac_hex(key: &[u8; 32], parts: &[&[u8]]) -> String {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        mac.update(p);
        // A separator byte keeps ("12","3") and ("1","23") apart.
        mac.update(&[0]);
    }
    hex::encode(mac.finalize().into_bytes())
}

impl Vault {
    pub fn new(master: [u8; 32]) -> Vault {
        let key_id = hex::encode(&derive(&master, "key-id")[..4]);
        let enc_key = derive(&master, "enc");
        Vault {
            key_id,
            enc: Aes256Gcm::new(&enc_key.into()),
            fp_key: derive(&master, "fp"),
            cvc_key: derive(&master, "cvc"),
            req_key: derive(&master, "req"),
            token: Aes256Gcm::new(&derive(&master, "token").into()),
        }
    }

    pub fn parse_master_key(hex_text: &str) -> Result<[u8; 32], VaultError> {
        let bytes = hex::decode(hex_text.trim()).map_err(|_| VaultError::BadMasterKey)?;
        bytes.try_into().map_err(|_| VaultError::BadMasterKey)
    }

    pub fn generate_master_key() -> [u8; 32] {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        k
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The network-wide fingerprint of a PAN. Only the sandbox's public test cards are known
    /// by it; every other number is known per merchant ([`Vault::merchant_fingerprint`]).
    pub fn fingerprint(&self, pan: &Pan) -> String {
        hmac_hex(&self.fp_key, &[pan.expose().as_bytes()])
    }

    /// The fingerprint of a PAN in one merchant's world: two merchants that register or save
    /// the same number get unrelated values, so nothing one merchant does with a number can be
    /// found, matched or reached by another (issue 12, merchants as tenants).
    pub fn merchant_fingerprint(&self, merchant_id: &str, pan: &Pan) -> String {
        hmac_hex(
            &self.fp_key,
            &[b"merchant", merchant_id.as_bytes(), pan.expose().as_bytes()],
        )
    }

    /// The `CardHash` a merchant is shown for a saved card: keyed by the merchant as well, so
    /// even a public test card saved by two merchants shows them different values.
    pub fn card_hash(&self, merchant_id: &str, fingerprint: &str) -> String {
        hmac_hex(
            &self.fp_key,
            &[b"card-hash", merchant_id.as_bytes(), fingerprint.as_bytes()],
        )
    }

    pub fn cvc_check_value(&self, fingerprint: &str, cvc: &Cvc) -> String {
        hmac_hex(
            &self.cvc_key,
            &[fingerprint.as_bytes(), cvc.expose().as_bytes()],
        )
    }

    pub fn request_digest(&self, canonical: &[u8]) -> String {
        hmac_hex(&self.req_key, &[canonical])
    }

    /// Encrypts access-token claims: nonce (12 bytes) followed by ciphertext and tag.
    pub fn seal_token(&self, claims: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = aes_gcm::aead::Payload {
            msg: claims,
            aad: TOKEN_AAD,
        };
        let ct = self
            .token
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        blob
    }

    /// The claims of a token this vault (this master key) sealed; `None` for anything else.
    pub fn open_token(&self, blob: &[u8]) -> Option<Vec<u8>> {
        if blob.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = blob.split_at(12);
        let payload = aes_gcm::aead::Payload {
            msg: ct,
            aad: TOKEN_AAD,
        };
        self.token.decrypt(Nonce::from_slice(nonce), payload).ok()
    }

    pub fn seal(&self, pan: &Pan) -> SealedPan {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for inputs this small.
        let ct = self
            .enc
            .encrypt(Nonce::from_slice(&nonce), pan.expose().as_bytes())
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        SealedPan {
            key_id: self.key_id.clone(),
            blob,
        }
    }

    pub fn open(&self, sealed: &SealedPan) -> Result<Pan, VaultError> {
        if sealed.key_id != self.key_id {
            return Err(VaultError::UnknownKey(sealed.key_id.clone()));
        }
        if sealed.blob.len() < 12 {
            return Err(VaultError::Corrupt);
        }
        let (nonce, ct) = sealed.blob.split_at(12);
        let plain = self
            .enc
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| VaultError::Corrupt)?;
        let text = String::from_utf8(plain).map_err(|_| VaultError::Corrupt)?;
        Pan::parse(&text).map_err(|_| VaultError::Corrupt)
    }
}

/// SHA-256 in hex, for high-entropy secrets (tokens, client secrets) that need no key.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Constant-time comparison of two equal-purpose strings.
pub fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_fingerprints_deterministically() {
        let v = Vault::new([7u8; 32]);
        let pan = Pan::parse("4405639704015096").unwrap_or_else(|e| panic!("{e}"));
        let s1 = v.seal(&pan);
        let s2 = v.seal(&pan);
        assert_ne!(s1.blob, s2.blob, "fresh nonce per record");
        assert!(!hex::encode(&s1.blob).contains("4405639704015096"));
        assert_eq!(
            v.open(&s1).map(|p| p.expose().to_string()).ok().as_deref(),
            Some("4405639704015096")
        );
        assert_eq!(v.fingerprint(&pan), v.fingerprint(&pan));
        let other = Vault::new([8u8; 32]);
        assert_ne!(v.fingerprint(&pan), other.fingerprint(&pan));
        assert!(other.open(&s1).is_err());
        let (a, b) = (
            v.merchant_fingerprint("a", &pan),
            v.merchant_fingerprint("b", &pan),
        );
        assert_ne!(a, b, "merchant fingerprints are per merchant");
        assert_ne!(a, v.fingerprint(&pan));
        assert_eq!(a, v.merchant_fingerprint("a", &pan));
        let fp = v.fingerprint(&pan);
        assert_ne!(v.card_hash("a", &fp), v.card_hash("b", &fp));
        let mut bad = s1.clone();
        if let Some(b) = bad.blob.last_mut() {
            *b ^= 1;
        }
        assert!(v.open(&bad).is_err());
    }
}
