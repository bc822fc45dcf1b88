//! Card numbers, CVCs and expiry dates, in types that never show themselves.

use std::fmt;

/// A card number: 12 to 19 digits. Its `Debug` and `Display` show only the mask, so a PAN
/// cannot reach a log by accident; the digits are reachable only through [`Pan::expose`], which
/// the vault alone calls.
#[derive(Clone, PartialEq, Eq)]
pub struct Pan(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardFormatError {
    #[error("must contain digits only (no spaces, dashes or letters)")]
    NotDigits,
    #[error("must be {0} digits long")]
    BadLength(&'static str),
}

impl Pan {
    /// Checks the form only (digits, length). Whether the number passes the Luhn check is a
    /// separate question ([`Pan::luhn_ok`]): an issuer answers that one with a reason code.
    pub fn parse(text: &str) -> Result<Pan, CardFormatError> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardFormatError::NotDigits);
        }
        if !(12..=19).contains(&text.len()) {
            return Err(CardFormatError::BadLength("12 to 19"));
        }
        Ok(Pan(text.to_string()))
    }

    pub fn luhn_ok(&self) -> bool {
        aqsha_wire::card::luhn_ok(&self.0)
    }

    /// ePay's mask (`440563...5096`, [`aqsha_wire::card::mask`]).
    pub fn mask(&self) -> String {
        aqsha_wire::card::mask(&self.0)
    }

    pub fn brand(&self) -> Brand {
        Brand::of(&self.0)
    }

    /// The digits themselves. Only the vault (encryption, fingerprints) may call this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.mask())
    }
}
impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.mask())
    }
}

/// A card verification code (3 or 4 digits). Never stored, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Cvc(String);

impl Cvc {
    pub fn parse(text: &str) -> Result<Cvc, CardFormatError> {
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardFormatError::NotDigits);
        }
        if !(3..=4).contains(&text.len()) {
            return Err(CardFormatError::BadLength("3 or 4"));
        }
        Ok(Cvc(text.to_string()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cvc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvc(***)")
    }
}

/// A card's expiry month and two-digit year, as printed on the card (`01/25`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub month: u8,
    pub year: u8,
}

impl Expiry {
    pub fn parse(month: &str, year: &str) -> Option<Expiry> {
        let m: u8 = month.trim().parse().ok()?;
        let y = year.trim();
        // Accept "25" and "2025".
        let y: u16 = y.parse().ok()?;
        let y = if (2000..2100).contains(&y) {
            y - 2000
        } else {
            y
        };
        if !(1..=12).contains(&m) || y > 99 {
            return None;
        }
        Some(Expiry {
            month: m,
            year: y as u8,
        })
    }

    /// A card is valid through the last day of its expiry month.
    pub fn has_passed(self, today_year: i32, today_month: u32) -> bool {
        let card = (2000 + i32::from(self.year)) * 12 + i32::from(self.month);
        let now = today_year * 12 + today_month as i32;
        now > card
    }
}

/// A card's payment system, named as ePay names it in `senderCardType` / `cardType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brand {
    Visa,
    MasterCard,
    Amex,
    UnionPay,
    Mir,
    Unknown,
}

impl Brand {
    pub fn of(digits: &str) -> Brand {
        let p2: u32 = digits.get(..2).and_then(|s| s.parse().ok()).unwrap_or(0);
        let p4: u32 = digits.get(..4).and_then(|s| s.parse().ok()).unwrap_or(0);
        match () {
            _ if digits.starts_with('4') => Brand::Visa,
            _ if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) => Brand::MasterCard,
            _ if p2 == 34 || p2 == 37 => Brand::Amex,
            _ if (2200..=2204).contains(&p4) => Brand::Mir,
            _ if p2 == 62 => Brand::UnionPay,
            _ => Brand::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Brand::Visa => "VISA",
            Brand::MasterCard => "MasterCard",
            Brand::Amex => "AMEX",
            Brand::UnionPay => "UnionPay",
            Brand::Mir => "MIR",
            Brand::Unknown => "UNKNOWN",
        }
    }

    pub fn from_name(name: &str) -> Brand {
        match name {
            "VISA" => Brand::Visa,
            "MasterCard" => Brand::MasterCard,
            "AMEX" => Brand::Amex,
            "UnionPay" => Brand::UnionPay,
            "MIR" => Brand::Mir,
            _ => Brand::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_cards_pass_luhn_and_mask() {
        for n in ["4405639704015096", "5522042705066736", "377514500004820"] {
            let p = Pan::parse(n).unwrap_or_else(|e| panic!("{e}"));
            assert!(p.luhn_ok(), "{n}");
            assert!(!format!("{p:?}{p}").contains(n));
        }
        let p = Pan::parse("4405639704015096").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.mask(), "440563...5096");
        assert_eq!(p.brand(), Brand::Visa);
        assert_eq!(Brand::of("5522042705066736"), Brand::MasterCard);
        assert_eq!(Brand::of("377514500004820"), Brand::Amex);
        assert!(!Pan::parse("4405639704015097")
            .map(|p| p.luhn_ok())
            .unwrap_or(true));
    }

    #[test]
    fn mask_hides_at_least_two_digits() {
        for len in 12..=19 {
            let pan = Pan::parse(&"4".repeat(len)).unwrap_or_else(|e| panic!("{e}"));
            let m = pan.mask();
            let (head, tail) = m.split_once("...").unwrap_or_else(|| panic!("{m}"));
            assert!(head.len() <= 6 && tail.len() <= 4, "{m}");
            assert!(len - head.len() - tail.len() >= 2, "{len}: {m}");
        }
        let p = Pan::parse("123456789012").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.mask(), "123456...9012");
    }

    #[test]
    fn refuses_spaces_and_letters() {
        assert_eq!(
            Pan::parse("4405 6397 0401 5096"),
            Err(CardFormatError::NotDigits)
        );
        assert_eq!(
            Pan::parse("44056397O4015096"),
            Err(CardFormatError::NotDigits)
        );
        assert_eq!(
            Pan::parse("4405"),
            Err(CardFormatError::BadLength("12 to 19"))
        );
        assert!(Cvc::parse("81a").is_err());
        assert!(!format!("{:?}", Cvc::parse("815")).contains("815"));
    }

    #[test]
    fn expiry_rules() {
        let e = Expiry::parse("01", "25").unwrap_or_else(|| panic!());
        assert!(!e.has_passed(2025, 1));
        assert!(e.has_passed(2025, 2));
        assert_eq!(Expiry::parse("13", "25"), None);
        assert_eq!(
            Expiry::parse("09", "2020"),
            Some(Expiry { month: 9, year: 20 })
        );
    }
}
