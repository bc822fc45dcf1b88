//! Card credentials and identifiers. Card numbers and CVCs live in types whose `Debug` (and, for
//! the number, `Display`) never show them, so a `{:?}` in a log line cannot leak one: wire's
//! [`aqsha_wire::card`] types, which the server uses too, wrapped here for what a person types
//! and for the client's [`InputError`].

use aqsha_wire::card::{self, Pan};
use std::fmt;

/// Why a card credential or an identifier was refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("card number must be 12 to 19 digits")]
    CardNumber,
    #[error("CVC must be 3 or 4 digits")]
    Cvc,
    #[error("expiry must be MM/YY with month 01-12")]
    Expiry,
    #[error("invoice id {0:?} must be 6 to 16 digits")]
    Invoice(String),
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
}

/// A full card number (PAN). `Debug` and `Display` show only the mask `440563...5096`.
///
/// The number is held in wire's [`Pan`], which keeps it from showing itself; this type adds what
/// a person typing a number needs (groups separated by spaces or dashes) and the client's error.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardNumber(Pan);

impl CardNumber {
    /// Digits only; spaces and dashes between groups are dropped.
    pub fn parse(text: &str) -> Result<CardNumber, InputError> {
        Pan::parse_grouped(text)
            .map(CardNumber)
            .map_err(|_| InputError::CardNumber)
    }

    /// ePay's mask: the first 6 digits, three dots, the last 4.
    pub fn mask(&self) -> String {
        self.0.mask()
    }

    /// Whether the check digit is right (Luhn). The client does not refuse a number that
    /// fails it: the issuer's answer (code 472) is the authority.
    pub fn luhn_ok(&self) -> bool {
        self.0.luhn_ok()
    }

    /// The plain number, for the request body only.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Whether a text looks like a card number rather than a saved card's id.
    pub fn looks_like(text: &str) -> bool {
        CardNumber::parse(text).is_ok()
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.mask())
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A card's security code, held in wire's [`aqsha_wire::card::Cvc`]: no `Display`, and `Debug`
/// shows `Cvc(***)`. Surrounding white space is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Cvc(card::Cvc);

impl Cvc {
    pub fn parse(text: &str) -> Result<Cvc, InputError> {
        card::Cvc::parse(text.trim())
            .map(Cvc)
            .map_err(|_| InputError::Cvc)
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for Cvc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A card's expiry month and two-digit year, held in wire's [`aqsha_wire::card::Expiry`]; this
/// type reads it as a person writes it (`MM/YY`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Expiry(card::Expiry);

impl Expiry {
    pub fn new(month: u8, year: u8) -> Result<Expiry, InputError> {
        card::Expiry::new(month, year)
            .map(Expiry)
            .ok_or(InputError::Expiry)
    }

    /// `MM/YY` (also `MMYY` and `MM/YYYY`).
    pub fn parse(text: &str) -> Result<Expiry, InputError> {
        let t = text.trim();
        let (m, y) = match t.split_once('/') {
            Some(parts) => parts,
            // Lengths are in bytes and the text may hold any character: split only where
            // a character starts (a digit check follows).
            None if t.len() == 4 => t.split_at_checked(2).ok_or(InputError::Expiry)?,
            None => return Err(InputError::Expiry),
        };
        let y = if y.len() == 4 {
            y.get(2..).ok_or(InputError::Expiry)?
        } else {
            y
        };
        let digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(m) || !digits(y) {
            return Err(InputError::Expiry);
        }
        let month = m.parse::<u8>().map_err(|_| InputError::Expiry)?;
        let year = y.parse::<u8>().map_err(|_| InputError::Expiry)?;
        Expiry::new(month, year)
    }

    pub fn month(self) -> u8 {
        self.0.month
    }

    pub fn year(self) -> u8 {
        self.0.year
    }

    pub(crate) fn to_wire(self) -> aqsha_wire::transfer::Expire {
        self.0.to_wire()
    }
}

impl fmt::Debug for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn new(text: impl Into<String>) -> Result<$name, InputError> {
                let t: String = text.into();
                let t = t.trim();
                if t.is_empty() {
                    return Err(InputError::Empty { what: $what });
                }
                Ok($name(t.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InputError;
            fn from_str(s: &str) -> Result<$name, InputError> {
                $name::new(s)
            }
        }
    };
}

id_type!(
    /// A saved card's id (`senderCardID` / `receiverCardID`, `TYPECARDID`'s `cardCred`). Not
    /// a secret: it is useless outside the merchant that saved it.
    CardId,
    "card id"
);
id_type!(
    /// A terminal (point of sale) id, a UUID from the merchant cabinet.
    TerminalId,
    "terminal id"
);
id_type!(
    /// The shop's customer id (`accountID`), needed to save a card.
    AccountId,
    "account id"
);

/// An order number: 6 to 16 digits. ePay's text says 6–15, but its own example uses 16 and
/// Aqsha accepts it. When longer than 6 digits, the last 6 must also be unique among the
/// invoices charged on a terminal that day; [`InvoiceId::generate`] varies them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InvoiceId(String);

impl InvoiceId {
    pub fn new(text: impl Into<String>) -> Result<InvoiceId, InputError> {
        let t: String = text.into();
        let t = t.trim().to_string();
        if !(6..=16).contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InputError::Invoice(t));
        }
        Ok(InvoiceId(t))
    }

