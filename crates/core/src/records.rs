//! The domain's records: plain data as the store keeps it. No behaviour beyond reading and
//! writing the closed sets below as the exact strings the database and the wire carry.
//!
//! This module depends only on the leaf modules (money, card, fee, vault, invoice, outcomes),
//! never on the transfer rules or provisioning, which build and read these records.

use crate::card::{Brand, Expiry};
use crate::fee::FeeSchedule;
use crate::invoice::{self, TailKey};
use crate::money::{Currency, Money};
use crate::vault::SealedPan;
use chrono::{DateTime, Utc};

/// Declares a closed set stored and sent as fixed strings: `as_str` writes, `parse` reads
/// (`None` for anything else).
macro_rules! closed_set {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The exact string stored in the database and sent on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

closed_set! {
    /// How an operation ended (`operations.status`, and `statusName` on the wire).
    OperationStatus {
        /// Charged: the money moved.
        Charge = "CHARGE",
        /// Declined: nothing moved.
        Failed = "FAILED",
        /// Answered with a non-final ("poll") code: nothing has moved yet, and the operation
        /// resolves later to `CHARGE` or `FAILED` (`transfer::scenario`). ePay's name for an
        /// operation that is not finished.
        Pending = "NEW",
    }
}

closed_set! {
    /// Which of the merchant's callback links an event goes to (`callback_events.kind`).
    CallbackKind {
        /// `postLink`, after a charge.
        Success = "success",
        /// `failurePostLink`, after a decline.
        Failure = "failure",
    }
}

closed_set! {
    /// Where a callback event's delivery stands (`callback_events.status`).
    CallbackStatus {
        Pending = "pending",
        Delivered = "delivered",
        /// Out of retries: no more attempts are made unless it is resent.
        Failed = "failed",
    }
}

closed_set! {
    /// How a side of a transfer named its card (`transferType`).
    TransferType {
        /// A card number (with CVC and expiry for a sender).
        Pan = "TYPEPAN",
        /// A saved card's id.
        CardId = "TYPECARDID",
        /// A receiver named by phone number and IIN, resolved through the sandbox's phone
        /// directory to a card.
        Phone = "TYPEPHONE",
    }
}

closed_set! {
    /// Which of ePay's transfer operations an operation is (`operations.kind`). ePay's status
    /// body has no such field; Aqsha adds `operationKind` to it (docs/api.md).
    OperationKind {
        /// Card to card (`/p2p/transfer`, `/payments/cards/auth`).
        P2p = "P2P",
        /// Account funding: a card pays the merchant (`/chdebit/transfer`).
        Aft = "AFT",
        /// Original credit: the merchant pays a card (`/chpayment/transfer`).
        Oct = "OCT",
    }
}

#[derive(Debug, Clone)]
pub struct MerchantRecord {
    pub id: String,
    pub client_id: String,
    /// SHA-256 (hex) of the client secret; secrets are long random strings, so a plain hash is
    /// enough and keeps the token endpoint fast.
    pub secret_hash: String,
    pub name: String,
    /// Set by `aqsha merchant disable`: the merchant's logins and tokens are refused.
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct TerminalRecord {
    pub id: String,
    pub merchant_id: String,
    pub currency: Currency,
    pub fee: FeeSchedule,
    /// The ledger account that receives this terminal's fees (the merchant's fee account).
    pub fee_account: String,
    /// ePay's short numeric terminal id (`terminal` in the status body), distinct from the
    /// UUID; given by the store (migration "terminal_numbers"), empty until then.
    pub number: String,
}

/// A card issued by Aqsha's built-in card network, as its issuer sees it.
#[derive(Debug, Clone)]
pub struct NetworkCard {
    pub id: String,
    pub fingerprint: String,
    pub mask: String,
    pub brand: Brand,
    pub expiry: Expiry,
    /// Keyed check value of (card, CVC); the CVC itself is never stored.
    pub cvc_check: String,
    pub locked: bool,
    /// `false` only for the documented test cards, whose printed dates have passed but which
    /// must keep working as the seed shows. Set by the seed data, not by card number in code.
    pub enforce_expiry: bool,
    pub account_id: String,
    pub currency: Currency,
    /// The merchant that issued the card through the sandbox API; `None` for the network's
    /// public test cards, which every merchant shares.
    pub owner: Option<String>,
    /// How its issuer answers (`docs/sandbox.md`, "Outcome table"); the default is naturally.
    pub scenario: crate::outcomes::Scenario,
    /// Enrolled in 3-D Secure: a transfer paid with its number waits for the cardholder to
    /// pass the issuer's challenge (`transfer::secure3d`).
    pub secure3d: bool,
}

/// A 3-D Secure challenge of one pending operation (`transfer::secure3d`), as stored
/// (`secure3d_challenges`). Written with the operation; its wrong answers are counted here, so
/// they survive a restart and are seen by every instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub operation_id: String,
    pub merchant_id: String,
    /// The `paReq` handed to the browser: random, so that knowing the operation id (`md`) is
    /// not enough to answer its challenge.
    pub pa_req: String,
    /// Wrong codes entered so far.
    pub wrong_codes: u32,
    /// `None` while it waits for an answer; then 0 (passed) or the reason code it failed with.
    pub result: Option<u32>,
    pub expires_at: DateTime<Utc>,
    /// The order's `backLink` and `failureBackLink` (empty when not given): where the
    /// browser goes once the operation is finished.
    pub back_link: String,
    pub failure_back_link: String,
}

/// A new card for the sandbox network.
#[derive(Debug, Clone)]
pub struct NewNetworkCard {
    pub card: NetworkCard,
    pub sealed: SealedPan,
    pub opening_balance: Money,
}

/// A card saved in the vault for one merchant's customer (`accountID`).
#[derive(Debug, Clone)]
pub struct VaultCard {
    pub id: String,
    pub merchant_id: String,
    pub account_id: String,
    pub fingerprint: String,
    pub sealed: SealedPan,
    pub mask: String,
    pub brand: Brand,
    pub payer_name: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub transaction_id: String,
    pub reference: String,
    pub int_reference: String,
    pub terminal_id: String,
}

/// A phone number bound to a card in the sandbox's phone directory, as a transfer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneEntry {
    /// The bound network card's fingerprint.
    pub card_fingerprint: String,
    /// The holder's IIN as a keyed check value ([`crate::vault::Vault::iin_check`]).
    pub iin_check: String,
}

