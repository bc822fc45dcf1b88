#![doc = include_str!("../README.md")]

pub mod callback;
pub mod card;
mod client;
pub mod config;
pub mod error;
pub mod money;
mod operations;
pub mod secure3d;
pub mod status;
pub mod token;
pub mod transfer;

pub use callback::{Callback, CallbackError, CallbackVerifier};
pub use card::{AccountId, CardId, CardNumber, Cvc, Expiry, InputError, InvoiceId, TerminalId};
pub use client::{Client, SandboxCard};
pub use config::{Config, Credentials, Endpoints, StatusPath, TransferPath};
pub use error::{ApiFailure, Error, Result, UnknownCause};
pub use money::{Amount, AmountError, Currency};
pub use secure3d::{Secure3dRequired, TransferOutcome};
pub use status::{TransactionStatus, TransferState, WaitOptions};
pub use token::AccessToken;
pub use transfer::{P2pTransfer, PhoneReceiver, Receipt, Receiver, Sender};

/// The wire types this client reads and writes, for callers who need the raw bodies.
pub use aqsha_wire as wire;

impl From<card::InputError> for Error {
    fn from(e: card::InputError) -> Error {
        Error::InvalidInput(e.to_string())
    }
}

impl From<money::AmountError> for Error {
    fn from(e: money::AmountError) -> Error {
        Error::InvalidInput(e.to_string())
    }
}
