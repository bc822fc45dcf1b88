//! ePay reason codes (`docs/protocol.md#reason-codes`): the number, its meaning, and whether it
//! is final.
//!
//! A final code means the operation is over and retrying the same request will not change it. A
//! non-final ("poll") code means the outcome is unknown: the merchant must ask for the status
//! instead of sending the transfer again.

/// One reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasonCode {
    pub code: u32,
    pub message: &'static str,
    /// `false` for the "poll" codes: query the status, do not retry.
    pub is_final: bool,
}

macro_rules! codes {
    ($( $name:ident = $code:literal, $final:literal, $msg:literal; )*) => {
        /// Named reason codes Aqsha answers with.
        pub mod reason {
            use super::ReasonCode;
            $( pub const $name: ReasonCode = ReasonCode { code: $code, message: $msg, is_final: $final }; )*
        }
        /// Every code of the table, for look-ups by number.
        pub const ALL: &[ReasonCode] = &[$( reason::$name, )*];
    };
}

codes! {
    SUCCESS = 0, true, "Success";
    SYSTEM_ERROR = 100, false, "System error";
    AMOUNT_MAY_BE_HELD = 454, false, "Operation failed, the amount may be held";
    WRONG_CARD_NUMBER_3DS = 455, true, "3-D Secure unavailable or wrong card number";
    CANNOT_PAY_WITH_CARD = 456, true, "Cannot pay with this card";
    WRONG_EXPIRY = 457, true, "Wrong card expiry date";
    SERVER_NOT_RESPONDING = 458, false, "Server not responding";
    CHECK_CARD_NUMBER = 459, true, "Check the card number";
    ERROR_AMOUNT_HELD = 460, true, "Error, the amount may be held";
    SYSTEM_ERROR_461 = 461, true, "System error";
    DECLINED_BY_ISSUER = 462, true, "Declined by issuer";
    DECLINED_BY_ISSUER_463 = 463, true, "Declined by issuer";
    INVALID_MERCHANT = 464, true, "Invalid merchant";
    CARD_RESTRICTED = 465, true, "Card restricted or blocked";
    DECLINED_BY_ISSUER_466 = 466, true, "Declined by issuer";
    CARD_DISABLED = 467, true, "Card disabled";
    ADDITIONAL_ID_NEEDED = 468, true, "Additional identification needed";
    INVALID_TRANSACTION = 469, true, "Invalid transaction";
    INVALID_AMOUNT = 470, true, "Invalid amount";
    NO_SUCH_CARD = 471, true, "No such card";
    INVALID_CARD_NUMBER = 472, true, "Invalid card number";
    SECURE3D_FAILED = 473, true, "3-D Secure authentication failed";
    UNSUCCESSFUL_RETRY = 475, true, "Unsuccessful, retry";
    NO_ACTION_RETRY_LATER = 476, true, "No action taken, retry after 30 minutes";
    FORMAT_ERROR = 477, true, "Format error";
    EXPIRED_CARD = 478, true, "Expired card";
    RESTRICTED_CARD = 479, true, "Restricted card";
    CALL_ISSUER = 480, true, "Call the issuer";
    LOST_CARD = 481, true, "Lost card";
    INVALID_CARD = 482, true, "Invalid card";
    STOLEN_CARD = 483, true, "Stolen card";
    INSUFFICIENT_FUNDS = 484, true, "Insufficient funds";
    EXPIRED_CARD_485 = 485, true, "Expired card";
    NOT_PERMITTED_TO_CARDHOLDER = 486, true, "Not permitted to cardholder";
    NOT_PERMITTED_TO_MERCHANT = 487, true, "Not permitted to merchant";
    AMOUNT_LIMIT_EXCEEDED = 488, true, "Amount limit exceeded";
    RESTRICTED_CARD_489 = 489, true, "Restricted card";
    PROHIBITED_ON_CARD = 490, true, "Transactions prohibited on this card";
    FREQUENCY_LIMIT = 491, true, "Frequency limit exceeded";
    PIN_TRIES_EXCEEDED = 492, true, "Blocked after wrong PIN tries";
    ISSUER_UNAVAILABLE = 493, true, "Issuer unavailable";
    ISSUER_UNAVAILABLE_494 = 494, true, "Issuer unavailable";
    TRANSACTION_PROHIBITED = 495, true, "Transaction prohibited";
    SERVER_NOT_RESPONDING_497 = 497, false, "Server not responding";
    SECURE3D_CODE_WRONG = 499, true, "Wrong 3-D Secure code";
    SERVER_NOT_RESPONDING_502 = 502, false, "Server not responding";
    TOO_MANY_ATTEMPTS = 505, true, "More than 3 attempts";
    DECLINED_BY_ISSUER_521 = 521, true, "Declined by issuer";
    DECLINED_BY_ISSUER_523 = 523, true, "Declined by issuer";
    DECLINED_BY_ISSUER_527 = 527, true, "Declined by issuer";
    RECEIVER_DAILY_LIMIT = 528, true, "Receiver card's daily incoming limit exceeded";
    TERMINAL_DAILY_LIMIT = 529, true, "Terminal daily limit exceeded";
    NO_SAVED_CARDS = 1373, true, "No saved cards for this account";
    IIN_PHONE_MISMATCH = 2357, true, "IIN and phone do not match";
    TERMINAL_LIMIT = 2678, true, "Terminal limit exceeded";
    OTP_FAILED = 1654, true, "One-time password check failed";
    TOO_MANY_FAILED_ATTEMPTS = 2740, true, "Too many failed attempts";
    REFUND_LIMIT = 3141, true, "Refund limit on contract exceeded";
    TECH_293 = 293, false, "Technical error, query the status";
    TECH_1267 = 1267, false, "Technical error, query the status";
    TECH_1268 = 1268, false, "Technical error, query the status";
    TECH_1269 = 1269, false, "Technical error, query the status";
    TECH_1563 = 1563, false, "Technical error, query the status";
    TECH_1564 = 1564, false, "Technical error, query the status";
    TECH_2358 = 2358, false, "Technical error, query the status";
    TECH_2656 = 2656, false, "Technical error, query the status";
    TECH_3014 = 3014, false, "Technical error, query the status";
    TECH_3240 = 3240, false, "Technical error, query the status";
}

/// The table entry for a code, if it is one ePay documents.
pub fn lookup(code: u32) -> Option<ReasonCode> {
    ALL.iter().copied().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_poll_codes_are_not_final() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(
                ALL[i + 1..].iter().all(|b| b.code != a.code),
                "{} twice",
                a.code
            );
        }
        for poll in [100, 454, 458, 497, 502, 293, 1267, 3240] {
            assert_eq!(lookup(poll).map(|c| c.is_final), Some(false), "{poll}");
        }
        assert_eq!(lookup(487).map(|c| c.is_final), Some(true));
        assert_eq!(lookup(9999), None);
    }
}