    /// A fresh 12-digit invoice id: six digits from the clock, then six random digits, so the
    /// last six (which must be unique per terminal and day) differ from one call to the next.
    pub fn generate() -> InvoiceId {
        use rand::Rng;
        let secs = chrono::Utc::now().timestamp().rem_euclid(1_000_000);
        let tail: u32 = rand::thread_rng().gen_range(0..1_000_000);
        InvoiceId(format!("{secs:06}{tail:06}"))
    }

    /// A run of invoice ids for `count` transfers whose last six digits are all different:
    /// a random 6-digit prefix and a random starting tail counted upwards (mod 10^6).
    pub fn generate_run(count: usize) -> Vec<InvoiceId> {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let prefix: u32 = rng.gen_range(100_000..1_000_000);
        let start: usize = rng.gen_range(0..1_000_000);
        (0..count)
            .map(|i| InvoiceId(format!("{prefix:06}{:06}", (start + i) % 1_000_000)))
            .collect()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvoiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for InvoiceId {
    type Err = InputError;
    fn from_str(s: &str) -> Result<InvoiceId, InputError> {
        InvoiceId::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_number_is_masked_everywhere_but_expose() {
        let n = CardNumber::parse("4405 6397 0401 5096").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.expose(), "4405639704015096");
        assert_eq!(n.to_string(), "440563...5096");
        assert_eq!(format!("{n:?}"), "CardNumber(440563...5096)");
        assert!(n.luhn_ok());
        assert!(!CardNumber::parse("4405639704015097")
            .map(|n| n.luhn_ok())
            .unwrap_or(true));
        assert!(CardNumber::parse("fcf69516-f7e8-9b14-e053-1d1a000aef2f").is_err());
        assert!(CardNumber::parse("12345").is_err());
        let c = Cvc::parse("815").unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{c:?}").contains("815"));
        assert!(Cvc::parse("81").is_err());
    }

    #[test]
    fn expiry_forms() {
        for t in ["01/25", "0125", "01/2025"] {
            assert_eq!(Expiry::parse(t).map(|e| e.to_string()), Ok("01/25".into()));
        }
        assert!(Expiry::parse("13/25").is_err());
        assert!(Expiry::parse("1/25").is_err());
    }

    /// Found by the `card` fuzz target: four bytes that are not four characters (`"\u{FFFD}4"`,
    /// a year `"a€"`) were split inside a character, a panic instead of a refusal.
    #[test]
    fn an_expiry_with_other_characters_is_refused_not_a_panic() {
        for t in ["\u{FFFD}4", "€4", "01/a€", "01/€1", "ü/25", "01/2ü"] {
            assert_eq!(Expiry::parse(t), Err(InputError::Expiry), "{t:?}");
        }
    }

    #[test]
    fn invoices() {
        assert!(InvoiceId::new("000000001").is_ok());
        assert!(InvoiceId::new("8161284658529816").is_ok());
        assert!(InvoiceId::new("12345").is_err());
        assert!(InvoiceId::new("12345678901234567").is_err());
        assert!(InvoiceId::new("12345a").is_err());
        let g = InvoiceId::generate();
        assert_eq!(g.as_str().len(), 12);
        let run = InvoiceId::generate_run(1000);
        let tails: std::collections::HashSet<&str> = run.iter().map(|i| &i.as_str()[6..]).collect();
        assert_eq!(tails.len(), 1000);
    }
}
