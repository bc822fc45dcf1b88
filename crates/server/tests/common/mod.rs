//! What the server's socket-level tests share: a state on a fresh SQLite database, serving a
//! router on a loopback port, and a client that follows no redirects.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use aqsha_server::{App, AppState};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

/// A server state on a fresh SQLite database in `dir`.
pub async fn state(dir: &tempfile::TempDir, tls: bool) -> AppState {
    let url = aqsha_store::DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("aqsha.db").display()
    ))
    .unwrap();
    let store = aqsha_store::open(&url).await.unwrap();
    AppState::new(App {
        store,
        vault: Arc::new(aqsha_core::vault::Vault::new([9u8; 32])),
        token_ttl_secs: 7200,
        callbacks_wake: Arc::new(tokio::sync::Notify::new()),
        public_cards: Arc::new(aqsha_core::network::PublicCards::default()),
        funding_cap: aqsha_server::config::DEFAULT_FUNDING_CAP,
        rules: Default::default(),
        throttle: Arc::new(aqsha_server::throttle::Throttle::new(Default::default())),
        tls,
        cabinet: Default::default(),
        metrics: Arc::new(aqsha_server::metrics::Metrics::new(None)),
    })
}

/// Serves `app` on a free loopback port; the base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

/// The server's own router, as `aqsha serve` builds it.
pub async fn server(dir: &tempfile::TempDir) -> String {
    let state = state(dir, false).await;
    serve(aqsha_server::router(state, true)).await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The server's own router on a state with the sandbox seed installed (the merchant `test`
/// and its terminals, docs/sandbox.md).
pub async fn seeded_server(dir: &tempfile::TempDir) -> String {
    let state = state(dir, false).await;
    let seed = aqsha_core::seed::prepare(&state.vault).unwrap();
    state.store.install(seed).await.unwrap();
    serve(aqsha_server::router(state, true)).await
}
