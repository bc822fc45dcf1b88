//! Card-number basics that the server and the client both need: the Luhn check digit, ePay's
//! mask, and the types that hold a card number ([`Pan`]), a security code ([`Cvc`]) and an
//! expiry ([`Expiry`]) without ever showing the secret ones. Written once here, where both can
//! reach them (the client does not depend on the domain crate).

use std::fmt;

/// The Luhn sum of ASCII digits, doubling every second digit from the right (from the check
/// digit's neighbour when `with_check_digit`, from the last digit otherwise).
fn luhn_sum(digits: &[u8], with_check_digit: bool) -> u32 {
    let offset = usize::from(!with_check_digit);
    digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let d = u32::from(b.wrapping_sub(b'0'));
            if (i + offset) % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum()
}

/// Whether a string of ASCII digits ends in the right Luhn check digit.
pub fn luhn_ok(digits: &str) -> bool {
    luhn_sum(digits.as_bytes(), true).is_multiple_of(10)
}

/// The check digit that makes `digits` followed by it pass the Luhn check.
pub fn luhn_check_digit(digits: &str) -> u8 {
    let sum = luhn_sum(digits.as_bytes(), false);
    ((10 - sum % 10) % 10) as u8
}

/// ePay's mask of a card number: the first six digits, three dots, the last four
/// (`440563...5096`). At least two digits stay hidden whatever the length: a shorter number
/// shows fewer leading digits.
pub fn mask(digits: &str) -> String {
    let n = digits.len();
    let last = 4.min(n.saturating_sub(2));
    let first = 6.min(n.saturating_sub(last + 2));
    match (digits.get(..first), digits.get(n - last..)) {
        (Some(head), Some(tail)) => format!("{head}...{tail}"),
        _ => "...".to_string(),
    }
}

/// Why a card number or CVC was refused: its form only, never its digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardFormatError {
    #[error("must contain digits only (no spaces, dashes or letters)")]
    NotDigits,
    #[error("must be {0} digits long")]
    BadLength(&'static str),
}

/// A card number: 12 to 19 digits. Its `Debug` and `Display` show only the mask, so a PAN
/// cannot reach a log by accident; the digits are reachable only through [`Pan::expose`]: the
/// server's vault (encryption, fingerprints) and the client's request body call it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pan(String);

impl Pan {
    /// Checks the form only (digits, length), as the API does: a space or a dash is refused.
    /// Whether the number passes the Luhn check is a separate question ([`Pan::luhn_ok`]): an
    /// issuer answers that one with a reason code.
    pub fn parse(text: &str) -> Result<Pan, CardFormatError> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardFormatError::NotDigits);
        }
        if !(12..=19).contains(&text.len()) {
            return Err(CardFormatError::BadLength("12 to 19"));
        }
        Ok(Pan(text.to_string()))
    }

    /// A number as a person types it: spaces and dashes between groups are dropped first.
    pub fn parse_grouped(text: &str) -> Result<Pan, CardFormatError> {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        Pan::parse(&digits)
    }

    pub fn luhn_ok(&self) -> bool {
        luhn_ok(&self.0)
    }

    /// ePay's mask (`440563...5096`, [`mask`]).
    pub fn mask(&self) -> String {
        mask(&self.0)
    }

    pub fn brand(&self) -> Brand {
        Brand::of(&self.0)
    }

    /// The digits themselves, for the vault and for a request body; nowhere else.
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

