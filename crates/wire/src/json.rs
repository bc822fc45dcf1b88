//! Stricter JSON reading than `serde_json::Value` gives on its own.
//!
//! A JSON object with one key twice (`"amount": 100, "amount": 5000`) is ambiguous: parsers
//! disagree on which one wins, and `serde_json` silently keeps the last. A body that a proxy, a
//! merchant's log and Aqsha could each read differently is refused instead ([`unique_keys`]).
//! Parser messages quote the offending value (`invalid type: integer `4405…`, expected a
//! string`), which for a card number or CVC must never be repeated back or logged
//! ([`without_values`]).

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Checks that no object in the document repeats a key. Syntax errors are reported too, with
/// their line and column, so this can run before the real parse.
pub fn unique_keys(bytes: &[u8]) -> Result<(), serde_json::Error> {
    serde_json::from_slice::<Unique>(bytes).map(|_| ())
}

/// Walks a document without keeping it, failing on a repeated key.
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Unique, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

/// An object key, borrowed from the input when it can be.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        // Keys are borrowed from the body where they have no escapes, and an ePay object has a
        // dozen keys at most: a short list searched in order costs less than hashing them.
        let mut seen: Vec<Cow<'de, str>> = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if seen.contains(&key) {
                let shown: String = key.chars().take(64).collect();
                return Err(A::Error::custom(format!(
                    "duplicate key {shown:?}: each field may appear once"
                )));
            }
            map.next_value::<Unique>()?;
            seen.push(key);
        }
        Ok(Unique)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_none<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
}

/// A parser's message without the value it complains about: in `invalid type: …`,
/// `invalid value: …`, `invalid length …` and `unknown variant …` messages, the quoted text
/// (between backticks or double quotes) before `, expected` is taken out. `invalid type: integer
/// `4405639704015096`, expected a string` becomes `invalid type: integer, expected a string`;
/// `missing field `cvc`` names a field, not a value, and stays.
pub fn without_values(message: &str) -> String {
    let quotes_a_value = [
        "invalid type",
        "invalid value",
        "invalid length",
        "unknown variant",
    ]
    .iter()
    .any(|p| message.starts_with(p));
    if !quotes_a_value {
        return message.to_string();
    }
    // The value may itself hold `, expected`; what follows the last one is the type's own
    // words (serde writes `{unexpected}, expected {expected}`).
    let (head, tail) = match message.rfind(", expected") {
        Some(at) => message.split_at(at),
        None => (message, ""),
    };
    let mut out = strip_quoted(head);
    out.push_str(tail);
    out
}

/// `head` without its quoted value: from the first quote to the last of the same kind. The
/// value may hold that quote itself (escaped or not), so the first closing quote is not the end.
fn strip_quoted(head: &str) -> String {
    let Some(open) = head.find(['`', '"']) else {
        return head.to_string();
    };
    let quote = &head[open..open + 1];
    let mut out = head[..open].trim_end().to_string();
    // An unterminated quote: all that follows it could be the value.
    if let Some(close) = head.rfind(quote).filter(|&c| c > open) {
        out.push_str(&head[close + 1..]);
    }
    out
}

/// The path (`order.description`, `card.sender.name`) of the first string, key or value, that
/// holds a control character (a newline, a NUL, an escape…), if any. Text fields end up in
/// logs, CSV exports and callbacks, where such characters forge lines and columns.
pub fn control_character_at(value: &serde_json::Value) -> Option<String> {
    fn walk(v: &serde_json::Value, path: &str) -> Option<String> {
        let join = |k: &str| {
            if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            }
        };
        match v {
            serde_json::Value::String(s) if s.chars().any(char::is_control) => {
                Some(path.to_string())
            }
            serde_json::Value::Object(m) => m.iter().find_map(|(k, v)| {
                if k.chars().any(char::is_control) {
                    return Some(join("(a key)"));
                }
                walk(v, &join(k))
            }),
            serde_json::Value::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            _ => None,
        }
    }
    walk(value, "")
}

