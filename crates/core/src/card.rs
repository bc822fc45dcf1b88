//! Card numbers, CVCs, expiry dates and brands, in types that never show the secret ones.
//!
//! They live in `aqsha_wire::card`, where the client reaches them too; the domain uses them
//! under this name so that `crate::card::Pan` reads as what it is. The mask-hiding and
//! form-checking tests are there.

pub use aqsha_wire::card::{Brand, CardFormatError, Cvc, Expiry, Pan};