/// A card verification code (3 or 4 digits). Never stored, never shown: it has no `Display`,
/// and `Debug` shows `Cvc(***)`.
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
    /// A month 1 to 12 and a year 0 to 99.
    pub fn new(month: u8, year: u8) -> Option<Expiry> {
        ((1..=12).contains(&month) && year <= 99).then_some(Expiry { month, year })
    }

    /// ePay's separate `month` and `year` fields; the year as `25` or `2025`.
    pub fn parse(month: &str, year: &str) -> Option<Expiry> {
        let m: u8 = month.trim().parse().ok()?;
        let y: u16 = year.trim().parse().ok()?;
        let y = if (2000..2100).contains(&y) {
            y - 2000
        } else {
            y
        };
        Expiry::new(m, u8::try_from(y).ok()?)
    }

    /// A card is valid through the last day of its expiry month.
    pub fn has_passed(self, today_year: i32, today_month: u32) -> bool {
        let card = (2000 + i32::from(self.year)) * 12 + i32::from(self.month);
        let now = today_year * 12 + today_month as i32;
        now > card
    }

    /// The request body's `expire` (`"01"`, `"25"`).
    pub fn to_wire(self) -> crate::transfer::Expire {
        crate::transfer::Expire {
            month: format!("{:02}", self.month),
            year: format!("{:02}", self.year),
        }
    }
}

/// `MM/YY`.
impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:02}", self.month, self.year)
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

/// The OpenAPI schema of a card mask as answers show it (`440563...5096`, or empty when there
/// is no card), named once for every mask field.
#[cfg(feature = "openapi")]
pub fn mask_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^([0-9]{0,6}\.\.\.[0-9]{0,4})?$"))
        .examples([serde_json::json!("440563...5096")])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_the_seed_cards_and_finds_check_digits() {
        for n in ["4405639704015096", "5522042705066736", "377514500004820"] {
            assert!(luhn_ok(n), "{n}");
            let (body, check) = n.split_at(n.len() - 1);
            assert_eq!(luhn_check_digit(body).to_string(), check, "{n}");
        }
        assert!(!luhn_ok("4405639704015097"));
    }

    #[test]
    fn masks_hide_at_least_two_digits() {
        assert_eq!(mask("4405639704015096"), "440563...5096");
        assert_eq!(mask("123456789012"), "123456...9012");
        for len in 12..=19 {
            let m = mask(&"4".repeat(len));
            let shown = m.replace("...", "").len();
            assert!(len - shown >= 2, "{m}");
        }
    }

    #[test]
    fn pans_show_only_their_mask() {
        for n in ["4405639704015096", "5522042705066736", "377514500004820"] {
            let p = Pan::parse(n).unwrap_or_else(|e| panic!("{e}"));
            assert!(p.luhn_ok(), "{n}");
            assert!(!format!("{p:?}{p}").contains(n));
        }
        let p = Pan::parse("4405639704015096").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.mask(), "440563...5096");
        assert_eq!(format!("{p:?}"), "Pan(440563...5096)");
        assert_eq!(p.brand(), Brand::Visa);
        assert_eq!(Brand::of("5522042705066736"), Brand::MasterCard);
        assert_eq!(Brand::of("377514500004820"), Brand::Amex);
        assert!(!Pan::parse("4405639704015097")
            .map(|p| p.luhn_ok())
            .unwrap_or(true));
    }

    #[test]
    fn the_api_refuses_spaces_and_letters_a_person_may_type_groups() {
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
        let grouped = Pan::parse_grouped("4405 6397-0401 5096").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(grouped.expose(), "4405639704015096");
        assert!(Pan::parse_grouped("fcf69516-f7e8-9b14-e053-1d1a000aef2f").is_err());
        assert!(Cvc::parse("81a").is_err());
        assert!(Cvc::parse("81").is_err());
        assert!(!format!("{:?}", Cvc::parse("815")).contains("815"));
    }

    #[test]
    fn expiry_rules() {
        let e = Expiry::parse("01", "25").unwrap_or_else(|| panic!());
        assert!(!e.has_passed(2025, 1));
        assert!(e.has_passed(2025, 2));
        assert_eq!(e.to_string(), "01/25");
        assert_eq!(Expiry::parse("13", "25"), None);
        assert_eq!(Expiry::parse("01", "100"), None);
        assert_eq!(
            Expiry::parse("09", "2020"),
            Some(Expiry { month: 9, year: 20 })
        );
    }
}
