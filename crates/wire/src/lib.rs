#![doc = include_str!("../README.md")]

pub mod amount;
pub mod callback;
pub mod card;
pub mod codes;
pub mod json;
pub mod operations;
pub mod signature;
pub mod status;
pub mod token;
pub mod transfer;

pub use amount::WireAmount;
pub use codes::{reason, ReasonCode};
