//! The `aqsha-client` crate and 3-D Secure against a real server: a transfer (and an AFT) from
//! the seed's enrolled card is a `TransferOutcome::Secure3d` with what the browser needs, never
//! a receipt; the cardholder's answer at the ACS then settles it, and the client learns how by
//! status.

use crate::common::client::*;
use crate::common::*;
use crate::secure3d::{cardholder_answers, ENROLLED};
use aqsha_client::{
    CardNumber, Cvc, Expiry, P2pTransfer, Receiver, Secure3dRequired, Sender, TransferOutcome,
    TransferState,
};
use reqwest::StatusCode;

crate::tests! {
    both: [
        an_enrolled_sender_is_a_secure3d_outcome_until_the_cardholder_passes,
        a_secure3d_aft_cancelled_by_the_cardholder_is_declined_with_473,
    ],
}

const ENROLLED_MASK: &str = "440563...3001";

/// The seed's enrolled card as a sender (docs/sandbox.md: 12/30, CVC 300).
fn enrolled() -> Sender {
    Sender::card(
        CardNumber::parse(ENROLLED).unwrap(),
        Expiry::parse("12/30").unwrap(),
        Cvc::parse("300").unwrap(),
    )
}

fn waiting(outcome: TransferOutcome) -> Secure3dRequired {
    match outcome {
        TransferOutcome::Secure3d(s) => s,
        other => panic!("expected a 3-D Secure outcome, got {other:?}"),
    }
}

async fn an_enrolled_sender_is_a_secure3d_outcome_until_the_cardholder_passes(backend: Backend) {
    let s = Server::start(backend);
    let c = client(&s);
    let before = s.balance(ENROLLED_MASK).await;
    let mut t = P2pTransfer::new(
        inv(),
        amount("1000"),
        enrolled(),
        Receiver::card(CardNumber::parse(VISA).unwrap()),
    );
    t.back_link = Some("https://shop.example/back".into());
    let outcome = c.transfer(&t).await.unwrap();
    assert!(outcome.receipt().is_none(), "{outcome:?}");
    let w = waiting(outcome);
    assert_eq!(w.acs_url(), s.path("/acs/"));
    assert_eq!(
        w.challenge.term_url,
        s.path("/payments/cards/confirmPayment")
    );
    assert_eq!(w.challenge.md, w.operation_id());
    assert!(!w.challenge.pa_req.is_empty());
    assert_eq!((w.amount, w.fee), (amount("1000"), amount("95")));
    assert_eq!(w.invoice_id(), Some(t.invoice_id.clone()));
    assert_eq!(
        (w.response.status.as_str(), w.response.reference.as_str()),
        ("NEW", "")
    );
    assert_eq!(w.response.sender_card_pan, ENROLLED_MASK);
    // Nothing moved, and the status says it is not finished.
    assert_eq!(s.balance(ENROLLED_MASK).await, before);
    let st = c.status(&t.invoice_id).await.unwrap();
    assert_eq!(st.state, TransferState::Pending, "{st:?}");

    let (status, location) = cardholder_answers(&s, w.acs_url(), &w.form_fields(), "123456").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let st = c.wait_for_final(&t.invoice_id).await.unwrap();
    assert_eq!(st.state, TransferState::Charged, "{st:?}");
    let reference = &st.transaction().unwrap().reference;
    assert_eq!(
        location,
        format!("https://shop.example/back?reference={reference}")
    );
    assert_eq!(before - s.balance(ENROLLED_MASK).await, 100_000 + 9_500);
    s.assert_ledger_balanced().await;
}

async fn a_secure3d_aft_cancelled_by_the_cardholder_is_declined_with_473(backend: Backend) {
    let s = Server::start(backend);
    let c = client(&s);
    let before = s.balance(ENROLLED_MASK).await;
    let t = P2pTransfer::fund(inv(), amount("500"), enrolled());
    let w = waiting(c.transfer(&t).await.unwrap());
    assert_eq!(w.response.status, "NEW");
    assert_eq!(w.acs_url(), s.path("/acs/"));
    // No back link in the order: the ACS's return ends on a page of its own.
    let (status, _) = cardholder_answers(&s, w.acs_url(), &w.form_fields(), "").await;
    assert!(status.is_success(), "{status}");
    let st = c.wait_for_final(&t.invoice_id).await.unwrap();
    assert!(
        matches!(st.state, TransferState::Declined { code: 473, .. }),
        "{st:?}"
    );
    assert_eq!(st.transaction().unwrap().status_name, "3D");
    assert_eq!(s.balance(ENROLLED_MASK).await, before);
}
