//! Aqsha's callback signature: `X-Aqsha-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
//! HMAC-SHA256, keyed with the merchant's callback secret, over `"{t}.{raw body}"`.
//!
//! A receiver verifies by recomputing the HMAC over the raw bytes it received (before any JSON
//! parsing), comparing in constant time, and refusing timestamps further than a tolerance from
//! its own clock, which stops an old captured callback from being replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut m =
        <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// The header value for a body sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    Malformed,
    TooOld { age_secs: i64 },
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureError::Malformed => f.write_str("signature header is not t=<ts>,v1=<hex>"),
            SignatureError::TooOld { age_secs } => {
                write!(f, "signature timestamp is {age_secs} s away from now")
            }
            SignatureError::Mismatch => f.write_str("signature does not match the body"),
        }
    }
}

impl std::error::Error for SignatureError {}

/// Checks a header against the raw body, with `tolerance_secs` of clock difference allowed.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut ts = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => ts = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let ts = ts.ok_or(SignatureError::Malformed)?;
    if sigs.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // The timestamp is the sender's text and may be any i64: `now - ts` could overflow.
    let age = now.abs_diff(ts);
    if i128::from(age) > i128::from(tolerance_secs) {
        return Err(SignatureError::TooOld {
            age_secs: i64::try_from(age).unwrap_or(i64::MAX),
        });
    }
    let expected = mac(secret, ts, body);
    use subtle::ConstantTimeEq;
    if sigs
        .iter()
        .any(|s| bool::from(s.as_slice().ct_eq(&expected)))
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_rejects_tampering_and_age() {
        let h = sign("whsec", 1_700_000_000, b"{\"a\":1}");
        assert!(h.starts_with("t=1700000000,v1="));
        assert_eq!(
            verify("whsec", &h, b"{\"a\":1}", 1_700_000_100, 300),
            Ok(())
        );
        assert_eq!(
            verify("whsec", &h, b"{\"a\":2}", 1_700_000_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("other", &h, b"{\"a\":1}", 1_700_000_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("whsec", &h, b"{\"a\":1}", 1_700_001_000, 300),
            Err(SignatureError::TooOld { age_secs: 1000 })
        );
        assert_eq!(
            verify("whsec", "garbage", b"", 0, 300),
            Err(SignatureError::Malformed)
        );
    }

    /// Found by the `callback_signature` fuzz target: `now - t` overflowed (a panic in a
    /// receiver) for a timestamp far from the clock.
    #[test]
    fn a_timestamp_at_the_ends_of_i64_is_too_old_not_a_panic() {
        let h = format!("t={},v1=00", i64::MIN);
        assert_eq!(
            verify("whsec", &h, b"{}", i64::MAX, 300),
            Err(SignatureError::TooOld { age_secs: i64::MAX })
        );
        assert_eq!(
            verify("whsec", &h, b"{}", 0, i64::MAX),
            Err(SignatureError::TooOld { age_secs: i64::MAX })
        );
        let h = sign("whsec", i64::MAX, b"{}");
        assert_eq!(
            verify("whsec", &h, b"{}", i64::MIN, i64::MAX),
            Err(SignatureError::TooOld { age_secs: i64::MAX })
        );
        assert_eq!(verify("whsec", &h, b"{}", i64::MAX, 0), Ok(()));
    }
}
