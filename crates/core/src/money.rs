//! Money as an integer count of minor units (tiyn, cents), and the currencies Aqsha moves.

use std::fmt;

/// An amount in minor units (1/100 of the currency). All arithmetic is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount is not a decimal number")]
    NotANumber,
    #[error("amount has more than 2 decimal places")]
    TooPrecise,
    #[error("amount must be greater than zero")]
    NotPositive,
    #[error("amount is too large")]
    TooLarge,
}

/// The largest amount accepted: 10 billion in major units, far above any card limit and well
/// inside exact `f64` text round-tripping on the wire.
pub const MAX_MINOR: i64 = 1_000_000_000_000;

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_minor(minor: i64) -> Money {
        Money(minor)
    }
    pub fn minor(self) -> i64 {
        self.0
    }
    pub fn from_major(major: i64) -> Option<Money> {
        major.checked_mul(100).map(Money)
    }

    /// Parses decimal text in major units (`100`, `12.2`, `12.22`, `100.0`) into a positive
    /// amount. No float is involved: digits are read one by one.
    pub fn parse_positive(text: &str) -> Result<Money, AmountError> {
        let t = text.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (whole, frac) = match t.split_once('.') {
            Some((w, f)) => (w, f),
            None => (t, ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err(AmountError::NotANumber);
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotANumber);
        }
        // "100.00" and "100.000" are the same amount; only significant decimals count.
        let frac = frac.trim_end_matches('0');
        if frac.len() > 2 {
            return Err(AmountError::TooPrecise);
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 13 {
            return Err(AmountError::TooLarge);
        }
        let w: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| AmountError::NotANumber)?
        };
        let f: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| AmountError::NotANumber)? * 10,
            _ => frac.parse().map_err(|_| AmountError::NotANumber)?,
        };
        let minor = w
            .checked_mul(100)
            .and_then(|x| x.checked_add(f))
            .ok_or(AmountError::TooLarge)?;
        if neg || minor == 0 {
            return Err(AmountError::NotPositive);
        }
        if minor > MAX_MINOR {
            return Err(AmountError::TooLarge);
        }
        Ok(Money(minor))
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }
}

/// Decimal text in major units, as the wire shows it: `100`, `12.2`, `12.22`, `-5`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, cents) = (abs / 100, abs % 100);
        match cents {
            0 => write!(f, "{sign}{whole}"),
            c if c % 10 == 0 => write!(f, "{sign}{whole}.{}", c / 10),
            c => write!(f, "{sign}{whole}.{c:02}"),
        }
    }
}

/// The currencies Aqsha's terminals and cards hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Currency {
    Kzt,
    Usd,
}

impl Currency {
    pub fn parse(code: &str) -> Option<Currency> {
        match code.trim().to_ascii_uppercase().as_str() {
            "KZT" => Some(Currency::Kzt),
            "USD" => Some(Currency::Usd),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Currency::Kzt => "KZT",
            Currency::Usd => "USD",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(Money::parse_positive("100"), Ok(Money(10000)));
        assert_eq!(Money::parse_positive("100.0"), Ok(Money(10000)));
        assert_eq!(Money::parse_positive("12.22"), Ok(Money(1222)));
        assert_eq!(Money::parse_positive("12.2"), Ok(Money(1220)));
        assert_eq!(Money::parse_positive("0.01"), Ok(Money(1)));
        assert_eq!(Money::parse_positive(".5"), Ok(Money(50)));
        assert_eq!(Money::parse_positive("12.220"), Ok(Money(1222)));
    }

    #[test]
    fn refuses_bad_amounts() {
        assert_eq!(Money::parse_positive("0"), Err(AmountError::NotPositive));
        assert_eq!(Money::parse_positive("-5"), Err(AmountError::NotPositive));
        assert_eq!(Money::parse_positive("1.005"), Err(AmountError::TooPrecise));
        assert_eq!(Money::parse_positive("1e3"), Err(AmountError::NotANumber));
        assert_eq!(Money::parse_positive(""), Err(AmountError::NotANumber));
        assert_eq!(Money::parse_positive("."), Err(AmountError::NotANumber));
        assert_eq!(
            Money::parse_positive("99999999999999"),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn displays_as_wire_decimal() {
        assert_eq!(Money(10000).to_string(), "100");
        assert_eq!(Money(1222).to_string(), "12.22");
        assert_eq!(Money(1220).to_string(), "12.2");
        assert_eq!(Money(5).to_string(), "0.05");
        assert_eq!(Money(-150).to_string(), "-1.5");
    }
}
