//! A typed async client for Halyk ePay's P2P transfer API, and for any Aqsha server.
//!
//! The same [`Client`] talks to ePay's test and production hosts ([`Endpoints::epay_test`],
//! [`Endpoints::epay_production`]; ePay puts OAuth and the API on different hosts, and its test
//! API under an `/api` prefix) and to an Aqsha server by its base URL ([`Endpoints::aqsha`]).
//!
//! # What it gets right
//!
//! - **A token per operation.** A transfer token is bound to the transfer's invoice, amount,
//!   currency and terminal and is spent by it; [`Client::transfer`] gets a fresh one for each
//!   transfer. Read-only calls (status, saved cards) use a *service* token
//!   ([`token::SERVICE_SCOPE`]), cached per terminal until shortly before it expires.
//!   `expires_in` is read whether it comes as `7200` or `"7200"`.
//! - **No double charges.** A transfer whose outcome is unknown — a timeout, a 5xx, a "poll"
//!   reason code — comes back as [`Error::OutcomeUnknown`] and is never re-sent with a new
//!   token. [`Client::wait_for_final`] polls the status with backoff until the outcome is
//!   final.
//! - **Errors that say what happened.** [`Error::Api`] carries the reason code, its meaning
//!   and whether it is final, from the table in [`aqsha_wire::codes`].
//! - **Exact money, masked cards.** [`Amount`] is an integer count of minor units, parsed and
//!   shown as decimal text without floats. [`CardNumber`] and [`Cvc`] never show themselves in
//!   `Debug` output.
//! - **Timeouts on every call** ([`Config::timeout`]) and no panics.
//! - **Callbacks.** [`CallbackVerifier`] parses a postLink body, checks `secret_hash` in
//!   constant time and verifies Aqsha's `X-Aqsha-Signature` with a timestamp tolerance.
//!
//! # Example
//!
//! A transfer from a card number to a saved card on a local Aqsha sandbox, resolving an unknown
//! outcome by status instead of a second attempt:
//!
//! ```no_run
//! use aqsha_client::{
//!     AccountId, Amount, CardId, CardNumber, Client, Config, Credentials, Cvc, Endpoints,
//!     Error, Expiry, InvoiceId, P2pTransfer, Receiver, Sender, TerminalId, TransferState,
//! };
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new(
//!     Endpoints::aqsha("http://127.0.0.1:8080")?,
//!     Credentials::new("test", "yF587AV9Ms94qN2QShFzVR3vFnWkhjbAK3sG"),
//! )
//! .with_terminal(TerminalId::new("67e34d63-102f-4bd1-898e-370781d0074d")?);
//! let client = Client::new(config)?;
//!
//! let transfer = P2pTransfer::new(
//!     InvoiceId::generate(),
//!     Amount::parse("100")?,
//!     Sender::card(
//!         CardNumber::parse("4405639704015096")?,
//!         Expiry::parse("01/25")?,
//!         Cvc::parse("815")?,
//!     ),
//!     Receiver::Saved(CardId::new("fcf69516-f7e8-9b14-e053-1d1a000aef2f")?),
//! )
//! .account_id(AccountId::new("testUser1")?);
//!
//! match client.transfer(&transfer).await {
//!     Ok(receipt) => println!("{} charged, fee {}", receipt.amount, receipt.fee),
//!     Err(Error::Api(declined)) => {
//!         // Final: nothing moved. The code, its meaning and its finality are all here.
//!         println!("declined: {} {}", declined.code(), declined.meaning());
//!     }
//!     Err(e) if e.is_outcome_unknown() => {
//!         // Never send it again: ask what happened.
//!         let status = client.wait_for_final(&transfer.invoice_id).await?;
//!         match status.state {
//!             TransferState::Charged => println!("it went through after all"),
//!             other => println!("final state: {}", other.name()),
//!         }
//!     }
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Money and callbacks need no network:
//!
//! ```
//! use aqsha_client::{Amount, CallbackVerifier};
//!
//! let amount = Amount::parse("12.22").unwrap();
//! assert_eq!(amount.minor(), 1_222);
//! assert_eq!(amount.checked_add(Amount::parse("95").unwrap()).unwrap().to_string(), "107.22");
//!
//! let body = br#"{"id":"op","dateTime":"2025-01-01T00:00:00Z","invoiceId":"123456",
//!   "amount":100,"currency":"KZT","terminal":"t","accountId":"","description":"",
//!   "language":"rus","cardMask":"440563...5096","cardType":"VISA","issuer":"","reference":"",
//!   "approvalCode":"","secure":"No","code":"ok","reason":"Success","reasonCode":0,"name":"",
//!   "email":"","phone":"","cardId":"","secret_hash":"s3cr3t"}"#;
//! let now = 1_700_000_000;
//! let header = aqsha_client::wire::signature::sign("whsec_key", now, body);
//! let callback = CallbackVerifier::new()
//!     .secret_hash("s3cr3t")
//!     .signing_secret("whsec_key")
//!     .verify_at(Some(&header), body, now)
//!     .unwrap();
//! assert!(callback.is_success());
//! assert_eq!(callback.amount.to_string(), "100");
//! ```

pub mod callback;
pub mod card;
mod client;
pub mod config;
pub mod error;
pub mod money;
pub mod status;
pub mod token;
pub mod transfer;

pub use callback::{Callback, CallbackError, CallbackVerifier};
pub use card::{AccountId, CardId, CardNumber, Cvc, Expiry, InputError, InvoiceId, TerminalId};
pub use client::Client;
pub use config::{Config, Credentials, Endpoints, StatusPath, TransferPath};
pub use error::{ApiFailure, Error, Result, UnknownCause};
pub use money::{Amount, AmountError, Currency};
pub use status::{TransactionStatus, TransferState, WaitOptions};
pub use token::AccessToken;
pub use transfer::{P2pTransfer, Receipt, Receiver, Sender};

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
