//! Operations: what the server does once a request is understood, callable from any front.
//!
//! A route in `src/routes/` reads the HTTP request (headers, body, JSON rules) and answers
//! in the API's shape; a page in [`crate::pages`] reads a form and answers in HTML. Both call the
//! same function here with typed input and [`crate::App`], so a rule is written once and the
//! hosted payment form (issue 15) charges exactly as `POST /payments/cards/auth` does.
//!
//! - [`card`]: a card number turned into what the rest of the system may hold (the merchant's
//!   fingerprint, a sealed blob, a CVC check value). The plain number goes no further.
//! - [`transfer`]: open the token, build both card sides, run the transfer in the store.
//!
//! Errors are [`EpayError`](crate::error::EpayError)s: they carry the reason code and HTTP
//! status the API sends, and a page maps the code to a message in its own language.

pub mod card;
pub mod transfer;
