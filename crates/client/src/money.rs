//! Money: an exact amount in minor units, and the currencies ePay transfers in.

use aqsha_wire::WireAmount;
use std::fmt;
use std::str::FromStr;

/// An amount of money as an integer count of minor units (tiyn for KZT, cents for USD).
///
/// It is parsed from and shown as decimal major units (`100`, `12.22`) without ever going
/// through a float, and all arithmetic is checked. ePay amounts are never negative, so neither
/// is an `Amount`; zero is representable (a fee may be zero) but [`Amount::parse`] refuses it
/// for anything that is sent.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

/// Why a text is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount {0:?} is not a decimal number such as 100 or 12.22")]
    NotANumber(String),
    #[error("amount {0:?} has more than 2 decimal places")]
    TooPrecise(String),
    #[error("amount {0:?} must be greater than zero")]
    NotPositive(String),
    #[error("amount {0:?} is too large")]
    TooLarge(String),
}

/// Ten billion in major units: far above any card limit.
const MAX_MINOR: i64 = 1_000_000_000_000;

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// An amount of `minor` minor units; `None` if negative or absurdly large.
    pub fn from_minor(minor: i64) -> Option<Amount> {
        (0..=MAX_MINOR).contains(&minor).then_some(Amount(minor))
    }

    /// Whole major units (tenge): `Amount::from_major(100)` is 100.00.
    pub fn from_major(major: i64) -> Option<Amount> {
        major.checked_mul(100).and_then(Amount::from_minor)
    }

    pub fn minor(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).and_then(Amount::from_minor)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).and_then(Amount::from_minor)
    }

    pub fn checked_mul(self, n: i64) -> Option<Amount> {
        self.0.checked_mul(n).and_then(Amount::from_minor)
    }

    /// Parses a positive amount in major units: `100`, `100.0`, `12.2`, `12.22`, `0.5`.
    /// Signs, exponents, separators and more than two significant decimals are refused.
    pub fn parse(text: &str) -> Result<Amount, AmountError> {
        let a = Amount::parse_non_negative(text)?;
        if a.is_zero() {
            return Err(AmountError::NotPositive(text.trim().to_string()));
        }
        Ok(a)
    }

    /// Like [`Amount::parse`] but zero is accepted (fees, balances).
    pub fn parse_non_negative(text: &str) -> Result<Amount, AmountError> {
        let t = text.trim();
        let bad = || AmountError::NotANumber(t.to_string());
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > 2 {
            return Err(AmountError::TooPrecise(t.to_string()));
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 13 {
            return Err(AmountError::TooLarge(t.to_string()));
        }
        let w: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let f: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
            _ => frac.parse().map_err(|_| bad())?,
        };
        w.checked_mul(100)
            .and_then(|x| x.checked_add(f))
            .and_then(Amount::from_minor)
            .ok_or_else(|| AmountError::TooLarge(t.to_string()))
    }

    /// Reads an amount the server sent.
    pub fn from_wire(w: &WireAmount) -> Result<Amount, AmountError> {
        Amount::parse_non_negative(w.as_str())
    }

    /// The amount as it goes on the wire: a JSON number in major units.
    pub fn to_wire(self) -> WireAmount {
        WireAmount::new(self.to_string())
    }
}

/// Major units, with two decimals only when there is a fraction: `100`, `12.20`, `0.05`.
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (w, m) = (self.0 / 100, self.0 % 100);
        if m == 0 {
            write!(f, "{w}")
        } else {
            write!(f, "{w}.{m:02}")
        }
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({self})")
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Amount, AmountError> {
        Amount::parse(s)
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        let w = WireAmount::deserialize(d)?;
        Amount::from_wire(&w).map_err(serde::de::Error::custom)
    }
}

/// A currency ePay transfers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Currency {
    #[default]
    Kzt,
    Usd,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::Kzt => "KZT",
            Currency::Usd => "USD",
        }
    }

    pub fn parse(text: &str) -> Option<Currency> {
        match text.trim().to_ascii_uppercase().as_str() {
            "KZT" => Some(Currency::Kzt),
            "USD" => Some(Currency::Usd),
            _ => None,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Currency, String> {
        Currency::parse(s).ok_or_else(|| format!("currency {s:?} is not KZT or USD"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> Result<i64, AmountError> {
        Amount::parse(t).map(Amount::minor)
    }

    #[test]
    fn parses_decimal_text_exactly() {
        assert_eq!(p("100"), Ok(10_000));
        assert_eq!(p("100.0"), Ok(10_000));
        assert_eq!(p("12.2"), Ok(1_220));
        assert_eq!(p("12.22"), Ok(1_222));
        assert_eq!(p(" 0.05 "), Ok(5));
        assert_eq!(p(".5"), Ok(50));
        assert_eq!(p("1000000.05"), Ok(100_000_005));
        assert_eq!(p("12.220"), Ok(1_222));
        assert!(matches!(p("12.221"), Err(AmountError::TooPrecise(_))));
        assert!(matches!(p("0"), Err(AmountError::NotPositive(_))));
        assert!(matches!(p("-1"), Err(AmountError::NotANumber(_))));
        assert!(matches!(p("1e3"), Err(AmountError::NotANumber(_))));
        assert!(matches!(p("1,5"), Err(AmountError::NotANumber(_))));
        assert!(matches!(p(""), Err(AmountError::NotANumber(_))));
        assert!(matches!(p("."), Err(AmountError::NotANumber(_))));
        assert!(matches!(
            p("99999999999999999999"),
            Err(AmountError::TooLarge(_))
        ));
        assert_eq!(Amount::parse_non_negative("0").map(Amount::minor), Ok(0));
    }

    #[test]
    fn displays_major_units_and_round_trips_through_the_wire() {
        for (minor, text) in [(10_000, "100"), (1_220, "12.20"), (5, "0.05"), (0, "0")] {
            let a = Amount::from_minor(minor).unwrap_or_default();
            assert_eq!(a.to_string(), text);
            let json = serde_json::to_string(&a).unwrap_or_default();
            let back: Amount = serde_json::from_str(&json).unwrap_or_default();
            assert_eq!(back, a, "{json}");
        }
        assert_eq!(
            serde_json::to_string(&Amount::from_minor(1_222)).unwrap_or_default(),
            "12.22"
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Amount::from_major(100).unwrap_or_default();
        let fee = Amount::from_major(95).unwrap_or_default();
        assert_eq!(a.checked_add(fee).map(Amount::minor), Some(19_500));
        assert_eq!(fee.checked_sub(a), None);
        assert_eq!(Amount::from_minor(-1), None);
        assert_eq!(a.checked_mul(1_000).map(Amount::minor), Some(10_000_000));
    }

    #[test]
    fn currencies() {
        assert_eq!(Currency::parse("kzt"), Some(Currency::Kzt));
        assert_eq!(Currency::parse("USD"), Some(Currency::Usd));
        assert_eq!(Currency::parse("RUB"), None);
    }
}
