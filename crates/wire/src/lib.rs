//! The ePay wire format, as Aqsha speaks it.
//!
//! Every request, response and error body that crosses the API lives here, with ePay's
//! inconsistent field casing kept exactly per endpoint (`invoiceID` in the token form,
//! `invoiceId` in errors, `orderID`/`accountID`/`terminalID` in transfer responses, PascalCase in
//! the saved-card list). The crate does no I/O and knows nothing of the server, so the server and
//! the client share one definition of the contract.
//!
//! Amounts are carried as [`WireAmount`]: the decimal text of a JSON number or string, never a
//! float, so the domain can parse it into integer minor units without losing precision.

pub mod amount;
pub mod callback;
pub mod card;
pub mod codes;
pub mod json;
pub mod signature;
pub mod status;
pub mod token;
pub mod transfer;

pub use amount::WireAmount;
pub use codes::{reason, ReasonCode};
