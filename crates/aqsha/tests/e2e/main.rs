//! The end-to-end tests: one binary (linking is a large part of a test build), one module per
//! subject, each test run against a real server on a real database, on SQLite and, where it
//! applies, PostgreSQL. `common::harness` turns the registered tests into trials; run them
//! with `cargo test --workspace` (or `cargo test -p aqsha --test e2e -- NAME`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod api_misc;
mod bench;
mod browser;
mod cabinet;
mod cabinet_pages;
mod callback_dispatch;
mod callbacks;
mod cli_batch;
mod cli_commands;
mod cli_flows;
mod cli_listen;
mod client_api;
mod client_callbacks;
mod client_timeout;
mod declines;
mod flows;
mod guessing;
mod input_hygiene;
mod invoice_index;
mod key_files;
mod key_rotation;
mod ledger_guard;
mod limits;
mod merchant_admin;
mod multi_instance;
mod operations;
mod outcomes;
mod retries;
mod secure3d;
mod seed_flow;
mod server_limits;
mod server_shutdown;
mod tenants;
mod token_reach;
mod tokens;
mod wire_fields;

fn main() {
    // Slowest first (they wait on timeouts, leases and child processes), so that their waits
    // overlap the many short trials instead of trailing at the end of the run.
    let cases = [
        server_limits::cases(),
        server_shutdown::cases(),
        browser::payform::cases(),
        cli_batch::cases(),
        callbacks::cases(),
        outcomes::cases(),
        secure3d::cases(),
        key_rotation::cases(),
        tenants::cases(),
        merchant_admin::cases(),
        multi_instance::cases(),
        limits::cases(),
        operations::cases(),
        cabinet::cases(),
        cabinet_pages::cases(),
        bench::cases(),
        retries::cases(),
        callback_dispatch::cases(),
        api_misc::cases(),
        cli_commands::cases(),
        cli_flows::cases(),
        client_timeout::cases(),
        tokens::cases(),
        token_reach::cases(),
        guessing::cases(),
        key_files::cases(),
        cli_listen::cases(),
        seed_flow::cases(),
        declines::cases(),
        flows::cases(),
        wire_fields::cases(),
        client_api::cases(),
        client_callbacks::cases(),
        invoice_index::cases(),
        input_hygiene::cases(),
        ledger_guard::cases(),
    ];
    common::harness::main(cases.into_iter().flatten().collect())
}
