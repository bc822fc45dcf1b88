//! An amount exactly as it appeared on the wire.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The decimal text of an amount: `100`, `12.22`, `"100.0"`.
///
/// ePay sends amounts as JSON numbers (and in forms as text). We keep the text and let the
/// domain parse it into integer minor units, so nothing here ever does float arithmetic. A JSON
/// number with a fraction reaches serde as an `f64`; Rust prints an `f64` as the shortest text
/// that reads back to the same value, which is the text that was sent for every amount of up to
/// 15 significant digits — far beyond any transfer limit.
#[derive(Clone, PartialEq, Eq)]
pub struct WireAmount(String);

impl WireAmount {
    pub fn new(text: impl Into<String>) -> Self {
        WireAmount(text.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Zero, for amounts a body always carries but that have nothing to say (`amountBonus`).
impl Default for WireAmount {
    fn default() -> Self {
        WireAmount("0".into())
    }
}

impl fmt::Debug for WireAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for WireAmount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Whole amounts go out as integers (`100`), others as the shortest float that prints
        // back to the same decimal text (`12.22`).
        if let Ok(i) = self.0.parse::<i64>() {
            return s.serialize_i64(i);
        }
        match self.0.parse::<f64>() {
            Ok(f) if f.is_finite() => s.serialize_f64(f),
            _ => s.serialize_str(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for WireAmount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = WireAmount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an amount as a number or a decimal string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireAmount, E> {
                Ok(WireAmount(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireAmount, E> {
                Ok(WireAmount(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<WireAmount, E> {
                if !v.is_finite() {
                    return Err(E::custom("amount must be a finite number"));
                }
                Ok(WireAmount(format!("{v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WireAmount, E> {
                Ok(WireAmount(v.trim().to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The amount's schema: a JSON number, whole amounts as integers, at most two decimals.
/// Requests may also send it as decimal text (forms carry nothing else). Not `multipleOf 0.01`:
/// validators divide in binary floating point, and `12.22 / 0.01` is not a whole number there.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for WireAmount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Number, Type::String]))
            .format(Some(utoipa::openapi::SchemaFormat::Custom(
                "decimal".into(),
            )))
            .pattern(Some(r"^[0-9]+(\.[0-9]{1,2})?$"))
            .description(Some(
                "An amount in major units (tenge, dollars) with at most two decimals. Answers \
                 carry a JSON number (`100`, `12.22`); requests may send a number or decimal \
                 text (`\"12.22\"`).",
            ))
            .examples([serde_json::json!(100), serde_json::json!(12.22)])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for WireAmount {
    fn name() -> std::borrow::Cow<'static, str> {
        "Amount".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_decimal_text_of_numbers_and_strings() {
        let a: WireAmount = serde_json::from_str("12.22").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.as_str(), "12.22");
        let a: WireAmount = serde_json::from_str("100").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.as_str(), "100");
        let a: WireAmount = serde_json::from_str("\" 100.0 \"").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.as_str(), "100.0");
        let a: WireAmount = serde_json::from_str("0.1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.as_str(), "0.1");
    }

    #[test]
    fn serializes_as_json_number() {
        let s = |t: &str| serde_json::to_string(&WireAmount::new(t)).unwrap_or_default();
        assert_eq!(s("100"), "100");
        assert_eq!(s("12.22"), "12.22");
        assert_eq!(s("1000000.05"), "1000000.05");
    }
}
