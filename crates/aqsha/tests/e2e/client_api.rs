//! The `aqsha-client` crate against a real Aqsha server on loopback: tokens, the four card
//! combinations with saving, both transfer and both status paths, declines with their codes,
//! saved cards (callback verification is in `client_callbacks`).

use crate::common::client::*;
use crate::common::*;
use aqsha_client::{
    AccountId, CardNumber, Client, Credentials, Cvc, Endpoints, Error, Expiry, P2pTransfer,
    Receiver, Sender, StatusPath, TerminalId, TransferPath, TransferState, WaitOptions,
};
use std::time::Duration;

crate::tests! {
    sqlite: [
        transfer_tokens_are_per_operation_and_service_tokens_are_cached,
        a_service_token_close_to_expiry_is_replaced,
        four_card_combinations_with_save_on_both_transfer_paths,
        status_on_both_paths_and_declines_with_code_meaning_and_finality,
        saved_cards_are_listed_and_deactivated,
        epay_style_endpoints_with_separate_token_path_and_api_prefix,
    ],
}

async fn transfer_tokens_are_per_operation_and_service_tokens_are_cached(backend: Backend) {
    let s = Server::start(backend);
    let c = client(&s);
    let t = visa_to_saved("100");
    let a = c.transfer_token(&t).await.unwrap();
    let b = c.transfer_token(&t).await.unwrap();
    assert_ne!(a.secret(), b.secret(), "a fresh token for every operation");
    assert_eq!(a.scope(), "transfer");
    assert_eq!(a.expires_in, 7200);
    assert_eq!(
        a.response.expires_in, "7200",
        "Aqsha sends expires_in as text"
    );
    assert!(
        !format!("{a:?}").contains(a.secret()),
        "Debug hides the token"
    );

    let term = TerminalId::new(TERMINAL).unwrap();
    let s1 = c.service_token(Some(&term)).await.unwrap();
    let s2 = c.service_token(Some(&term)).await.unwrap();
    assert_eq!(s1.secret(), s2.secret(), "service token cached");
    assert_eq!(s1.scope(), aqsha_client::token::SERVICE_SCOPE);
    let other = c
        .service_token(Some(&TerminalId::new(TERMINAL_2).unwrap()))
        .await
        .unwrap();
    assert_ne!(other.secret(), s1.secret(), "cached per terminal");

    // Bad credentials: an OAuth error, final, nothing else tried.
    let mut bad = config(&s);
    bad.credentials = Credentials::new(CLIENT_ID, "wrong");
    let e = Client::new(bad).unwrap().transfer(&t).await.unwrap_err();
    match &e {
        Error::OAuth {
            http_status, error, ..
        } => {
            assert_eq!(*http_status, 401);
            assert_eq!(error, "invalid_client");
        }
        other => panic!("expected an OAuth error, got {other:?}"),
    }
    assert!(e.is_final() && !e.is_outcome_unknown());

    // A terminal that is not the merchant's is refused at token time.
    let t2 = t
        .clone()
        .terminal(TerminalId::new("00000000-0000-0000-0000-000000000000").unwrap());
    assert!(matches!(
        c.transfer(&t2).await,
        Err(Error::OAuth {
            http_status: 400,
            ..
        })
    ));
}

async fn a_service_token_close_to_expiry_is_replaced(backend: Backend) {
    // Tokens live 30 s here; a client that refreshes 60 s before expiry never reuses one,
    // one that refreshes 5 s before does.
    let s = Server::start_configured(backend, |c| c.token_ttl_secs = 30);
    let term = TerminalId::new(TERMINAL).unwrap();
    let eager = client(&s);
    let a = eager.service_token(Some(&term)).await.unwrap();
    let b = eager.service_token(Some(&term)).await.unwrap();
    assert_eq!(a.expires_in, 30);
    assert_ne!(a.secret(), b.secret());
    let mut cfg = config(&s);
    cfg.token_refresh_margin = Duration::from_secs(5);
    let lazy = Client::new(cfg).unwrap();
    let a = lazy.service_token(Some(&term)).await.unwrap();
    let b = lazy.service_token(Some(&term)).await.unwrap();
    assert_eq!(a.secret(), b.secret());
    // The cached token works for status.
    let st = lazy.status(&inv()).await.unwrap();
    assert_eq!(st.state, TransferState::NotFound);
}

