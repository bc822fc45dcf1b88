//! Invoice numbers: what a valid one looks like, and the invoice-tail rule's key.
//!
//! A leaf module: the records (an operation's tail key), the transfer rules and the store's
//! batch locks all derive the same key from here, so the rule is written once.

use chrono::{DateTime, Utc};

/// (terminal, day, last six digits of the invoice): an invoice-tail rule's key. Two charged
/// invoices of one terminal and day may not share it (docs/protocol.md#tokens).
pub type TailKey = (String, String, String);

/// The order number: digits only, at least 6. The seed's text says "from 6 to 15 digits", but
/// the seed's own transfer example uses a 16-digit order id (`8161284658529816`), and the seed
/// must work verbatim — so up to 16 digits are accepted.
pub fn valid_invoice(id: &str) -> bool {
    (6..=16).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// The calendar day (UTC) the invoice-tail rule counts in.
pub fn day_of(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%d").to_string()
}

/// The last six digits of an invoice longer than six, which must be unique per terminal and
/// day (docs/protocol.md#tokens); `None` for a six-digit invoice, which is its own tail.
pub fn invoice_tail(invoice_id: &str) -> Option<&str> {
    (invoice_id.len() > 6)
        .then(|| invoice_id.get(invoice_id.len() - 6..))
        .flatten()
}

/// The tail key of an invoice on a terminal at a time; `None` when the invoice has no tail.
pub fn tail_key(terminal_id: &str, invoice_id: &str, at: DateTime<Utc>) -> Option<TailKey> {
    invoice_tail(invoice_id).map(|tail| (terminal_id.to_string(), day_of(at), tail.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoices_and_their_tails() {
        assert!(valid_invoice("000001") && valid_invoice("8161284658529816"));
        assert!(!valid_invoice("12345") && !valid_invoice("12345678901234567"));
        assert!(!valid_invoice("12345a"));
        assert_eq!(invoice_tail("8161284658529816"), Some("529816"));
        assert_eq!(invoice_tail("123456"), None);
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        assert_eq!(
            tail_key("t", "0001234567", at),
            Some(("t".into(), "2023-11-14".into(), "234567".into()))
        );
    }
}
