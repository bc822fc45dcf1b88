//! The card vault's cryptography: PAN encryption, fingerprints, CVC checks, request digests,
//! sealed tokens.
//!
//! Keys come in two kinds, because they age differently:
//! - **Sealing keys** rotate. Each is a 32-byte secret with a key id (8 hex characters derived
//!   from it) and is split with HMAC-SHA256 into `enc` (AES-256-GCM over PANs, a random 96-bit
//!   nonce per record) and `token` (AES-256-GCM over access-token claims). A vault holds one
//!   *active* sealing key, which seals everything new, and any number of older ones that still
//!   open what they sealed: a sealed PAN carries its key id, and so does a token (in clear, in
//!   front of its nonce). See [`crate::keyring`] for how an operator rotates them.
//! - **Index keys** never rotate: `fp` (the keyed fingerprint of a PAN, so saving one card twice
//!   finds the first record, without the number being recoverable from the fingerprint by brute
//!   force), `cvc` (a keyed check value of (card, CVC), so the sandbox issuer can verify a CVC
//!   without the CVC ever being stored) and `req` (digests of transfer requests, to recognise a
//!   retried request without keeping its body). Their outputs are stored and looked up by
//!   value, so a new key would orphan every stored fingerprint, check value and digest.
//!
//! A deployment starts with one master key, from which both kinds are derived; that is the whole
//! of a vault made by [`Vault::new`]. Rotation adds sealing keys, and the index keys stay the
//! ones derived from that first master key, kept as [`IndexKeys`] on their own so that the
//! first master key itself can be retired once nothing is sealed under it.

use crate::card::{Cvc, Pan};
use aes_gcm::aead::{Aead, KeyInit, Payload};
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

/// The keys of fingerprints, CVC check values and request digests: derived once from a
/// deployment's first master key and never rotated (see the module docs).
#[derive(Clone, PartialEq, Eq)]
pub struct IndexKeys {
    pub fp: [u8; 32],
    pub cvc: [u8; 32],
    pub req: [u8; 32],
}

impl std::fmt::Debug for IndexKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexKeys(..)")
    }
}

impl IndexKeys {
    /// The index keys of a deployment whose first master key is `master`: the same derivation
    /// a single-key vault has always used, so existing fingerprints stay valid.
    pub fn derive(master: &[u8; 32]) -> IndexKeys {
        IndexKeys {
            fp: derive(master, "fp"),
            cvc: derive(master, "cvc"),
            req: derive(master, "req"),
        }
    }
}

/// One sealing key, ready to use.
struct SealingKey {
    id: String,
    /// The key id's 4 bytes, as tokens carry it.
    tag: [u8; 4],
    enc: Aes256Gcm,
    token: Aes256Gcm,
}

impl SealingKey {
    fn new(secret: &[u8; 32]) -> SealingKey {
        let tag = key_tag(secret);
        SealingKey {
            id: hex::encode(tag),
            tag,
            enc: Aes256Gcm::new(&derive(secret, "enc").into()),
            token: Aes256Gcm::new(&derive(secret, "token").into()),
        }
    }
}

pub struct Vault {
    /// Sealing keys, the active one at `active`.
    keys: Vec<SealingKey>,
    active: usize,
    /// The key that opens tokens without a key id: those issued before tokens carried one,
    /// which were all sealed under the deployment's first master key (when this vault still
    /// holds it).
    legacy_token: Option<usize>,
    fp_key: [u8; 32],
    cvc_key: [u8; 32],
    req_key: [u8; 32],
}

/// Associated data of tokens without a key id (the first format).
const TOKEN_AAD_V1: &[u8] = b"aqsha-token-v1";
/// Associated data of tokens with a key id, followed by the key id's 4 bytes: a token blob can
/// never be mistaken for another kind, nor moved to another key id.
const TOKEN_AAD_V2: &[u8] = b"aqsha-token-v2";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_TAG_LEN: usize = 4;