async fn four_card_combinations_with_save_on_both_transfer_paths(backend: Backend) {
    let s = Server::start(backend);
    let c = client(&s);
    let mut p2p_cfg = config(&s);
    p2p_cfg.transfer_path = TransferPath::P2pTransfer;
    p2p_cfg.multipart_token_requests = true;
    let c_p2p = Client::new(p2p_cfg).unwrap();
    let visa0 = s.balance(VISA_MASK).await;
    let mc0 = s.balance(MASTERCARD_MASK).await;
    let account = AccountId::new("testUser1").unwrap();

    // 1. Card number -> saved card, saving the sender (the seed's flow).
    let t1 = P2pTransfer::new(
        inv(),
        amount("100"),
        visa(true),
        Receiver::Saved(saved(SAVED_RECEIVER)),
    )
    .account_id(account.clone())
    .description("Test p2p payment")
    .sender_email("dosbols@halykbank.kz");
    let r1 = c.transfer(&t1).await.unwrap().into_receipt().unwrap();
    assert_eq!(r1.status(), "CHARGE");
    assert_eq!(r1.amount, amount("100"));
    assert_eq!(r1.fee, amount("95"));
    assert_eq!(r1.total(), Some(amount("195")));
    assert_eq!(r1.response.order_id, t1.invoice_id.as_str());
    assert_eq!(r1.response.sender_card_pan, VISA_MASK);
    assert_eq!(r1.response.sender_transfer_type, "TYPEPAN");
    assert_eq!(r1.response.receiver_transfer_type, "TYPECARDID");
    assert_eq!(r1.response.terminal_id, TERMINAL);
    let visa_id = r1.sender_card_id().expect("sender card saved");

    // 2. Card number -> card number, saving the receiver, via /p2p/transfer and multipart.
    let t2 = P2pTransfer::new(
        inv(),
        amount("100"),
        card_sender(MASTERCARD, "525", false),
        Receiver::Card {
            number: CardNumber::parse(VISA).unwrap(),
            save: true,
        },
    )
    .account_id(AccountId::new("acct-receiver").unwrap());
    let r2 = c_p2p.transfer(&t2).await.unwrap().into_receipt().unwrap();
    assert_eq!(r2.response.receiver_transfer_type, "TYPEPAN");
    assert_eq!(r2.response.receiver_card_pan, VISA_MASK);
    assert!(r2.receiver_card_id().is_some(), "receiver card saved");
    assert!(r2.sender_card_id().is_none());

    // 3. Saved card -> card number.
    let t3 = P2pTransfer::new(
        inv(),
        amount("100"),
        Sender::Saved(visa_id.clone()),
        Receiver::card(CardNumber::parse(MASTERCARD).unwrap()),
    )
    // A saved card pays only for the customer it was saved for.
    .account_id(account.clone());
    let r3 = c.transfer(&t3).await.unwrap().into_receipt().unwrap();
    assert_eq!(r3.response.sender_transfer_type, "TYPECARDID");
    assert_eq!(r3.response.sender_card_id, visa_id.as_str());
    assert_eq!(r3.response.receiver_card_pan, MASTERCARD_MASK);

    // 4. Saved card -> saved card, with a fraction of a tenge.
    let t4 = P2pTransfer::new(
        inv(),
        amount("20000.50"),
        Sender::Saved(visa_id.clone()),
        Receiver::Saved(saved(SAVED_RECEIVER)),
    )
    .account_id(account.clone());
    let r4 = c_p2p.transfer(&t4).await.unwrap().into_receipt().unwrap();
    assert_eq!(r4.amount, amount("20000.50"));
    // 0.95% of 20000.50 is 190.00475; the fee is whole tiyn.
    assert!(
        r4.fee >= amount("190") && r4.fee <= amount("190.01"),
        "{:?}",
        r4.fee
    );
    assert_eq!(r4.response.receiver_card_id, SAVED_RECEIVER);

    // Balances moved exactly once per transfer.
    let visa_delta = -19_500 + 10_000 - 19_500 - r4.total().unwrap().minor();
    let mc_delta = -19_500 + 10_000;
    assert_eq!(s.balance(VISA_MASK).await - visa0, visa_delta);
    assert_eq!(s.balance(MASTERCARD_MASK).await - mc0, mc_delta);
    s.assert_ledger_balanced().await;
}

