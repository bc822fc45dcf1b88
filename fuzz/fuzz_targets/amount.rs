//! Amounts: the domain's `Money::parse_positive` (token requests, transfers, limits, the
//! hosted form), the client's `Amount`, and `WireAmount` (JSON numbers and strings).
//! Properties: a parsed amount prints back to the same value; the client and the server
//! accept the same texts (but a leading `+`, which only the server takes) with the same value;
//! every amount survives the wire (text → JSON number → text) unchanged.
#![no_main]

use aqsha_client::Amount;
use aqsha_core::money::{Money, MAX_MINOR};
use aqsha_wire::WireAmount;
use libfuzzer_sys::fuzz_target;

fn through_the_wire(m: Money) -> Money {
    let json =
        serde_json::to_string(&WireAmount::new(m.to_string())).unwrap_or_else(|e| panic!("{e}"));
    let back: WireAmount = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    Money::parse_positive(back.as_str()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fuzz_target!(|data: &[u8]| {
    // JSON as a body carries an amount: a number or a string.
    if let Ok(w) = serde_json::from_slice::<WireAmount>(data) {
        if let Ok(m) = Money::parse_positive(w.as_str()) {
            assert_eq!(through_the_wire(m), m);
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let server = Money::parse_positive(text);
    if let Ok(m) = server {
        assert!((1..=MAX_MINOR).contains(&m.minor()));
        assert_eq!(
            Money::parse_positive(&m.to_string()),
            Ok(m),
            "{text:?} shown as {m}"
        );
        assert_eq!(through_the_wire(m), m);
    }
    let client = Amount::parse(text);
    if let Ok(a) = client {
        assert_eq!(Amount::parse(&a.to_string()), Ok(a));
        assert_eq!(Amount::from_wire(&a.to_wire()), Ok(a));
    }
    if !text.trim_start().starts_with('+') {
        assert_eq!(
            server.ok().map(Money::minor),
            client.ok().map(Amount::minor),
            "client and server read {text:?} differently"
        );
    }
});