fn derive(master: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).unwrap_or_else(|_| unreachable!());
    mac.update(b"aqsha/");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

fn key_tag(secret: &[u8; 32]) -> [u8; KEY_TAG_LEN] {
    let full = derive(secret, "key-id");
    [full[0], full[1], full[2], full[3]]
}

/// The key id of a sealing key: 8 hex characters, the same a single-key vault always wrote.
pub fn key_id_of(secret: &[u8; 32]) -> String {
    hex::encode(key_tag(secret))
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

fn fresh_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    nonce
}

/// AES-GCM over `msg`: nonce followed by ciphertext and tag. Encryption with a valid key and
/// nonce cannot fail for inputs this small.
fn seal_with(cipher: &Aes256Gcm, msg: &[u8], aad: &[u8]) -> Vec<u8> {
    let nonce = fresh_nonce();
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg, aad })
        .unwrap_or_default();
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&ct);
    blob
}

fn open_with(cipher: &Aes256Gcm, blob: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    if blob.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, ct) = blob.split_at(NONCE_LEN);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
}

impl Vault {
    /// A vault with one master key: its only sealing key, and the source of its index keys.
    pub fn new(master: [u8; 32]) -> Vault {
        Vault::with_keys(&IndexKeys::derive(&master), &[master], 0)
    }

