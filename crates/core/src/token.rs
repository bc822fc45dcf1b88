//! Access tokens: sealed claims, readable only with the vault's keys.
//!
//! A token carries what it was issued for — merchant, scope, the invoice/amount/currency/terminal
//! binding, callback URLs, `secret_hash` and expiry — encrypted and authenticated with the token
//! key of the vault's active sealing key (AES-256-GCM), whose key id leads the sealed bytes so
//! that a token outlives a key rotation (`Vault::open_token`; tokens issued before they carried a
//! key id still open under the first master key). Issuing one therefore needs no database write,
//! and any instance holding the same keyring can read it. What a database must know — that a token was spent,
//! and on which operation — is written in the transfer's own commit, keyed by the token's id
//! (a sealed claim, time-ordered so that index grows at its end); the token itself is never
//! stored.

use crate::money::{Currency, Money};
use crate::vault::Vault;
use chrono::{DateTime, Utc};

/// What a token was issued for, sealed inside the token text. Never stored: a transfer
/// records only the token's id, as spent.
#[derive(Debug, Clone)]
pub struct TokenClaims {
    /// Unique per token and time-ordered (UUID v7), so the spent-token index grows at its end.
    pub id: String,
    pub merchant_id: String,
    /// Space-separated scope words as the merchant asked for them (`transfer`, `payment`,
    /// `webapi`, …): free text on ePay's wire, so kept as given and read by word.
    pub scope: String,
    pub invoice_id: Option<String>,
    pub amount: Option<Money>,
    pub currency: Option<Currency>,
    pub terminal_id: Option<String>,
    pub post_link: Option<String>,
    pub failure_post_link: Option<String>,
    pub secret_hash: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The customer (`accountID`) the token was issued for, if any.
    pub account_id: Option<String>,
    /// The cabinet login a password-grant token was issued to (`grant_type=password`); such a
    /// token, and only such a token, lists the merchant's operations.
    pub login: Option<String>,
}

impl TokenClaims {
    /// Whether one of the token's scope words is `word`.
    pub fn has_scope(&self, word: &str) -> bool {
        self.scope.split_whitespace().any(|s| s == word)
    }
}

/// How far a token reaches into a merchant's customers (issue 12).
///
/// `Strict` (the default): a per-order token (one bound to an invoice) reaches that order only:
/// its transfer and its invoice's status, never saved-card management; listing or deactivating
/// a customer's cards needs a service token (scope `webapi`, no invoice) or a token issued for
/// that customer (`accountId`); paying from a saved sender card (`TYPECARDID`) needs a token
/// issued for the card's customer. `Epay`: ePay's looser behaviour, where any live token of
/// the merchant with a service scope does all of that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CustomerBinding {
    #[default]
    Strict,
    Epay,
}

impl CustomerBinding {
    pub fn parse(text: &str) -> Option<CustomerBinding> {
        match text {
            "strict" => Some(CustomerBinding::Strict),
            "epay" => Some(CustomerBinding::Epay),
            _ => None,
        }
    }
}

/// Token lifetime in seconds, as ePay issues them.
pub const TOKEN_TTL_SECS: i64 = 7200;

/// Claims layout version, the first byte of the sealed plaintext.
const VERSION: u8 = 1;

/// Longest token text read at all: anything longer is not one of ours, and is refused before
/// any decoding work.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Seals a token's claims into the token text: base32 without padding (`A–Z`, `2–7`), which
/// keeps to the upper-case letters and digits of ePay's own tokens.
pub fn issue(vault: &Vault, claims: &TokenClaims) -> String {
    data_encoding::BASE32_NOPAD.encode(&vault.seal_token(&encode(claims)))
}

/// The claims of a token issued by [`issue`] under any key the vault holds; `None` for anything
/// else: garbage, a tampered token, or one sealed under a key the vault does not hold.
pub fn open(vault: &Vault, token: &str) -> Option<TokenClaims> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let blob = data_encoding::BASE32_NOPAD.decode(token.as_bytes()).ok()?;
    decode(&vault.open_token(&blob)?)
}

/// A fresh token id: a UUID v7, so ids of tokens issued later sort later.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// How one field is packed. Tokens travel in headers and merchants' databases, so the common
/// shapes are packed tightly: UUIDs as 16 bytes, plain numbers as 8. A shape is used only when
/// the text comes back from it byte for byte; anything else is kept as text.
const ABSENT: u8 = 0;
const TEXT: u8 = 1;
const UUID_HYPHENATED: u8 = 2;
const UUID_SIMPLE: u8 = 3;
const NUMBER: u8 = 4;

