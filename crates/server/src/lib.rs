#![doc = include_str!("../README.md")]

pub mod auth;
pub mod callbacks;
pub mod config;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod keyfile;
pub mod leases;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod resolver;
mod routes;
pub mod targets;
pub mod throttle;
pub mod tls;

pub use config::Config;

use aqsha_core::store::Store;
use aqsha_core::vault::Vault;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use std::time::Instant;

/// What every handler shares, behind one `Arc`: axum clones the state for each request, and
/// one reference count is cheaper than one per field (measured: the per-field clones and
/// drops were about 1% of the server's CPU under the benchmark).
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl AppState {
    pub fn new(app: App) -> AppState {
        AppState(Arc::new(app))
    }
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

pub struct App {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    /// Lifetime of issued tokens; ePay's is 7200 seconds.
    pub token_ttl_secs: i64,
    /// Wakes the callback dispatcher when an operation may have queued an event.
    pub callbacks_wake: Arc<tokio::sync::Notify>,
    /// The network's public test cards; any other card number is known per merchant.
    pub public_cards: Arc<aqsha_core::network::PublicCards>,
    /// Most money one merchant may create in the sandbox, per currency.
    pub funding_cap: aqsha_core::money::Money,
    /// How far a token reaches into the merchant's customers, and the wrong-answer limit.
    pub rules: aqsha_core::transfer::TransferRules,
    /// Failed client authentications, per client and per address.
    pub throttle: Arc<throttle::Throttle>,
    /// Served over HTTPS. Links and cookies the server makes must use the same scheme
    /// ([`App::scheme`]): a `Secure` cookie set over plain HTTP is dropped, and an
    /// `http://` link from an HTTPS page leaks what it carries.
    pub tls: bool,
    /// The merchant cabinet's session idle time and login lock.
    pub cabinet: pages::cabinet::CabinetSettings,
    /// What `/metrics` reports, and the token it may require.
    pub metrics: Arc<metrics::Metrics>,
}

impl App {
    /// `"https"` or `"http"`, as this server is reached.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }
}

/// Largest request body accepted. ePay bodies are a few hundred bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The routes. `sandbox_api` adds the `/sandbox/*` endpoints (card network inspection, test
/// cards and terminals, callback history); production deployments turn them off.
pub fn router(state: AppState, sandbox_api: bool) -> Router {
    router_with(state, sandbox_api, &limits::Limits::default())
}

/// [`router`] with the request limits of [`limits::guard`] (sizes, in-flight cap, request
/// timeout) around every route, inside the access log so that refusals are logged too.
pub fn router_with(state: AppState, sandbox_api: bool, limits: &limits::Limits) -> Router {
    let epay = Router::new()
        .route("/payments/cards/auth", post(routes::transfer::transfer))
        .route("/p2p/transfer", post(routes::transfer::transfer))
        .route("/chdebit/transfer", post(routes::transfer::fund))
        .route("/chpayment/transfer", post(routes::transfer::payout))
        .route("/p2p/operations", post(routes::operations::operations))
        .route(
            "/check-status/p2p/transaction/{invoice}",
            get(routes::status::status),
        )
        .route(
            "/check-status/payment/transaction/{invoice}",
            get(routes::status::status),
        )
        .route("/cards/{account_id}", get(routes::cards::list))
        .route(
            "/card/deactivate/{card_id}",
            post(routes::cards::deactivate),
        )
        .route("/public-profile", post(routes::cards::public_profile))
        // A browser's form post back from the 3-D Secure ACS: answered as a page.
        .route(
            aqsha_core::transfer::secure3d::CONFIRM_PATH,
            post(pages::acs::confirm_payment).layer(middleware::from_fn(pages::page_headers)),
        );
    let mut app = Router::new()
        .route("/oauth2/token", post(routes::token::token))
        .route("/epay2/oauth2/token", post(routes::token::token))
        .merge(epay.clone())
        .nest("/api", epay)
        .merge(pages::router(&state));
    if sandbox_api {
        app = app
            .route(
                "/sandbox/cards",
                get(routes::sandbox::list_cards).post(routes::sandbox::issue_card),
            )
            .route(
                "/sandbox/cards/{card_id}/topup",
                post(routes::sandbox::top_up),
            )
            .merge(pages::sandbox_router())
            .route("/sandbox/ledger", get(routes::sandbox::ledger))
            .route(
                "/sandbox/merchant/balance",
                get(routes::sandbox_merchant::balance),
            )
            .route(
                "/sandbox/merchant/fund",
                post(routes::sandbox_merchant::fund),
            )
            .route(
                "/sandbox/phones",
                get(routes::sandbox_merchant::list_phones)
                    .post(routes::sandbox_merchant::add_phone),
            )
            .route("/sandbox/terminals", post(routes::sandbox::add_terminal))
            .route(
                "/sandbox/terminals/{terminal_id}/limits",
                get(routes::limits::get_limits).put(routes::limits::put_limits),
            )
            .route(
                "/sandbox/callbacks",
                get(routes::sandbox_callbacks::callbacks),
            )
            .route(
                "/sandbox/callbacks/{event_id}/resend",
                post(routes::sandbox_callbacks::resend_callback),
            )
            .route(
                "/sandbox/callback-secret",
                get(routes::sandbox_callbacks::callback_secret),
            );
    }
    let metrics = state.metrics.clone();
    app.route("/healthz", get(routes::healthz))
        .route("/openapi.json", get(move || openapi::serve(sandbox_api)))
        .route("/readyz", get(routes::sandbox::ready))
        .route("/metrics", get(metrics::scrape))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            limits::Guard::new(limits),
            limits::guard,
        ))
        .layer(middleware::from_fn_with_state(metrics, access_log))
        .with_state(state)
}

tokio::task_local! {
    /// The id of the request this task is serving, for logs written while serving it.
    static REQUEST_ID: String;
}

/// The current request's id (as sent in `x-request-id`), or "" outside a request.
pub fn request_id() -> String {
    REQUEST_ID.try_with(String::clone).unwrap_or_default()
}

/// One log line per request, with a fresh request id that is echoed as `x-request-id` and is
/// in every line logged while the request is served ([`request_id`]). The line records the
/// route template, never the concrete path, so nothing a caller puts in a URL reaches the log.
/// A single event instead of a span per request: under load the span's bookkeeping and
/// formatting cost about as much as the line itself. The same place counts the request for
/// `/metrics`, by the same route template.
async fn access_log(
    axum::extract::State(metrics): axum::extract::State<Arc<metrics::Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let started = Instant::now();
    let mut resp = REQUEST_ID.scope(request_id.clone(), next.run(req)).await;
    let took = started.elapsed();
    tracing::info!(
        id = %request_id,
        %method,
        route = %route.as_ref().map_or("unmatched", |r| r.as_str()),
        status = resp.status().as_u16(),
        ms = took.as_millis() as u64,
        "request"
    );
    metrics.request(&method, route, resp.status(), took);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
