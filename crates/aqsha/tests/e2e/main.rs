//! The end-to-end tests: one binary (linking is a large part of a test build), one module per
//! subject, each test run against a real server on a real database, on SQLite and, where it
//! applies, PostgreSQL. `common::harness` turns the registered tests into trials; run them
//! with `cargo test --workspace` (or `cargo test -p aqsha --test e2e -- NAME`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod api_misc;
mod bench;
mod callback_dispatch;
mod callbacks;
mod cli_batch;
mod cli_commands;
mod cli_listen;
mod client_api;
mod client_timeout;
mod declines;
mod guessing;
mod input_hygiene;
mod invoice_index;
mod key_files;
mod key_rotation;
mod ledger_guard;
mod merchant_admin;
mod multi_instance;
mod retries;
mod seed_flow;
mod server_limits;
mod tenants;
mod token_reach;
mod tokens;

fn main() {
    let cases = [
        api_misc::cases(),
        bench::cases(),
        callback_dispatch::cases(),
        callbacks::cases(),
        cli_batch::cases(),
        cli_commands::cases(),
        cli_listen::cases(),
        client_api::cases(),
        client_timeout::cases(),
        declines::cases(),
        guessing::cases(),
        input_hygiene::cases(),
        invoice_index::cases(),
        key_files::cases(),
        key_rotation::cases(),
        ledger_guard::cases(),
        merchant_admin::cases(),
        multi_instance::cases(),
        retries::cases(),
        seed_flow::cases(),
        server_limits::cases(),
        tenants::cases(),
        token_reach::cases(),
        tokens::cases(),
    ];
    common::harness::main(cases.into_iter().flatten().collect())
}