/// The path of the first JSON array that is not the value of one of the keys in `lists`
/// (`"the body"` when the body itself is one). serde reads a struct from an array as well,
/// field by field in order, so without this `[null, null]` would be taken for an object with
/// its first two fields absent, and `["100", "KZT"]` for an order. No ePay body sends an
/// object as an array; `lists` names the keys that do hold lists.
pub fn unexpected_array_at(value: &serde_json::Value, lists: &[&str]) -> Option<String> {
    fn walk(
        v: &serde_json::Value,
        path: &str,
        list_allowed: bool,
        lists: &[&str],
    ) -> Option<String> {
        match v {
            serde_json::Value::Array(_) if !list_allowed => Some(if path.is_empty() {
                "the body".to_string()
            } else {
                path.to_string()
            }),
            serde_json::Value::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"), false, lists)),
            serde_json::Value::Object(m) => m.iter().find_map(|(k, v)| {
                let path = if path.is_empty() {
                    k.to_string()
                } else {
                    format!("{path}.{k}")
                };
                walk(v, &path, lists.contains(&k.as_str()), lists)
            }),
            _ => None,
        }
    }
    walk(value, "", false, lists)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_only_where_a_list_is_expected() {
        let v = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap_or_default();
        assert_eq!(
            unexpected_array_at(&v("[null, null]"), &[]).as_deref(),
            Some("the body")
        );
        let order = v(r#"{"order": ["100", "KZT"], "card": {}}"#);
        assert_eq!(unexpected_array_at(&order, &[]).as_deref(), Some("order"));
        let search = v(r#"{"searchParameters": [{"name": "x", "searchParameter": [1, [2]]}]}"#);
        let lists = ["searchParameters", "searchParameter"];
        assert_eq!(
            unexpected_array_at(&search, &lists).as_deref(),
            Some("searchParameters[0].searchParameter[1]")
        );
        let fine = v(r#"{"searchParameters": [{"name": "x", "searchParameter": [1, "a"]}]}"#);
        assert_eq!(unexpected_array_at(&fine, &lists), None);
        assert_eq!(unexpected_array_at(&v(r#"{"a": {"b": 1}}"#), &[]), None);
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        assert!(unique_keys(br#"{"a":1,"b":[{"c":1,"d":2}]}"#).is_ok());
        let e = unique_keys(br#"{"order":{"amount":100,"amount":5000}}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("duplicate key \"amount\""), "{e}");
        assert!(e.contains("line 1"), "{e}");
        assert!(
            unique_keys(br#"[{"a":1},{"a":2}]"#).is_ok(),
            "separate objects"
        );
        assert!(unique_keys(b"{").is_err());
    }

    #[test]
    fn values_are_taken_out_of_messages() {
        assert_eq!(
            without_values("invalid type: integer `4405639704015096`, expected a string"),
            "invalid type: integer, expected a string"
        );
        assert_eq!(
            without_values("invalid value: string \"815\", expected 3 digits"),
            "invalid value: string, expected 3 digits"
        );
        assert_eq!(without_values("missing field `cvc`"), "missing field `cvc`");
        assert_eq!(
            without_values("unknown variant `X1`, expected `A` or `B`"),
            "unknown variant, expected `A` or `B`"
        );
    }

    /// Found by the `transfer_body` fuzz target: a value holding a quote (`"88…\"o…"`) ended
    /// the quoted span early, and the rest of the value was repeated in the refusal.
    #[test]
    fn a_value_holding_quotes_or_expected_is_taken_out_whole() {
        let sent = "4405639704015096\"x`y, expected 4405639704017622";
        let e = serde_json::from_value::<Option<u32>>(serde_json::Value::String(sent.into()))
            .map_err(|e| e.to_string())
            .unwrap_err();
        let shown = without_values(&e);
        assert_eq!(shown, "invalid type: string, expected u32");
        assert_eq!(
            without_values("invalid value: string \"4405639704015096"),
            "invalid value: string"
        );
    }

    #[test]
    fn control_characters_are_found_with_their_path() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"order":{"description":"ok","accountID":"a\nb"}}"#)
                .unwrap_or_default();
        assert_eq!(control_character_at(&v).as_deref(), Some("order.accountID"));
        let v: serde_json::Value =
            serde_json::from_str(r#"{"order":{"description":"ok ünïcode"}}"#).unwrap_or_default();
        assert_eq!(control_character_at(&v), None);
    }
}