/// Fields in a fixed order, each a shape byte and its bytes (text: a 16-bit length first).
fn encode(c: &TokenClaims) -> Vec<u8> {
    let amount = c.amount.map(|a| a.minor().to_string());
    let expires = c.expires_at.timestamp().to_string();
    let fields: [Option<&str>; 11] = [
        Some(&c.id),
        Some(&c.merchant_id),
        Some(&c.scope),
        c.invoice_id.as_deref(),
        amount.as_deref(),
        c.currency.map(|x| x.code()),
        c.terminal_id.as_deref(),
        c.post_link.as_deref(),
        c.failure_post_link.as_deref(),
        c.secret_hash.as_deref(),
        Some(&expires),
    ];
    let mut out = vec![VERSION];
    for f in fields {
        put(&mut out, f);
    }
    // Fields added later trail the first eleven and are written only when present, so
    // tokens issued before them still open, and tokens without them stay as short as before.
    if c.account_id.is_some() || c.login.is_some() {
        put(&mut out, c.account_id.as_deref());
    }
    if c.login.is_some() {
        put(&mut out, c.login.as_deref());
    }
    out
}

fn put(out: &mut Vec<u8>, field: Option<&str>) {
    let Some(s) = field else {
        out.push(ABSENT);
        return;
    };
    if let Ok(u) = uuid::Uuid::parse_str(s) {
        if u.hyphenated().to_string() == s {
            out.push(UUID_HYPHENATED);
            out.extend_from_slice(u.as_bytes());
            return;
        }
        if u.simple().to_string() == s {
            out.push(UUID_SIMPLE);
            out.extend_from_slice(u.as_bytes());
            return;
        }
    }
    if let Ok(n) = s.parse::<u64>() {
        if n.to_string() == s {
            out.push(NUMBER);
            out.extend_from_slice(&n.to_be_bytes());
            return;
        }
    }
    // The token endpoint caps every field far below 0xFFFF bytes.
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.push(TEXT);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
}

/// Reads fields back in order; `None` on anything malformed.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }

    fn next(&mut self) -> Option<Option<String>> {
        let shape = *self.take(1)?.first()?;
        Some(Some(match shape {
            ABSENT => return Some(None),
            TEXT => {
                let len = self.take(2)?;
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                String::from_utf8(self.take(len)?.to_vec()).ok()?
            }
            UUID_HYPHENATED | UUID_SIMPLE => {
                let u = uuid::Uuid::from_slice(self.take(16)?).ok()?;
                if shape == UUID_SIMPLE {
                    u.simple().to_string()
                } else {
                    u.hyphenated().to_string()
                }
            }
            NUMBER => u64::from_be_bytes(self.take(8)?.try_into().ok()?).to_string(),
            _ => return None,
        }))
    }
}

