//! The test runner: every test is registered once with the backends it runs on, and becomes one
//! libtest-mimic trial per backend (`name_on_sqlite`, `name_on_postgres`).
//!
//! The PostgreSQL trials are *ignored*, with the reason printed, when PostgreSQL's binaries are
//! missing, so that a run without them says so instead of passing them; with
//! `AQSHA_REQUIRE_POSTGRES=1` (CI sets it) they run, and fail.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::Backend;
use libtest_mimic::{Arguments, Failed, Trial};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub type TestFuture = Pin<Box<dyn Future<Output = ()>>>;

/// One registered test: its module, its name and the backends it runs on.
pub struct Case {
    pub module: &'static str,
    pub name: &'static str,
    /// `true`: one trial per backend, named `…_on_sqlite` and `…_on_postgres`. `false`: one
    /// trial, under the test's own name, on `backends[0]`.
    pub per_backend: bool,
    pub backends: &'static [Backend],
    pub run: fn(Backend) -> TestFuture,
    /// Drives headless Chromium (`crate::browser`): ignored when Chromium or chromedriver is
    /// missing, and failed instead under `AQSHA_REQUIRE_CHROMIUM=1`.
    pub browser: bool,
}

impl Case {
    pub fn both(module: &'static str, name: &'static str, run: fn(Backend) -> TestFuture) -> Case {
        Case::new(
            module,
            name,
            true,
            &[Backend::Sqlite, Backend::Postgres],
            run,
        )
    }

    pub fn sqlite(
        module: &'static str,
        name: &'static str,
        run: fn(Backend) -> TestFuture,
    ) -> Case {
        Case::new(module, name, false, &[Backend::Sqlite], run)
    }

    /// A test in a real browser, on SQLite (the pages are the same on both backends).
    pub fn browser(
        module: &'static str,
        name: &'static str,
        run: fn(Backend) -> TestFuture,
    ) -> Case {
        let mut case = Case::new(module, name, false, &[Backend::Sqlite], run);
        case.browser = true;
        case
    }

    /// A test that needs PostgreSQL itself (several instances on one database).
    pub fn postgres(
        module: &'static str,
        name: &'static str,
        run: fn(Backend) -> TestFuture,
    ) -> Case {
        Case::new(module, name, false, &[Backend::Postgres], run)
    }

    fn new(
        module: &'static str,
        name: &'static str,
        per_backend: bool,
        backends: &'static [Backend],
        run: fn(Backend) -> TestFuture,
    ) -> Case {
        // `e2e::declines` → `declines`.
        let module = module.rsplit("::").next().unwrap_or(module);
        Case {
            module,
            name,
            per_backend,
            backends,
            run,
            browser: false,
        }
    }
}

/// Registers a module's tests: `tests! { both: [a, b], sqlite: [c], postgres: [d] }`. Each
/// test is an `async fn name(backend: Backend)`; the lists may be empty or left out.
#[macro_export]
macro_rules! tests {
    ($($kind:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        pub fn cases() -> Vec<$crate::common::harness::Case> {
            vec![$($($crate::common::harness::Case::$kind(
                module_path!(),
                stringify!($name),
                |backend| Box::pin($name(backend)),
            ),)*)*]
        }
    };
}

/// Why the PostgreSQL trials cannot run here, if they cannot.
fn postgres_missing() -> Option<&'static str> {
    super::pg::binaries()
        .is_none()
        .then_some("no PostgreSQL binaries (initdb, postgres) on PATH or under /usr/lib/postgresql")
}

fn postgres_required() -> bool {
    std::env::var("AQSHA_REQUIRE_POSTGRES").as_deref() == Ok("1")
}

/// Turns the registered cases into trials, runs them, stops the shared PostgreSQL cluster and
/// exits with the run's status.
pub fn main(cases: Vec<Case>) -> ! {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        // The trials mostly wait on servers, sockets, databases and browsers, not on the CPU
        // (a run's CPU time is about the same at 4 and at 8 threads on 2 cores, and the wall
        // time 59 s against 45 s): four per core, unless RUST_TEST_THREADS says otherwise.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let threads = std::env::var("RUST_TEST_THREADS")
            .ok()
            .and_then(|n| n.parse().ok());
        args.test_threads = Some(threads.unwrap_or((cores * 4).max(8)));
    }
    let missing = postgres_missing();
    let ignore_postgres = missing.is_some() && !postgres_required();
    if let (Some(why), true) = (missing, ignore_postgres) {
        if !args.list {
            eprintln!("note: the PostgreSQL trials are ignored: {why}");
        }
    }
    let browser_missing = crate::browser::missing();
    let ignore_browser = browser_missing.is_some() && !crate::browser::required();
    if let (Some(why), true) = (&browser_missing, ignore_browser) {
        if !args.list {
            eprintln!("note: the browser trials are ignored: {why}");
        }
    }
    let mut trials = Vec::new();
    for case in cases {
        for &backend in case.backends {
            let name = match (case.per_backend, backend) {
                (false, _) => format!("{}::{}", case.module, case.name),
                (true, Backend::Sqlite) => format!("{}::{}_on_sqlite", case.module, case.name),
                (true, Backend::Postgres) => format!("{}::{}_on_postgres", case.module, case.name),
            };
            let run = case.run;
            let ignored = (backend == Backend::Postgres && ignore_postgres)
                || (case.browser && ignore_browser);
            let browser = case.browser;
            let timed = name.clone();
            let trial = Trial::test(name, move || {
                let started = Instant::now();
                let result = match (browser, crate::browser::missing()) {
                    (true, Some(why)) => Err(format!("this trial needs a browser: {why}").into()),
                    _ => run_trial(run, backend),
                };
                TIMES.lock().unwrap().push((started.elapsed(), timed));
                result
            });
            trials.push(trial.with_ignored_flag(ignored));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    super::pg::shutdown();
    crate::browser::shutdown();
    print_slowest();
    conclusion.exit()
}

/// How long each trial that ran took, for [`print_slowest`].
static TIMES: Mutex<Vec<(Duration, String)>> = Mutex::new(Vec::new());

/// The slowest trials with their wall times (libtest prints none), where the time of a run
/// goes.
fn print_slowest() {
    let mut times = std::mem::take(&mut *TIMES.lock().unwrap());
    if times.len() < 2 {
        return;
    }
    times.sort_by_key(|t| std::cmp::Reverse(t.0));
    let total: Duration = times.iter().map(|t| t.0).sum();
    eprintln!(
        "slowest trials (of {} taking {:.1} s in all):",
        times.len(),
        total.as_secs_f64()
    );
    for (took, name) in times.iter().take(15) {
        eprintln!("  {:7.2} s  {name}", took.as_secs_f64());
    }
}

fn run_trial(run: fn(Backend) -> TestFuture, backend: Backend) -> Result<(), Failed> {
    if backend == Backend::Postgres {
        if let Some(why) = postgres_missing() {
            return Err(format!("this trial needs PostgreSQL: {why}").into());
        }
    }
    // Two workers, as some tests need a second thread while one blocks (a child process's
    // output read synchronously, several servers' clients at once).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failed::from(format!("no runtime: {e}")))?;
    runtime.block_on(run(backend));
    Ok(())
}

/// Polls `check` until it returns `Some`, for at most `within`; panics naming `what` if it
/// never does. For conditions a test can observe but not await.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
