//! Aqsha's domain: money, cards, the vault's cryptography, fees, the transfer algorithm and the
//! store interface it runs against. No I/O lives here; the store and server crates supply it.
//!
//! Modules depend on each other in one direction only; each uses only those above it:
//!
//! 1. `money`, `card`, `invoice` — values and their arithmetic (leaves); `limits` — a
//!    terminal's limits and their counters' keys (money, invoice).
//! 2. `fee` (money); `vault` (card); `keyring` (vault); `network` (card, money, vault).
//! 3. `records` — plain data the store keeps (card, fee, money, vault, invoice).
//! 4. `token` — sealed token claims (money, vault); `search` — the operations search as a
//!    typed query (money, records).
//! 5. `tx` — the transfer's unit of work and the store's errors (records).
//! 6. `provision` — new merchants, terminals and cards (records, vault); `seed` — the
//!    sandbox's data (provision).
//! 7. `transfer` — the transfer rules (records, token, tx, vault).
//! 8. `store` — the [`store::Store`] the server talks to (records, tx, provision, transfer).

pub mod card;
pub mod fee;
pub mod invoice;
pub mod keyring;
pub mod limits;
pub mod money;
pub mod network;
pub mod provision;
pub mod records;
pub mod search;
pub mod seed;
pub mod store;
pub mod token;
pub mod transfer;
pub mod tx;
pub mod vault;

pub use money::{Currency, Money};