    /// A vault with these sealing keys, sealing under `keys[active]` (the last one when
    /// `active` is out of range; an empty list gets one random key, which opens nothing).
    pub fn with_keys(index: &IndexKeys, keys: &[[u8; 32]], active: usize) -> Vault {
        let fallback = [Vault::generate_master_key()];
        let keys = if keys.is_empty() { &fallback[..] } else { keys };
        let legacy_token = keys.iter().position(|k| IndexKeys::derive(k) == *index);
        Vault {
            active: active.min(keys.len() - 1),
            keys: keys.iter().map(SealingKey::new).collect(),
            legacy_token,
            fp_key: index.fp,
            cvc_key: index.cvc,
            req_key: index.req,
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

    fn active_key(&self) -> &SealingKey {
        &self.keys[self.active]
    }

    /// The id of the key everything new is sealed under.
    pub fn key_id(&self) -> &str {
        &self.active_key().id
    }

    /// Whether this vault can open what was sealed under `key_id`.
    pub fn holds(&self, key_id: &str) -> bool {
        self.keys.iter().any(|k| k.id == key_id)
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

    /// The key a phone number is found by in the sandbox's phone directory: personal data, so
    /// the number itself is never stored (docs/sandbox.md, "Phone directory").
    pub fn phone_key(&self, phone: &str) -> String {
        hmac_hex(&self.fp_key, &[b"phone", phone.as_bytes()])
    }

    /// The check value of an IIN for one phone directory entry. An IIN is only ever compared,
    /// so it is kept as this keyed value, like a CVC.
    pub fn iin_check(&self, phone_key: &str, iin: &str) -> String {
        hmac_hex(
            &self.cvc_key,
            &[b"iin", phone_key.as_bytes(), iin.as_bytes()],
        )
    }

    pub fn request_digest(&self, canonical: &[u8]) -> String {
        hmac_hex(&self.req_key, &[canonical])
    }

    /// A secret key for one named purpose outside the vault (a page's CSRF tokens, say):
    /// derived from the index keys, so it is equal on every instance with the same master key,
    /// survives sealing-key rotation, and is never stored. The `"purpose/"` prefix keeps it
    /// apart from every request digest, which is always of a JSON object.
    pub fn purpose_key(&self, purpose: &str) -> [u8; 32] {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.req_key).unwrap_or_else(|_| unreachable!());
        mac.update(b"purpose/");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Seals `msg` under the key of a named purpose ([`Vault::purpose_key`]): only a holder of
    /// the same master key can make or open one, and one purpose's blob never opens as
    /// another's. For short-lived values a browser carries (a 3-D Secure `PaRes`).
    pub fn seal_for(&self, purpose: &str, msg: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new(&self.purpose_key(purpose).into());
        seal_with(&cipher, msg, purpose.as_bytes())
    }

    /// Opens what [`Vault::seal_for`] sealed for `purpose`; `None` for anything else.
    pub fn open_for(&self, purpose: &str, blob: &[u8]) -> Option<Vec<u8>> {
        let cipher = Aes256Gcm::new(&self.purpose_key(purpose).into());
        open_with(&cipher, blob, purpose.as_bytes())
    }

    /// Encrypts access-token claims under the active key: its key id (4 bytes), then nonce
    /// (12 bytes), ciphertext and tag.
    pub fn seal_token(&self, claims: &[u8]) -> Vec<u8> {
        let key = self.active_key();
        let mut blob = key.tag.to_vec();
        blob.extend(seal_with(&key.token, claims, &token_aad(&key.tag)));
        blob
    }

    /// The claims of a token sealed under any key this vault holds; `None` for anything else.
    /// A blob whose first 4 bytes name a key held here is opened with that key; failing that,
    /// it is tried as a token of the first format (no key id) under the first master key.
    pub fn open_token(&self, blob: &[u8]) -> Option<Vec<u8>> {
        if let Some((tag, rest)) = blob.split_first_chunk::<KEY_TAG_LEN>() {
            if let Some(key) = self.keys.iter().find(|k| k.tag == *tag) {
                if let Some(claims) = open_with(&key.token, rest, &token_aad(tag)) {
                    return Some(claims);
                }
            }
        }
        let legacy = &self.keys[self.legacy_token?];
        open_with(&legacy.token, blob, TOKEN_AAD_V1)
    }

    pub fn seal(&self, pan: &Pan) -> SealedPan {
        let key = self.active_key();
        SealedPan {
            key_id: key.id.clone(),
            blob: seal_with(&key.enc, pan.expose().as_bytes(), b""),
        }
    }

    pub fn open(&self, sealed: &SealedPan) -> Result<Pan, VaultError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| VaultError::UnknownKey(sealed.key_id.clone()))?;
        let plain = open_with(&key.enc, &sealed.blob, b"").ok_or(VaultError::Corrupt)?;
        let text = String::from_utf8(plain).map_err(|_| VaultError::Corrupt)?;
        Pan::parse(&text).map_err(|_| VaultError::Corrupt)
    }
}

fn token_aad(tag: &[u8; KEY_TAG_LEN]) -> Vec<u8> {
    let mut aad = TOKEN_AAD_V2.to_vec();
    aad.extend_from_slice(tag);
    aad
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

    fn pan() -> Pan {
        Pan::parse("4405639704015096").unwrap_or_else(|e| panic!("{e}"))
    }

    fn text(p: Result<Pan, VaultError>) -> Option<String> {
        p.map(|p| p.expose().to_string()).ok()
    }

    #[test]
    fn seals_and_opens_and_fingerprints_deterministically() {
        let v = Vault::new([7u8; 32]);
        let pan = pan();
        let s1 = v.seal(&pan);
        let s2 = v.seal(&pan);
        assert_ne!(s1.blob, s2.blob, "fresh nonce per record");
        assert!(!hex::encode(&s1.blob).contains("4405639704015096"));
        assert_eq!(text(v.open(&s1)).as_deref(), Some("4405639704015096"));
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

    /// Key A is the first master key; B is the key rotated to.
    fn rotated() -> (Vault, Vault) {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let index = IndexKeys::derive(&a);
        (Vault::new(a), Vault::with_keys(&index, &[a, b], 1))
    }

    #[test]
    fn after_rotation_new_seals_use_the_new_key_and_old_ones_still_open() {
        let (before, after) = rotated();
        let pan = pan();
        let under_a = before.seal(&pan);
        let under_b = after.seal(&pan);
        assert_eq!(under_a.key_id, key_id_of(&[1u8; 32]));
        assert_eq!(under_b.key_id, key_id_of(&[2u8; 32]));
        assert_eq!(after.key_id(), under_b.key_id);
        assert_ne!(under_a.key_id, under_b.key_id);
        assert_eq!(text(after.open(&under_a)).as_deref(), Some(pan.expose()));
        assert_eq!(text(after.open(&under_b)).as_deref(), Some(pan.expose()));
        // The vault before rotation does not know B.
        assert!(matches!(
            before.open(&under_b),
            Err(VaultError::UnknownKey(_))
        ));
    }

    #[test]
    fn fingerprints_check_values_and_digests_survive_rotation() {
        let (before, after) = rotated();
        let pan = pan();
        let cvc = Cvc::parse("815").unwrap_or_else(|e| panic!("{e}"));
        let fp = before.fingerprint(&pan);
        assert_eq!(after.fingerprint(&pan), fp);
        assert_eq!(
            after.cvc_check_value(&fp, &cvc),
            before.cvc_check_value(&fp, &cvc)
        );
        assert_eq!(after.request_digest(b"x"), before.request_digest(b"x"));
        assert_eq!(after.purpose_key("pages"), before.purpose_key("pages"));
        assert_ne!(before.purpose_key("pages"), before.purpose_key("other"));
        let other_master = Vault::new([9u8; 32]);
        assert_ne!(
            other_master.purpose_key("pages"),
            before.purpose_key("pages")
        );
        // Even once A itself is gone, B alone with A's index keys fingerprints the same.
        let b_only = Vault::with_keys(&IndexKeys::derive(&[1u8; 32]), &[[2u8; 32]], 0);
        assert_eq!(b_only.fingerprint(&pan), fp);
    }

    #[test]
    fn unknown_key_ids_are_refused() {
        let (_, after) = rotated();
        let mut sealed = after.seal(&pan());
        sealed.key_id = "00000000".into();
        assert!(matches!(after.open(&sealed), Err(VaultError::UnknownKey(k)) if k == "00000000"));
        assert!(!after.holds("00000000"));
        // A retired key (A no longer held) is unknown too.
        let b_only = Vault::with_keys(&IndexKeys::derive(&[1u8; 32]), &[[2u8; 32]], 0);
        let under_a = Vault::new([1u8; 32]).seal(&pan());
        assert!(matches!(
            b_only.open(&under_a),
            Err(VaultError::UnknownKey(_))
        ));
    }

    #[test]
    fn tokens_open_under_the_key_they_name_and_in_the_first_format() {
        let (before, after) = rotated();
        let under_a = before.seal_token(b"claims-a");
        let under_b = after.seal_token(b"claims-b");
        assert_eq!(under_b[..4], key_tag(&[2u8; 32]));
        assert_eq!(
            after.open_token(&under_a).as_deref(),
            Some(&b"claims-a"[..])
        );
        assert_eq!(
            after.open_token(&under_b).as_deref(),
            Some(&b"claims-b"[..])
        );
        assert!(before.open_token(&under_b).is_none(), "B is unknown before");
        // The first format: no key id, sealed under the first master key.
        let legacy = seal_with(&SealingKey::new(&[1u8; 32]).token, b"old", TOKEN_AAD_V1);
        assert_eq!(after.open_token(&legacy).as_deref(), Some(&b"old"[..]));
        // Once the first master key is retired, nothing opens first-format tokens.
        let b_only = Vault::with_keys(&IndexKeys::derive(&[1u8; 32]), &[[2u8; 32]], 0);
        assert!(b_only.open_token(&legacy).is_none());
        assert!(b_only.open_token(&under_a).is_none());
        assert_eq!(
            b_only.open_token(&under_b).as_deref(),
            Some(&b"claims-b"[..])
        );
        // A token cannot be relabelled with another key id.
        let mut relabelled = under_a.clone();
        relabelled[..4].copy_from_slice(&key_tag(&[2u8; 32]));
        assert!(after.open_token(&relabelled).is_none());
    }
}
