//! A receiver named by phone number (`TYPEPHONE`): the number and the IIN checked for form and
//! turned into the keyed values the rest of the system holds ([`PhoneSide`]). Which card the
//! phone is bound to is the transfer's business (`aqsha_core::transfer`); the plain number and
//! IIN go no further than this function, and no error repeats them.

use crate::error::EpayError;
use crate::App;
use aqsha_core::transfer::{PhoneSide, SideInput};
use aqsha_wire::transfer::CardSide;

/// Whether `text` is a phone number as ePay takes it: `7` and ten more digits.
pub fn valid_phone(text: &str) -> bool {
    text.len() == 11 && text.starts_with('7') && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `text` is an IIN: twelve digits.
pub fn valid_iin(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A `TYPEPHONE` side: `phone` and `iin` are required and must have their forms.
pub fn side(app: &App, s: &CardSide, path: &str) -> Result<SideInput, EpayError> {
    let phone = s.phone.as_deref().map(str::trim).unwrap_or("");
    if !valid_phone(phone) {
        return Err(EpayError::input(format!(
            "{path}.phone must be 11 digits starting with 7 (7XXXXXXXXXX) for TYPEPHONE"
        )));
    }
    let iin = s.iin.as_deref().map(str::trim).unwrap_or("");
    if !valid_iin(iin) {
        return Err(EpayError::input(format!(
            "{path}.iin must be 12 digits for TYPEPHONE"
        )));
    }
    let phone_key = app.vault.phone_key(phone);
    let iin_check = app.vault.iin_check(&phone_key, iin);
    Ok(SideInput::Phone(PhoneSide {
        phone_key,
        iin_check,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_and_iin_forms() {
        assert!(valid_phone("77011234567"));
        for bad in [
            "87011234567",
            "7701123456",
            "770112345678",
            "7701123456a",
            "",
        ] {
            assert!(!valid_phone(bad), "{bad}");
        }
        assert!(valid_iin("900101300123"));
        for bad in ["90010130012", "9001013001234", "90010130012x"] {
            assert!(!valid_iin(bad), "{bad}");
        }
    }
}
