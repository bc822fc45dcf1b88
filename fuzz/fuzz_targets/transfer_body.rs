//! The transfer bodies (`POST /p2p/transfer`, `/payments/cards/auth`, and the one-sided
//! `/chdebit/transfer`, `/chpayment/transfer`): strict JSON reading (repeated keys, control
//! characters) and the typed request. Properties: a refusal never repeats a card number from
//! the body; an accepted request, serialized as the client sends it, is accepted again with
//! the same amount, and a second round trip changes nothing; its `Debug` never shows a card
//! number.
#![no_main]

use aqsha_core::money::Money;
use aqsha_fuzz::refusal_hides_card_numbers;
use aqsha_server::fuzzing::{one_side_request, transfer_request};
use aqsha_wire::transfer::CardSide;
use libfuzzer_sys::fuzz_target;

fn debug_hides_card_number(debug: &str, side: &CardSide) {
    let number = side.card_cred.as_str();
    let elsewhere = side.transfer_type.as_deref().unwrap_or("");
    if number.len() >= 12
        && number.bytes().all(|b| b.is_ascii_digit())
        && !elsewhere.contains(number)
    {
        assert!(
            !debug.contains(number),
            "Debug shows a card number: {debug}"
        );
    }
}

fn same_amount(a: &str, b: &str) {
    if let Ok(m) = Money::parse_positive(a) {
        assert_eq!(
            Money::parse_positive(b),
            Ok(m),
            "amount {a:?} came back as {b:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    if kind % 2 == 0 {
        match transfer_request(body) {
            Err(message) => refusal_hides_card_numbers(&message, body, &[]),
            Ok(req) => {
                let debug = format!("{:?}", req.card);
                debug_hides_card_number(&debug, &req.card.sender);
                debug_hides_card_number(&debug, &req.card.receiver);
                let sent = serde_json::to_vec(&req).unwrap_or_else(|e| panic!("{e}"));
                let again = transfer_request(&sent)
                    .unwrap_or_else(|e| panic!("the request as sent is refused: {e}"));
                same_amount(req.order.amount.as_str(), again.order.amount.as_str());
                let sent_again = serde_json::to_vec(&again).unwrap_or_else(|e| panic!("{e}"));
                let third = transfer_request(&sent_again).unwrap_or_else(|e| panic!("{e}"));
                let sent_third = serde_json::to_vec(&third).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    sent_again, sent_third,
                    "a second round trip changed the body"
                );
            }
        }
    } else {
        match one_side_request(body) {
            Err(message) => refusal_hides_card_numbers(&message, body, &[]),
            Ok(req) => {
                let sent = serde_json::to_vec(&req).unwrap_or_else(|e| panic!("{e}"));
                let again = one_side_request(&sent)
                    .unwrap_or_else(|e| panic!("the request as sent is refused: {e}"));
                same_amount(req.order.amount.as_str(), again.order.amount.as_str());
                assert_eq!(req.card.sender.is_some(), again.card.sender.is_some());
                assert_eq!(req.card.receiver.is_some(), again.card.receiver.is_some());
            }
        }
    }
});
