//! Aqsha's domain: money, cards, the vault's cryptography, fees, the transfer algorithm and the
//! store interface it runs against. No I/O lives here; the store and server crates supply it.

pub mod card;
pub mod fee;
pub mod keyring;
pub mod money;
pub mod network;
pub mod sandbox;
pub mod store;
pub mod token;
pub mod transfer;
pub mod vault;

pub use money::{Currency, Money};
