//! `aqsha-client` values for the tests that drive the client crate against a real server.

use super::{invoice, Server, CLIENT_ID, CLIENT_SECRET, SAVED_RECEIVER, TERMINAL, VISA};
use aqsha_client::{
    Amount, CardId, CardNumber, Client, Config, Credentials, Cvc, Endpoints, Expiry, InvoiceId,
    P2pTransfer, Receiver, Sender, TerminalId,
};
use std::time::Duration;

/// The test merchant's credentials and default terminal at these endpoints.
pub fn config_with(endpoints: Endpoints) -> Config {
    Config::new(endpoints, Credentials::new(CLIENT_ID, CLIENT_SECRET))
        .with_terminal(TerminalId::new(TERMINAL).unwrap())
}

/// The test merchant on this server, with a timeout long enough for a loaded test machine.
pub fn config(s: &Server) -> Config {
    config_with(Endpoints::aqsha(&s.url).unwrap()).with_timeout(Duration::from_secs(30))
}

pub fn client(s: &Server) -> Client {
    Client::new(config(s)).unwrap()
}

pub fn inv() -> InvoiceId {
    InvoiceId::new(invoice()).unwrap()
}

pub fn amount(text: &str) -> Amount {
    Amount::parse(text).unwrap()
}

pub fn card_sender(pan: &str, cvc: &str, save: bool) -> Sender {
    Sender::Card {
        number: CardNumber::parse(pan).unwrap(),
        expiry: Expiry::parse("01/25").unwrap(),
        cvc: Cvc::parse(cvc).unwrap(),
        name: Some("Arman Ali".into()),
        save,
    }
}

pub fn visa(save: bool) -> Sender {
    card_sender(VISA, "815", save)
}

pub fn saved(id: &str) -> CardId {
    CardId::new(id).unwrap()
}

/// A fresh order of `amount` from the seed's VISA to the seed's saved receiving card.
pub fn visa_to_saved(amount_text: &str) -> P2pTransfer {
    P2pTransfer::new(
        inv(),
        amount(amount_text),
        visa(false),
        Receiver::Saved(saved(SAVED_RECEIVER)),
    )
}