/// Wrong CVC or expiry answers given for one card by one merchant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CardGuesses {
    /// Wrong answers since the last right one (or since the last block).
    pub wrong: u32,
    /// The card is refused to this merchant until then.
    pub blocked_until: Option<DateTime<Utc>>,
}

/// One side of a posting: `amount` is added to the account's balance (negative = debit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account_id: String,
    pub amount: Money,
}

/// A finished operation, success or decline, with the exact response it was answered with.
#[derive(Debug, Clone)]
pub struct OperationRecord {
    pub id: String,
    pub merchant_id: String,
    pub terminal_id: String,
    pub invoice_id: String,
    pub account_id: String,
    pub amount: Money,
    pub fee: Money,
    /// The currency as the order gave it: a decline for an unsupported currency records what
    /// was asked, so this is text, not [`Currency`].
    pub currency: String,
    pub description: String,
    pub email: String,
    pub status: OperationStatus,
    /// P2P, AFT or OCT.
    pub kind: OperationKind,
    /// The order's language (`rus`, `kaz`, `eng`), `rus` when it named none.
    pub language: String,
    /// The issuer's approval code of a charge (6 digits); empty for a decline.
    pub approval_code: String,
    pub reason_code: u32,
    pub reason: String,
    pub reference: String,
    pub int_reference: String,
    pub sender: SideRecord,
    pub receiver: SideRecord,
    /// The id of the token that carried the request.
    pub token_id: String,
    pub request_digest: String,
    pub http_status: u16,
    pub response_body: String,
    pub created_at: DateTime<Utc>,
    pub post_link: Option<String>,
    pub failure_post_link: Option<String>,
    pub secret_hash: Option<String>,
}

impl OperationRecord {
    pub fn charged(&self) -> bool {
        self.status == OperationStatus::Charge
    }

    /// The card an operation is about, as ePay's single `cardMask`/`cardType`/`cardID` show
    /// it: the paying card, or for an OCT (the merchant pays) the card paid.
    pub fn card(&self) -> &SideRecord {
        match self.kind {
            OperationKind::Oct => &self.receiver,
            OperationKind::P2p | OperationKind::Aft => &self.sender,
        }
    }

    /// Whether this operation keeps its invoice from being paid again: a charge, or a pending
    /// operation that may yet become one.
    pub fn holds_invoice(&self) -> bool {
        matches!(
            self.status,
            OperationStatus::Charge | OperationStatus::Pending
        )
    }

    /// The invoice-tail key this operation counts under, if its invoice has a tail.
    pub fn tail_key(&self) -> Option<TailKey> {
        invoice::tail_key(&self.terminal_id, &self.invoice_id, self.created_at)
    }

