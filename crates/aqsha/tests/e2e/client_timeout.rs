//! Unknown outcomes: a real proxy in front of a real server lets a transfer through to the
//! server and then withholds or replaces the answer (a timeout, a 502, a 500 with code 100, a
//! "poll" code 454). The client must report the outcome as unknown, never send the transfer
//! again, and `wait_for_final` must find what really happened. The sender's balance proves that
//! money moved exactly once.

use crate::common::cli::{Mode, Proxy};
use crate::common::client::config_with;
use crate::common::*;
use aqsha_client::{
    Amount, CardId, CardNumber, Client, Cvc, Endpoints, Error, Expiry, InvoiceId, P2pTransfer,
    Receiver, Sender, TransferState, UnknownCause, WaitOptions,
};
use std::time::Duration;

crate::tests! {
    sqlite: [
        timeout_after_the_server_charged_is_resolved_by_status_without_a_second_charge,
        bad_gateway_is_an_unknown_outcome,
        a_500_with_code_100_is_an_unknown_outcome,
        a_poll_code_is_an_unknown_outcome_not_a_decline,
        a_request_lost_before_the_server_is_not_found_and_moved_nothing,
        still_pending_when_the_deadline_passes_first,
        a_refused_connection_sends_nothing_and_says_so,
    ],
}

/// A client that gets tokens from the server directly and calls the API through the proxy,
/// with a short timeout so that a withheld answer becomes a timeout quickly.
fn client_via(s: &Server, proxy: &Proxy) -> Client {
    let endpoints = Endpoints::custom(&format!("{}/oauth2/token", s.url), &proxy.url).unwrap();
    Client::new(config_with(endpoints).with_timeout(Duration::from_secs(2))).unwrap()
}

fn transfer() -> P2pTransfer {
    P2pTransfer::new(
        InvoiceId::new(invoice()).unwrap(),
        Amount::parse("100").unwrap(),
        Sender::card(
            CardNumber::parse(VISA).unwrap(),
            Expiry::parse("01/25").unwrap(),
            Cvc::parse("815").unwrap(),
        ),
        Receiver::Saved(CardId::new(SAVED_RECEIVER).unwrap()),
    )
}

/// Sends one transfer through a proxy in `mode`, expects an unknown outcome whose cause
/// satisfies `cause_ok`, resolves it with `wait_for_final` and checks that exactly one charge
/// happened.
async fn unknown_then_resolved(backend: Backend, mode: Mode, cause_ok: fn(&UnknownCause) -> bool) {
    let s = Server::start(backend);
    let proxy = Proxy::start(&s.url, mode).await;
    let c = client_via(&s, &proxy);
    let before = s.balance(VISA_MASK).await;
    let t = transfer();

    let e = c.transfer(&t).await.unwrap_err();
    match &e {
        Error::OutcomeUnknown {
            invoice_id,
            terminal,
            cause,
        } => {
            assert_eq!(invoice_id, t.invoice_id.as_str());
            assert_eq!(terminal.as_deref(), Some(TERMINAL));
            assert!(cause_ok(cause), "{mode:?}: unexpected cause {cause:?}");
        }
        other => panic!("{mode:?}: expected OutcomeUnknown, got {other:?}"),
    }
    assert!(e.is_outcome_unknown() && !e.is_final());

    let st = c.wait_for_final(&t.invoice_id).await.unwrap();
    assert_eq!(st.state, TransferState::Charged, "{mode:?}");
    assert_eq!(st.amount(), Some(Amount::parse("100").unwrap()));
    assert_eq!(proxy.transfers(), 1, "{mode:?}: the transfer was sent once");
    assert_eq!(
        before - s.balance(VISA_MASK).await,
        19_500,
        "{mode:?}: charged exactly once (100 + 95 fee)"
    );
    s.assert_ledger_balanced().await;
}

async fn timeout_after_the_server_charged_is_resolved_by_status_without_a_second_charge(
    backend: Backend,
) {
    unknown_then_resolved(backend, Mode::HangAfterForward, |c| {
        matches!(c, UnknownCause::Timeout)
    })
    .await;
}

async fn bad_gateway_is_an_unknown_outcome(backend: Backend) {
    unknown_then_resolved(backend, Mode::BadGateway, |c| {
        matches!(
            c,
            UnknownCause::ServerError {
                http_status: 502,
                failure: None
            }
        )
    })
    .await;
}

async fn a_500_with_code_100_is_an_unknown_outcome(backend: Backend) {
    unknown_then_resolved(backend, Mode::ServerError, |c| {
        matches!(c, UnknownCause::ServerError { http_status: 500, failure: Some(f) } if f.code() == 100)
    })
    .await;
}

async fn a_poll_code_is_an_unknown_outcome_not_a_decline(backend: Backend) {
    unknown_then_resolved(
        backend,
        Mode::PollCode,
        |c| matches!(c, UnknownCause::PollCode(f) if f.code() == 454 && !f.is_final()),
    )
    .await;
}

async fn a_request_lost_before_the_server_is_not_found_and_moved_nothing(backend: Backend) {
    let s = Server::start(backend);
    let proxy = Proxy::start(&s.url, Mode::DropRequest).await;
    let c = client_via(&s, &proxy);
    let before = s.balance(VISA_MASK).await;
    let t = transfer();
    let e = c.transfer(&t).await.unwrap_err();
    assert!(
        matches!(
            &e,
            Error::OutcomeUnknown {
                cause: UnknownCause::Timeout,
                ..
            }
        ),
        "{e:?}"
    );
    // Not found for the whole grace period: the transfer never arrived.
    proxy.set_mode(Mode::Pass);
    let options = WaitOptions {
        deadline: Duration::from_secs(30),
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(500),
        not_found_after: Duration::from_secs(1),
    };
    let st = c
        .wait_for_final_with(None, &t.invoice_id, options)
        .await
        .unwrap();
    assert_eq!(st.state, TransferState::NotFound);
    assert_eq!(proxy.transfers(), 1);
    assert_eq!(s.balance(VISA_MASK).await, before);
}

async fn still_pending_when_the_deadline_passes_first(backend: Backend) {
    let s = Server::start(backend);
    let c = Client::new(config_with(Endpoints::aqsha(&s.url).unwrap())).unwrap();
    // An invoice nobody sent stays "not found"; with a grace period longer than the deadline
    // the answer is StillPending, never a guess.
    let options = WaitOptions {
        deadline: Duration::from_millis(500),
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(200),
        not_found_after: Duration::from_secs(60),
    };
    let e = c
        .wait_for_final_with(None, &InvoiceId::new(invoice()).unwrap(), options)
        .await
        .unwrap_err();
    match e {
        Error::StillPending { last, .. } => {
            assert_eq!(last.unwrap().state, TransferState::NotFound)
        }
        other => panic!("expected StillPending, got {other:?}"),
    }
}

async fn a_refused_connection_sends_nothing_and_says_so(backend: Backend) {
    let s = Server::start(backend);
    let nowhere = crate::common::receiver::free_port();
    let endpoints = Endpoints::custom(
        &format!("{}/oauth2/token", s.url),
        &format!("http://{nowhere}"),
    )
    .unwrap();
    let c = Client::new(config_with(endpoints)).unwrap();
    let before = s.balance(VISA_MASK).await;
    let e = c.transfer(&transfer()).await.unwrap_err();
    assert!(
        matches!(e, Error::Transport { timeout: false, .. }),
        "{e:?}"
    );
    assert!(!e.is_outcome_unknown());
    assert_eq!(s.balance(VISA_MASK).await, before);
}
