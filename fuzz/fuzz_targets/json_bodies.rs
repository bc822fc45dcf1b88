//! The other JSON bodies Aqsha reads from outside: the operations search (`POST
//! /p2p/operations`, with its search grammar), a sandbox card and a terminal's limits, and a
//! callback as Aqsha's client reads it (`CallbackVerifier`, no signing key). Properties: no
//! panic; a refusal never repeats a card number from the body; an accepted callback's amount
//! is the one its body carries.
#![no_main]

use aqsha_client::callback::CallbackVerifier;
use aqsha_client::money::Amount;
use aqsha_fuzz::refusal_hides_card_numbers;
use aqsha_server::fuzzing::{limits, operations_search, sandbox_card};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    // The search names back, cut to 40 characters, a grammar word it does not know and a
    // search value it cannot read (a date, an amount): the merchant's own search terms, by
    // design. The rule is for the other values.
    let mut named: &[&str] = &[];
    let refused = match kind % 4 {
        0 => {
            named = &["name", "method", "field", "typeOrder", "searchParameter"];
            operations_search(body).err()
        }
        1 => sandbox_card(body).err(),
        2 => limits(body).err(),
        _ => {
            if let Ok(cb) = CallbackVerifier::new().verify_at(None, body, 1_700_000_000) {
                assert!(!cb.signature_verified && !cb.secret_hash_verified);
                assert_eq!(Amount::from_wire(&cb.body.amount), Ok(cb.amount));
            }
            None
        }
    };
    if let Some(message) = refused {
        refusal_hides_card_numbers(&message, body, named);
    }
});