async fn status_on_both_paths_and_declines_with_code_meaning_and_finality(backend: Backend) {
    let s = Server::start(backend);
    let c = client(&s);
    let t = P2pTransfer::new(
        inv(),
        amount("100"),
        visa(false),
        Receiver::card(CardNumber::parse(MASTERCARD).unwrap()),
    );
    let receipt = c.transfer(&t).await.unwrap().into_receipt().unwrap();

    let st = c.status(&t.invoice_id).await.unwrap();
    assert_eq!(st.state, TransferState::Charged);
    assert!(st.is_final());
    assert_eq!(st.amount(), Some(amount("100")));
    assert_eq!(st.fee(), Some(amount("95")));
    assert_eq!(st.transaction().unwrap().id, receipt.response.id);
    assert_eq!(st.response.result_code, "100");
    let st2 = c
        .status_on(None, StatusPath::Payment, &t.invoice_id)
        .await
        .unwrap();
    assert_eq!(st2.state, TransferState::Charged);
    assert_eq!(st2.transaction(), st.transaction());
    // Another terminal does not see it; an unknown invoice is not found.
    let other = TerminalId::new(TERMINAL_2).unwrap();
    let st3 = c
        .status_on(Some(&other), StatusPath::P2p, &t.invoice_id)
        .await
        .unwrap();
    assert_eq!(st3.state, TransferState::NotFound);
    assert_eq!(
        c.status(&inv()).await.unwrap().state,
        TransferState::NotFound
    );
    // wait_for_final: immediate for a final state, NotFound once the grace period is over.
    assert_eq!(
        c.wait_for_final(&t.invoice_id).await.unwrap().state,
        TransferState::Charged
    );
    let quick = WaitOptions {
        deadline: Duration::from_secs(10),
        not_found_after: Duration::ZERO,
        ..WaitOptions::default()
    };
    assert_eq!(
        c.wait_for_final_with(None, &inv(), quick)
            .await
            .unwrap()
            .state,
        TransferState::NotFound
    );

    // A wrong CVC: declined with 466, final, nothing moved, recorded in status.
    let visa0 = s.balance(VISA_MASK).await;
    let bad = P2pTransfer::new(
        inv(),
        amount("100"),
        card_sender(VISA, "111", false),
        Receiver::card(CardNumber::parse(MASTERCARD).unwrap()),
    );
    let e = c.transfer(&bad).await.unwrap_err();
    let Error::Api(f) = &e else {
        panic!("expected a decline, got {e:?}")
    };
    assert_eq!(f.code(), 466);
    assert_eq!(f.meaning(), "Declined by issuer");
    assert!(f.is_final());
    assert_eq!(f.http_status, 400);
    assert_eq!(f.body.invoice_id, bad.invoice_id.as_str());
    assert_eq!(e.reason_code(), Some(466));
    assert!(e.is_final() && !e.is_outcome_unknown());
    assert!(e
        .to_string()
        .contains("code 466 (Declined by issuer, final)"));
    assert_eq!(s.balance(VISA_MASK).await, visa0);
    let st = c.status(&bad.invoice_id).await.unwrap();
    assert!(
        matches!(&st.state, TransferState::Declined { code: 466, reason: Some(r), .. } if r.is_final),
        "{st:?}"
    );
    assert!(st.is_final());

    // Insufficient funds on a fresh card: 484.
    let poor = s.issue_card("12/30", "123", "50", false).await;
    let e = c
        .transfer(&P2pTransfer::new(
            inv(),
            amount("100"),
            Sender::card(
                CardNumber::parse(&poor).unwrap(),
                Expiry::parse("12/30").unwrap(),
                Cvc::parse("123").unwrap(),
            ),
            Receiver::card(CardNumber::parse(MASTERCARD).unwrap()),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.reason_code(), Some(484), "{e:?}");
    assert_eq!(e.reason().unwrap().message, "Insufficient funds");

    // Bad input is caught before anything is sent.
    let unsaved = P2pTransfer::new(
        inv(),
        amount("100"),
        visa(true),
        Receiver::card(CardNumber::parse(MASTERCARD).unwrap()),
    );
    assert!(matches!(
        c.transfer(&unsaved).await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(
        c.status(&unsaved.invoice_id).await.unwrap().state,
        TransferState::NotFound
    );
}

async fn saved_cards_are_listed_and_deactivated(backend: Backend) {
    let s = Server::start(backend);
    let c = client(&s);
    let account = AccountId::new("acct-cards-1").unwrap();
    assert!(c.saved_cards(&account).await.unwrap().is_empty());

    let t = P2pTransfer::new(
        inv(),
        amount("100"),
        card_sender(MASTERCARD, "525", true),
        Receiver::Saved(saved(SAVED_RECEIVER)),
    )
    .account_id(account.clone());
    let id = c
        .transfer(&t)
        .await
        .unwrap()
        .into_receipt()
        .unwrap()
        .sender_card_id()
        .unwrap();

    let cards = c.saved_cards(&account).await.unwrap();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].id, id.as_str());
    assert_eq!(cards[0].card_mask, MASTERCARD_MASK);
    assert_eq!(cards[0].account_id, account.as_str());
    assert!(cards[0].payment_available);
    // The seed's receiver card is listed for its account.
    let seed = c
        .saved_cards(&AccountId::new("testUser1").unwrap())
        .await
        .unwrap();
    assert!(seed.iter().any(|c| c.id == SAVED_RECEIVER));

    let r = c.deactivate_card(&id).await.unwrap();
    assert_eq!(r.status, "card successfully deactivated");
    assert!(c.saved_cards(&account).await.unwrap().is_empty());
    let again = c.deactivate_card(&id).await.unwrap_err();
    assert_eq!(again.reason_code(), Some(487));
    assert!(again.is_final());
    // A deactivated card cannot pay.
    let e = c
        .transfer(&P2pTransfer::new(
            inv(),
            amount("100"),
            Sender::Saved(id),
            Receiver::card(CardNumber::parse(VISA).unwrap()),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.reason_code(), Some(487));
}

async fn epay_style_endpoints_with_separate_token_path_and_api_prefix(backend: Backend) {
    // ePay's test layout: the token at /epay2/oauth2/token, the API under /api. Aqsha serves
    // both, so the same client configuration shape works against it.
    let s = Server::start(backend);
    let mut cfg = config(&s);
    cfg.endpoints = Endpoints::custom(
        &format!("{}/epay2/oauth2/token", s.url),
        &format!("{}/api", s.url),
    )
    .unwrap();
    assert!(cfg.endpoints.sandbox_base.is_none());
    let c = Client::new(cfg).unwrap();
    let t = visa_to_saved("150.5");
    let r = c.transfer(&t).await.unwrap().into_receipt().unwrap();
    assert_eq!(r.amount, amount("150.50"));
    assert_eq!(
        c.status(&t.invoice_id).await.unwrap().state,
        TransferState::Charged
    );
    // Without a sandbox base there is no callback key to fetch.
    assert!(matches!(
        c.sandbox_callback_secret().await,
        Err(Error::Config(_))
    ));
}
