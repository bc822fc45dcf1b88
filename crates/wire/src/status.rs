//! Status (`docs/protocol.md#status`) and saved cards (`docs/protocol.md#saved-cards`).

use serde::{Deserialize, Serialize};

/// `GET /check-status/{p2p|payment}/transaction/{id}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusResponse {
    #[serde(rename = "resultCode")]
    pub result_code: String,
    #[serde(rename = "resultMessage")]
    pub result_message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<StatusTransaction>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusTransaction {
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
            example = "9aa836c3-6afe-401b-b203-6ddde5d5b481"
        )
    )]
    pub id: String,
    #[serde(rename = "createdDate")]
    pub created_date: String,
    #[serde(rename = "invoiceID")]
    pub invoice_id: String,
    pub amount: crate::WireAmount,
    pub fee: crate::WireAmount,
    pub currency: String,
    #[serde(rename = "terminalID")]
    pub terminal_id: String,
    #[serde(rename = "accountID")]
    pub account_id: String,
    pub description: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::card::mask_schema))]
    #[serde(rename = "cardMask")]
    pub card_mask: String,
    #[serde(rename = "cardType")]
    pub card_type: String,
    pub reference: String,
    #[serde(rename = "intReference")]
    pub int_reference: String,
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9]+$", example = "0"))]
    #[serde(rename = "reasonCode")]
    pub reason_code: String,
    pub reason: String,
    #[serde(rename = "statusName")]
    pub status_name: String,
    #[serde(rename = "senderCardID")]
    pub sender_card_id: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::card::mask_schema))]
    #[serde(rename = "senderCardPAN")]
    pub sender_card_pan: String,
    #[serde(rename = "receiverCardID")]
    pub receiver_card_id: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::card::mask_schema))]
    #[serde(rename = "receiverCardPAN")]
    pub receiver_card_pan: String,
    /// ePay's short numeric terminal id (digits, sent as a string), distinct from the UUID
    /// `terminalID`. The fields from here on are ePay's payment status fields that client
    /// libraries read: always present, empty (or 0) where there is nothing to say.
    #[serde(default)]
    pub terminal: String,
    #[serde(rename = "approvalCode", default)]
    pub approval_code: String,
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub secure: String,
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(rename = "cardID", default)]
    pub card_id: String,
    #[serde(rename = "statusID", default)]
    pub status_id: String,
    #[serde(rename = "amountBonus", default)]
    pub amount_bonus: crate::WireAmount,
    #[serde(rename = "payoutAmount", default)]
    pub payout_amount: crate::WireAmount,
    #[serde(rename = "orgAmount", default)]
    pub org_amount: crate::WireAmount,
    #[serde(default)]
    pub data: String,
    #[serde(flatten)]
    pub ip: crate::callback::IpFields,
    /// Aqsha's addition: `P2P`, `AFT` or `OCT`. ePay's status names no kind; a new key is
    /// ignored by every client that decodes ePay's body.
    #[serde(rename = "operationKind", default)]
    pub operation_kind: String,
}

/// One entry of `GET /cards/{accountId}`; ePay names these in PascalCase.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct SavedCard {
    #[serde(rename = "ID")]
    pub id: String,
    pub transaction_id: String,
    #[serde(rename = "MerchantID")]
    pub merchant_id: String,
    pub card_hash: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::card::mask_schema))]
    pub card_mask: String,
    pub payer_name: String,
    pub reference: String,
    pub int_reference: String,
    pub token: String,
    pub terminal: String,
    pub created_date: String,
    pub payment_available: bool,
    #[serde(rename = "AccountID")]
    pub account_id: String,
}

/// `POST /card/deactivate/{cardId}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeactivateResponse {
    pub status: String,
}
