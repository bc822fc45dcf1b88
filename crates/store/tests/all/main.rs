//! The store's integration tests, as one binary (each binary is linked separately, and linking
//! is most of the time of a test build).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cabinet_scale;
mod group_commit;
mod leases;
mod ledger_report;
mod pg;
mod reseal;
mod search_scale;
mod stats;
mod writer_queue;
