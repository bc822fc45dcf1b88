//! `POST /payments/cards/auth` and `/p2p/transfer` (`docs/protocol.md#transfers`).

use crate::WireAmount;
use serde::{Deserialize, Serialize};

/// The transfer body. Unknown fields (the SDK's `foreign: false`, say) are ignored and `null`
/// counts as absent. The server parses it; the client serializes it (absent fields left out),
/// so both speak one definition of the body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TransferRequest {
    pub order: Order,
    pub card: Cards,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Order {
    pub amount: WireAmount,
    /// `KZT` or `USD` (any letter case).
    #[cfg_attr(feature = "openapi", schema(example = "KZT"))]
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The invoice id; ePay names it `id` here and `invoiceID` in the token request.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[0-9]{6,16}$", example = "8161284658529816")
    )]
    pub id: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "accountID",
        alias = "accountId"
    )]
    pub account_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "senderEmail"
    )]
    pub sender_email: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "terminalId",
        alias = "terminalID",
        alias = "terminal"
    )]
    pub terminal_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "backLink")]
    pub back_link: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "failureBackLink"
    )]
    pub failure_back_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "postLink")]
    pub post_link: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "failurePostLink"
    )]
    pub failure_post_link: Option<String>,
    /// `rus` (the default), `kaz` or `eng`: the callback's and the status's `language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Cards {
    pub sender: CardSide,
    pub receiver: CardSide,
}

/// One side of the transfer. `cardCred` holds a card number (`TYPEPAN`, also when the type is
/// empty or absent) or a saved card's id (`TYPECARDID`). The card number and CVC stay plain
/// text only until the domain wraps them in masking types; this struct's `Debug` hides them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Deserialize, Serialize)]
pub struct CardSide {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "transferType"
    )]
    pub transfer_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire: Option<Expire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Absent only for `TYPEPHONE`, which names the card by `phone` and `iin` instead.
    #[serde(rename = "cardCred", default, skip_serializing_if = "String::is_empty")]
    pub card_cred: String,
    /// `TYPEPHONE`: the receiver's phone number, `7XXXXXXXXXX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// `TYPEPHONE`: the receiver's IIN, 12 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iin: Option<String>,
}

/// The body of the one-sided transfers: `POST /chdebit/transfer` (AFT, `card.sender` only:
/// the card funds the merchant) and `POST /chpayment/transfer` (OCT, `card.receiver` only:
/// the merchant pays the card). The order is the P2P transfer's.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OneSideRequest {
    pub order: Order,
    pub card: OneSide,
}

/// The one card side of an AFT or OCT; the server refuses a body with the other side too.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OneSide {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<CardSide>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<CardSide>,
}

impl std::fmt::Debug for CardSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSide")
            .field("save", &self.save)
            .field("transfer_type", &self.transfer_type)
            .field("card_cred", &"***")
            .field("phone", &self.phone.as_ref().map(|_| "***"))
            .field("iin", &self.iin.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Expire {
    #[cfg_attr(feature = "openapi", schema(example = "01"))]
    pub month: String,
    #[cfg_attr(feature = "openapi", schema(example = "25"))]
    pub year: String,
}

/// The success body, key for key as in the seed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TransferResponse {
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
            example = "9aa836c3-6afe-401b-b203-6ddde5d5b481"
        )
    )]
    pub id: String,
    pub amount: WireAmount,
    pub fee: WireAmount,
    #[serde(rename = "accountID")]
    pub account_id: String,
    pub currency: String,
    pub email: String,
    pub description: String,
    pub reference: String,
    #[serde(rename = "orderID")]
    pub order_id: String,
    #[serde(rename = "senderCardID")]
    pub sender_card_id: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::card::mask_schema))]
    #[serde(rename = "senderCardPAN")]
    pub sender_card_pan: String,
    #[serde(rename = "senderCardType")]
    pub sender_card_type: String,
    #[serde(rename = "senderTransferType")]
    pub sender_transfer_type: String,
    #[serde(rename = "receiverCardID")]
    pub receiver_card_id: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::card::mask_schema))]
    #[serde(rename = "receiverCardPAN")]
    pub receiver_card_pan: String,
    #[serde(rename = "receiverCardType")]
    pub receiver_card_type: String,
    #[serde(rename = "receiverTransferType")]
    pub receiver_transfer_type: String,
    #[serde(rename = "intReference")]
    pub int_reference: String,
    #[serde(rename = "terminalID")]
    pub terminal_id: String,
    pub status: String,
    /// Present when the sender's card must pass 3-D Secure first (`docs/protocol.md`,
    /// "3-D Secure"): the operation waits with status `NEW` until the challenge is answered.
    #[serde(rename = "secure3D", default, skip_serializing_if = "Option::is_none")]
    pub secure3d: Option<Secure3d>,
}

/// ePay's `secure3D` object: where the browser form-posts `MD`, `PaReq` and `TermUrl`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Secure3d {
    /// The ACS page's URL.
    pub action: String,
    #[serde(rename = "paReq")]
    pub pa_req: String,
    pub md: String,
    /// Where the ACS sends the browser back with `MD` and `PaRes` (confirmPayment).
    #[serde(rename = "termURL")]
    pub term_url: String,
}

/// The error body of every API endpoint except the token endpoint (seed's "Response in case of
/// error"). The SDK decides "error" by an integer `code` plus a string `message`, so a success
/// body never carries both.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiError {
    pub code: u32,
    pub message: String,
    #[serde(rename = "invoiceId")]
    pub invoice_id: String,
    pub id: String,
    pub reference: String,
    #[serde(rename = "accountId")]
    pub account_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure3d_keeps_epay_key_casing() {
        let s = Secure3d {
            action: "a".into(),
            pa_req: "p".into(),
            md: "m".into(),
            term_url: "t".into(),
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap_or_default(),
            r#"{"action":"a","paReq":"p","md":"m","termURL":"t"}"#
        );
    }

    #[test]
    fn debug_hides_card_credentials() {
        let side: CardSide = serde_json::from_str(
            r#"{"cardCred":"4405639704015096","cvc":"815","transferType":"TYPEPAN"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{side:?}");
        assert!(
            !shown.contains("4405639704015096") && !shown.contains("815"),
            "{shown}"
        );
        let phone: CardSide = serde_json::from_str(
            r#"{"transferType":"TYPEPHONE","phone":"77011234567","iin":"900101300123"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{phone:?}");
        assert!(
            !shown.contains("77011234567") && !shown.contains("900101300123"),
            "{shown}"
        );
    }
}
