//! The end-to-end tests: one binary (linking is a large part of a test build), one module per
//! subject, each test run against a real server on a real database, on SQLite and, where it
//! applies, PostgreSQL. `common::harness` turns the registered tests into trials; run them
//! with `cargo test --workspace` (or `cargo test -p aqsha --test e2e -- NAME`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod browser;

/// Declares each subject's module and registers its cases, from one list: a module cannot be
/// added without its trials running.
macro_rules! subjects {
    ($($extra:expr,)* ; $($m:ident),* $(,)?) => {
        $(mod $m;)*
        fn cases() -> Vec<common::harness::Case> {
            let lists = [$($extra,)* $($m::cases(),)*];
            lists.into_iter().flatten().collect()
        }
    };
}

// Slowest first (they wait on timeouts, leases and child processes, browsers), so that their
// waits overlap the many short trials instead of trailing at the end of the run. The browser
// trials live in submodules of `browser` and are listed before the `;`.
subjects! {
    browser::payform::cases(),
    browser::payform_3ds::cases(),
    browser::payform_demo::cases(),
    browser::payform_keyboard::cases(),
    browser::cabinet::cases(),
    browser::cabinet_looks::cases(),
    browser::cabinet_more::cases(),
    ;
    campaign,
    server_limits,
    server_shutdown,
    openapi,
    cli_batch,
    callbacks,
    lease_reclaim,
    outcomes,
    secure3d,
    key_rotation,
    tenants,
    merchant_admin,
    multi_instance,
    limits,
    operations,
    cabinet,
    cabinet_zone,
    cabinet_pages,
    cabinet_sandbox,
    bench,
    retries,
    callback_dispatch,
    metrics,
    api_misc,
    cli_commands,
    cli_flows,
    client_timeout,
    tokens,
    token_reach,
    guessing,
    key_files,
    cli_listen,
    seed_flow,
    declines,
    flows,
    wire_fields,
    client_api,
    client_callbacks,
    client_secure3d,
    invoice_index,
    input_hygiene,
    payform_pages,
    ledger_guard,
}

fn main() {
    common::harness::main(cases())
}
