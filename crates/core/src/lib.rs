#![doc = include_str!("../README.md")]

pub mod cabinet;
pub mod card;
pub mod fee;
pub mod invoice;
pub mod keyring;
pub mod limits;
pub mod money;
pub mod network;
pub mod outcomes;
pub mod provision;
pub mod records;
pub mod search;
pub mod seed;
pub mod stats;
pub mod store;
pub mod token;
pub mod transfer;
pub mod tx;
pub mod vault;

pub use money::{Currency, Money};
