//! The postLink / failurePostLink callback body (`docs/protocol.md#callbacks`).

use crate::WireAmount;
use serde::{Deserialize, Serialize};

/// What Aqsha POSTs to the merchant after a transfer: to `postLink` on success (`code: "ok"`,
/// `reasonCode: 0`), to `failurePostLink` on failure (`code: "error"`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CallbackBody {
    pub id: String,
    #[serde(rename = "dateTime")]
    pub date_time: String,
    #[serde(rename = "invoiceId")]
    pub invoice_id: String,
    pub amount: WireAmount,
    pub currency: String,
    pub terminal: String,
    #[serde(rename = "accountId")]
    pub account_id: String,
    pub description: String,
    pub language: String,
    #[serde(rename = "cardMask")]
    pub card_mask: String,
    #[serde(rename = "cardType")]
    pub card_type: String,
    pub issuer: String,
    pub reference: String,
    #[serde(rename = "approvalCode")]
    pub approval_code: String,
    /// ePay's "3-D Secure used": `"Yes"` when the cardholder passed a challenge for the
    /// operation, else `"No"` ([`secure_flag`]).
    pub secure: String,
    /// `"ok"` or `"error"`.
    pub code: String,
    pub reason: String,
    /// 0 on success, otherwise the decline's reason code.
    #[serde(rename = "reasonCode")]
    pub reason_code: u32,
    pub name: String,
    pub email: String,
    pub phone: String,
    /// The saved card's id, when the transfer saved or used one.
    #[serde(rename = "cardId")]
    pub card_id: String,
    /// Echoed exactly as the merchant gave it in the token request.
    pub secret_hash: String,
    /// ePay's alternative invoice id; Aqsha's orders have none, so always `""`.
    #[serde(rename = "invoiceIdAlt", default)]
    pub invoice_id_alt: String,
    /// 3-D Secure details; always `""` (`secure` says whether a challenge was passed).
    #[serde(rename = "secureDetails", default)]
    pub secure_details: String,
    /// The recipient's card token; `""` (no token scheme here).
    #[serde(rename = "tokenRecipient", default)]
    pub token_recipient: String,
    #[serde(flatten)]
    pub ip: IpFields,
}

/// The `secure` field of a callback or status body: `"Yes"` when the cardholder passed a
/// 3-D Secure challenge for the operation, `"No"` otherwise (no challenge, or one failed).
pub fn secure_flag(challenge_passed: bool) -> &'static str {
    if challenge_passed {
        "Yes"
    } else {
        "No"
    }
}

/// Where the payer's request came from, as ePay reports it in the status body and callbacks:
/// `ip` and the place names as strings, the coordinates as numbers. Aqsha does not geolocate
/// (an API transfer comes from the merchant's server, not the payer), so all are empty and
/// the coordinates 0, but present, because client libraries read them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IpFields {
    #[serde(default)]
    pub ip: String,
    #[serde(rename = "ipCountry", default)]
    pub ip_country: String,
    #[serde(rename = "ipCity", default)]
    pub ip_city: String,
    #[serde(rename = "ipRegion", default)]
    pub ip_region: String,
    #[serde(rename = "ipDistrict", default)]
    pub ip_district: String,
    #[serde(rename = "ipLatitude", default)]
    pub ip_latitude: f64,
    #[serde(rename = "ipLongitude", default)]
    pub ip_longitude: f64,
}

/// Header carrying the event's stable id, the same on every attempt.
pub const EVENT_ID_HEADER: &str = "X-Aqsha-Event-Id";
/// Header carrying the attempt number, from 1.
pub const ATTEMPT_HEADER: &str = "X-Aqsha-Attempt";
/// Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">`.
pub const SIGNATURE_HEADER: &str = "X-Aqsha-Signature";