    /// Whether this operation counts under the tail key `key`. Cheaper than comparing
    /// [`Self::tail_key`]: a store asks it of every pending charge for every transfer.
    pub fn has_tail_key(&self, key: &TailKey) -> bool {
        invoice::invoice_tail(&self.invoice_id) == Some(key.2.as_str())
            && self.terminal_id == key.0
            && invoice::day_of(self.created_at) == key.1
    }

    /// The stored answer, as it is replayed.
    pub fn response(&self) -> StoredResponse {
        StoredResponse {
            http_status: self.http_status,
            body: self.response_body.clone(),
        }
    }
}

/// One side of an operation. A decline recorded before a side was looked at leaves it empty
/// (`None`s are stored as empty strings).
#[derive(Debug, Clone, Default)]
pub struct SideRecord {
    pub card_id: String,
    pub mask: String,
    pub brand: Option<Brand>,
    pub transfer_type: Option<TransferType>,
}

impl SideRecord {
    /// The brand's name, or `""` for a side never looked at.
    pub fn brand_name(&self) -> &'static str {
        self.brand.map_or("", Brand::name)
    }

    /// The transfer type's name, or `""` for a side never looked at.
    pub fn transfer_type_name(&self) -> &'static str {
        self.transfer_type.map_or("", TransferType::as_str)
    }
}

/// A stored answer, replayed byte for byte when the same request comes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub http_status: u16,
    pub body: String,
}

/// A callback to deliver, written in the same commit as the operation it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackEvent {
    pub id: String,
    pub merchant_id: String,
    pub operation_id: String,
    pub invoice_id: String,
    pub url: String,
    pub kind: CallbackKind,
    /// The exact JSON sent on every attempt.
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// One delivery attempt, as recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallbackAttempt {
    pub attempt: u32,
    pub at: DateTime<Utc>,
    #[serde(rename = "httpStatus")]
    pub http_status: Option<u16>,
    pub error: Option<String>,
    #[serde(rename = "durationMs")]
    pub duration_ms: u64,
    /// The start of the receiver's answer (at most [`RESPONSE_EXCERPT_CHARS`] characters),
    /// for the merchant to see why its endpoint refused; absent for attempts recorded before
    /// it was kept, and when no answer came.
    #[serde(rename = "responseExcerpt", skip_serializing_if = "Option::is_none")]
    pub response_excerpt: Option<String>,
    /// When the dispatcher planned the next attempt after this one; `None` after the last.
    #[serde(rename = "nextAttemptAt", skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// How much of a receiver's answer an attempt keeps.
pub const RESPONSE_EXCERPT_CHARS: usize = 256;

/// A table that keeps sealed card numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedTable {
    /// Saved cards (`vault_cards`).
    VaultCards,
    /// The sandbox network's cards (`network_cards`).
    NetworkCards,
}

impl SealedTable {
    pub const ALL: [SealedTable; 2] = [SealedTable::VaultCards, SealedTable::NetworkCards];

    pub fn name(self) -> &'static str {
        match self {
            SealedTable::VaultCards => "vault_cards",
            SealedTable::NetworkCards => "network_cards",
        }
    }
}

/// One row's sealed card number, for re-encryption.
#[derive(Debug, Clone)]
pub struct SealedRecord {
    pub id: String,
    pub sealed: SealedPan,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_sets_keep_their_stored_strings() {
        for (s, text) in [
            (OperationStatus::Charge, "CHARGE"),
            (OperationStatus::Failed, "FAILED"),
            (OperationStatus::Pending, "NEW"),
        ] {
            assert_eq!(s.as_str(), text);
            assert_eq!(OperationStatus::parse(text), Some(s));
        }
        assert_eq!(CallbackKind::Success.as_str(), "success");
        assert_eq!(CallbackKind::parse("failure"), Some(CallbackKind::Failure));
        for s in [
            CallbackStatus::Pending,
            CallbackStatus::Delivered,
            CallbackStatus::Failed,
        ] {
            assert_eq!(CallbackStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            TransferType::parse("TYPECARDID"),
            Some(TransferType::CardId)
        );
        assert_eq!(TransferType::Pan.as_str(), "TYPEPAN");
        assert_eq!(TransferType::parse("TYPEPHONE"), Some(TransferType::Phone));
        for k in [OperationKind::P2p, OperationKind::Aft, OperationKind::Oct] {
            assert_eq!(OperationKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(OperationStatus::parse("charge"), None);
        assert_eq!(SideRecord::default().brand_name(), "");
        assert_eq!(SideRecord::default().transfer_type_name(), "");
    }
}