fn decode(plain: &[u8]) -> Option<TokenClaims> {
    let (&version, rest) = plain.split_first()?;
    if version != VERSION {
        return None;
    }
    let mut f = Fields(rest);
    let id = f.next()??;
    let merchant_id = f.next()??;
    let scope = f.next()??;
    let invoice_id = f.next()?;
    let amount = match f.next()? {
        Some(a) => Some(Money::from_minor(a.parse().ok()?)),
        None => None,
    };
    let currency = match f.next()? {
        Some(c) => Some(Currency::parse(&c)?),
        None => None,
    };
    let terminal_id = f.next()?;
    let post_link = f.next()?;
    let failure_post_link = f.next()?;
    let secret_hash = f.next()?;
    let expires: i64 = f.next()??.parse().ok()?;
    let expires_at: DateTime<Utc> = DateTime::from_timestamp(expires, 0)?;
    let account_id = if f.0.is_empty() { None } else { f.next()? };
    let login = if f.0.is_empty() { None } else { f.next()? };
    if !f.0.is_empty() {
        return None;
    }
    Some(TokenClaims {
        id,
        merchant_id,
        scope,
        invoice_id,
        amount,
        currency,
        terminal_id,
        post_link,
        failure_post_link,
        secret_hash,
        expires_at,
        account_id,
        login,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims {
        TokenClaims {
            id: new_id(),
            merchant_id: "m-1".into(),
            scope: "webapi payment".into(),
            // Leading zeros: must stay text, not become the number 1.
            invoice_id: Some("000001".into()),
            amount: Some(Money::from_minor(12_345)),
            currency: Some(Currency::Kzt),
            // Upper-case UUID: kept as text, so it comes back exactly as given.
            terminal_id: Some("67E34D63-102F-4BD1-898E-370781D0074D".into()),
            post_link: Some("https://example.com/ok".into()),
            failure_post_link: None,
            secret_hash: Some("s3cr3t".into()),
            expires_at: DateTime::from_timestamp(1_900_000_000, 0).unwrap_or_default(),
            account_id: Some("testUser1".into()),
            login: Some("epay@halykbank.kz".into()),
        }
    }

    #[test]
    fn tokens_round_trip_and_differ_each_time() {
        let v = Vault::new([3u8; 32]);
        let c = claims();
        let a = issue(&v, &c);
        let b = issue(&v, &c);
        assert_ne!(a, b, "a fresh nonce per token");
        let back = open(&v, &a).unwrap_or_else(|| panic!("token did not open"));
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
        assert!(!a.contains("example.com") && !a.contains("s3cr3t"));
    }

    #[test]
    fn ids_and_numbers_are_packed_and_come_back_exactly() {
        let v = Vault::new([3u8; 32]);
        let c = TokenClaims {
            id: new_id(),
            merchant_id: "0c6b7a52-7d0e-4c43-9d51-0f0b8e3a9c11".into(),
            scope: "transfer".into(),
            invoice_id: Some("000000001".into()),
            amount: Some(Money::from_minor(10_000)),
            currency: Some(Currency::Kzt),
            terminal_id: Some("c36b282f-6819-4d4f-85df-a4bdc8a8f703".into()),
            post_link: None,
            failure_post_link: None,
            secret_hash: None,
            expires_at: DateTime::from_timestamp(1_900_000_000, 0).unwrap_or_default(),
            account_id: None,
            login: None,
        };
        let t = issue(&v, &c);
        // 4 key id + 12 nonce + 16 tag + 1 version + 3×17 ids + 2×9 numbers + 11 scope + 12
        // invoice + 6 currency + 3 absent = 134 bytes = 215 base32 characters.
        assert_eq!(t.len(), 215, "{t}");
        let back = open(&v, &t).unwrap_or_else(|| panic!("token did not open"));
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
    }

    #[test]
    fn foreign_tampered_and_garbage_tokens_do_not_open() {
        let v = Vault::new([3u8; 32]);
        let t = issue(&v, &claims());
        assert!(
            open(&Vault::new([4u8; 32]), &t).is_none(),
            "other master key"
        );
        let mut bytes = t.clone().into_bytes();
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        assert!(open(&v, &String::from_utf8(bytes).unwrap_or_default()).is_none());
        assert!(open(&v, "").is_none());
        assert!(open(&v, "not a token!").is_none());
        assert!(open(&v, &"A".repeat(MAX_TOKEN_LEN + 1)).is_none());
    }

    /// Issued by the code before tokens carried a key id (commit 6aafe12), under
    /// `Vault::new([3u8; 32])`, for the claims below.
    const FIRST_FORMAT_TOKEN: &str = "72FWSYO54P3QDEDVDNKIVTUSZCETQ3OSGCWHB7VAEAQLTHA7SVC53JFJJV7MVSG76OZXI57RBJSHZDNXE33ULSNNVWWR2PORKXOE3BJT5JGLK5OTQ3XWCTGSAKY3G2C4M43VY7CFEWBHIVGCBIBF3FAZCME75IUBNHR6MAE6S5ARDXF7LU27AQJ7JYE2LYKPHT7CYFA3IMZWBHZA";

    #[test]
    fn tokens_survive_rotation_and_first_format_tokens_still_open() {
        use crate::keyring::Keyring;
        let mut ring = Keyring::from_master([3u8; 32]);
        let before = ring.vault();
        let c = claims();
        let under_a = issue(&before, &c);
        ring.add([4u8; 32], true, Utc::now())
            .unwrap_or_else(|e| panic!("{e}"));
        let after = ring.vault();
        let under_b = issue(&after, &c);
        for t in [&under_a, &under_b] {
            let back = open(&after, t).unwrap_or_else(|| panic!("token did not open"));
            assert_eq!(format!("{back:?}"), format!("{c:?}"));
        }
        assert!(
            open(&before, &under_b).is_none(),
            "B unknown before rotation"
        );
        let old = open(&after, FIRST_FORMAT_TOKEN)
            .unwrap_or_else(|| panic!("first-format token did not open"));
        assert_eq!(old.id, "0190f3a2b4c47d6e8f9a0b1c2d3e4f50");
        assert_eq!(
            old.terminal_id.as_deref(),
            Some("c36b282f-6819-4d4f-85df-a4bdc8a8f703")
        );
        assert_eq!(old.expires_at.timestamp(), 1_900_000_000);
        // Once key A is retired, neither its tokens nor first-format ones open.
        let a_id = Vault::new([3u8; 32]).key_id().to_string();
        ring.remove(&a_id).unwrap_or_else(|e| panic!("{e}"));
        let retired = ring.vault();
        assert!(open(&retired, &under_a).is_none());
        assert!(open(&retired, FIRST_FORMAT_TOKEN).is_none());
        assert!(open(&retired, &under_b).is_some());
    }
}
