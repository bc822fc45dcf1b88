//! Receiving postLink / failurePostLink callbacks (`docs/protocol.md#callbacks`).
//!
//! ePay signs nothing: the only check it offers is the `secret_hash` the merchant gave at token
//! time, echoed in the body. Aqsha also signs each callback with a per-merchant key
//! (`X-Aqsha-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{raw body}">`).
//! [`CallbackVerifier`] checks whichever of the two it is configured for, on the raw bytes
//! received, comparing in constant time and refusing timestamps outside a tolerance so that a
//! captured callback cannot be replayed later.

use crate::money::Amount;
use aqsha_wire::callback::CallbackBody;
use aqsha_wire::codes::{self, ReasonCode};
use aqsha_wire::signature::{self, SignatureError};
use std::fmt;
use std::time::Duration;
use subtle::ConstantTimeEq;

pub use aqsha_wire::callback::{ATTEMPT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("body is not a callback: {0}")]
    Malformed(String),
    #[error("secret_hash does not match")]
    SecretHashMismatch,
    #[error("the {SIGNATURE_HEADER} header is missing")]
    MissingSignature,
    #[error("signature: {0}")]
    Signature(SignatureError),
}

/// Checks callbacks. Configure the checks you can make; [`CallbackVerifier::verify`] fails if
/// any configured one fails.
#[derive(Clone)]
pub struct CallbackVerifier {
    secret_hash: Option<String>,
    signing_secret: Option<String>,
    tolerance: Duration,
}

impl fmt::Debug for CallbackVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackVerifier")
            .field("secret_hash", &self.secret_hash.as_ref().map(|_| "***"))
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "***"),
            )
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl Default for CallbackVerifier {
    fn default() -> Self {
        CallbackVerifier::new()
    }
}

impl CallbackVerifier {
    /// A verifier that only parses; add checks with the setters. The default timestamp
    /// tolerance is five minutes.
    pub fn new() -> CallbackVerifier {
        CallbackVerifier {
            secret_hash: None,
            signing_secret: None,
            tolerance: Duration::from_secs(300),
        }
    }

    /// Require the body's `secret_hash` to equal this (the value given at token time).
    pub fn secret_hash(mut self, expected: impl Into<String>) -> Self {
        self.secret_hash = Some(expected.into());
        self
    }

    /// Require a valid `X-Aqsha-Signature` made with this key (Aqsha only).
    pub fn signing_secret(mut self, secret: impl Into<String>) -> Self {
        self.signing_secret = Some(secret.into());
        self
    }

    pub fn tolerance(mut self, t: Duration) -> Self {
        self.tolerance = t;
        self
    }

    pub fn checks_signature(&self) -> bool {
        self.signing_secret.is_some()
    }

    pub fn checks_secret_hash(&self) -> bool {
        self.secret_hash.is_some()
    }

    /// Verifies a callback as received now: the signature header (if any) and the raw body.
    pub fn verify(
        &self,
        signature_header: Option<&str>,
        body: &[u8],
    ) -> Result<Callback, CallbackError> {
        self.verify_at(signature_header, body, chrono::Utc::now().timestamp())
    }

    /// [`CallbackVerifier::verify`] with the receiver's clock given as unix seconds.
    pub fn verify_at(
        &self,
        signature_header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<Callback, CallbackError> {
        // The signature covers the raw bytes, so it is checked before anything is parsed.
        let mut signature_verified = false;
        if let Some(secret) = &self.signing_secret {
            let header = signature_header.ok_or(CallbackError::MissingSignature)?;
            let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
            signature::verify(secret, header, body, now, tolerance)
                .map_err(CallbackError::Signature)?;
            signature_verified = true;
        }
        let parsed: CallbackBody =
            serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(e.to_string()))?;
        let mut secret_hash_verified = false;
        if let Some(expected) = &self.secret_hash {
            let ok: bool = parsed
                .secret_hash
                .as_bytes()
                .ct_eq(expected.as_bytes())
                .into();
            if !ok {
                return Err(CallbackError::SecretHashMismatch);
            }
            secret_hash_verified = true;
        }
        let amount = Amount::from_wire(&parsed.amount)
            .map_err(|e| CallbackError::Malformed(e.to_string()))?;
        Ok(Callback {
            amount,
            body: parsed,
            signature_verified,
            secret_hash_verified,
        })
    }
}

/// A parsed (and, as configured, verified) callback.
#[derive(Debug, Clone, PartialEq)]
pub struct Callback {
    pub body: CallbackBody,
    pub amount: Amount,
    /// True when the Aqsha signature was checked and is valid.
    pub signature_verified: bool,
    /// True when `secret_hash` was checked and matches.
    pub secret_hash_verified: bool,
}

impl Callback {
    /// `code: "ok"` and reason code 0.
    pub fn is_success(&self) -> bool {
        self.body.code == "ok" && self.body.reason_code == 0
    }

    pub fn reason(&self) -> Option<ReasonCode> {
        codes::lookup(self.body.reason_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(secret_hash: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "id": "op", "dateTime": "2025-01-01T00:00:00Z", "invoiceId": "123456", "amount": 100,
            "currency": "KZT", "terminal": "t", "accountId": "a", "description": "d",
            "language": "rus", "cardMask": "440563...5096", "cardType": "VISA", "issuer": "",
            "reference": "r", "approvalCode": "123456", "secure": "No", "code": "ok",
            "reason": "Success", "reasonCode": 0, "name": "", "email": "", "phone": "",
            "cardId": "", "secret_hash": secret_hash
        }))
        .unwrap_or_default()
    }

    #[test]
    fn checks_signature_age_and_secret_hash() {
        let b = body("my-hash");
        let now = 1_700_000_000;
        let header = signature::sign("whsec", now, &b);
        let v = CallbackVerifier::new()
            .secret_hash("my-hash")
            .signing_secret("whsec");
        let cb = v
            .verify_at(Some(&header), &b, now + 10)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(cb.is_success() && cb.signature_verified && cb.secret_hash_verified);
        assert_eq!(cb.amount.minor(), 10_000);
        assert!(matches!(
            v.verify_at(Some(&header), &b, now + 1_000),
            Err(CallbackError::Signature(SignatureError::TooOld { .. }))
        ));
        assert_eq!(
            v.verify_at(None, &b, now),
            Err(CallbackError::MissingSignature)
        );
        let other = body("other");
        let h2 = signature::sign("whsec", now, &other);
        assert_eq!(
            v.verify_at(Some(&h2), &other, now),
            Err(CallbackError::SecretHashMismatch)
        );
        assert!(matches!(
            v.verify_at(Some(&header), &other, now),
            Err(CallbackError::Signature(SignatureError::Mismatch))
        ));
        // ePay's unsigned callbacks: only secret_hash is checked.
        let epay = CallbackVerifier::new().secret_hash("my-hash");
        assert!(epay.verify_at(None, &b, now).is_ok());
        assert!(matches!(
            CallbackVerifier::new().verify_at(None, b"{", now),
            Err(CallbackError::Malformed(_))
        ));
    }
}
