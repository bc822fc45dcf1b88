//! The sandbox API: look inside Aqsha's built-in card network. Authenticated with the merchant's
//! client credentials over HTTP Basic (`client_id:client_secret`).
//!
//! - `GET /sandbox/cards` — the public test cards and the caller's own: mask, brand, lock
//!   status, balance.
//! - `POST /sandbox/cards` — issue a new test card (optionally expired or locked, or a
//!   scenario card that answers with a chosen outcome: [`super::scenario`]), owned by the
//!   caller and funded from the caller's funding account, up to the funding cap.
//! - `POST /sandbox/cards/{id}/topup` — add money to one of the caller's own cards, the same way.
//! - `GET /sandbox/ledger` — check the double-entry ledger.
//! - The callback history: `sandbox_callbacks.rs`.
//! - `GET`/`PUT /sandbox/terminals/{id}/limits` — a terminal's transfer limits (`limits.rs`).

use crate::auth::{basic_credentials, check_client, retry_after, ClientCheck, Peer};
use crate::error::EpayError;
use crate::ops::sandbox;
use crate::routes::read_body;
use crate::AppState;
use aqsha_core::records::MerchantRecord;
use aqsha_core::store::{LedgerReport, SandboxCardView};
use aqsha_wire::codes::reason;
use aqsha_wire::WireAmount;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// The merchant a sandbox request authenticates as, with its client credentials over HTTP
/// Basic: an extractor, so that a handler cannot forget the check. A refusal (401 with
/// `WWW-Authenticate`, or 429 while the caller is throttled) is answered before the handler
/// runs.
pub(crate) struct SandboxMerchant(pub MerchantRecord);

impl FromRequestParts<AppState> for SandboxMerchant {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<SandboxMerchant, Response> {
        let peer = match Peer::from_request_parts(parts, state).await {
            Ok(peer) => peer,
            Err(never) => match never {},
        };
        merchant(state, &parts.headers, &peer)
            .await
            .map(SandboxMerchant)
    }
}

async fn merchant(
    state: &AppState,
    headers: &HeaderMap,
    peer: &Peer,
) -> Result<MerchantRecord, Response> {
    let denied = || {
        let mut r = EpayError::new(
            StatusCode::UNAUTHORIZED,
            reason::NOT_PERMITTED_TO_MERCHANT,
            "sandbox API needs HTTP Basic client_id:client_secret",
        )
        .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"aqsha-sandbox\""),
        );
        r
    };
    let (id, secret) = basic_credentials(headers).ok_or_else(denied)?;
    match check_client(state, &id, &secret, peer.0)
        .await
        .map_err(|e| EpayError::internal("sandbox auth failed", e).into_response())?
    {
        ClientCheck::Allowed(m) if !m.disabled => Ok(m),
        ClientCheck::Allowed(_) => Err(denied()),
        ClientCheck::Denied => Err(denied()),
        ClientCheck::Throttled(wait) => {
            let mut r = EpayError::new(
                StatusCode::TOO_MANY_REQUESTS,
                reason::TOO_MANY_FAILED_ATTEMPTS,
                "too many failed authentications; retry later",
            )
            .into_response();
            retry_after(&mut r, wait);
            Err(r)
        }
    }
}

/// A sandbox request body, read as strictly as the ePay API's: a repeated key is refused, and
/// a complaint never repeats the value (it may be a card number or a CVC).
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<T, EpayError> {
    aqsha_wire::json::unique_keys(body).map_err(|e| EpayError::input(format!("{what}: {e}")))?;
    // No sandbox body holds a list: an array would be read as an object, field by field.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(path) = aqsha_wire::json::unexpected_array_at(&value, &[]) {
            return Err(EpayError::input(format!(
                "{what}: {path} is a JSON array; an object is expected there"
            )));
        }
    }
    serde_json::from_slice(body).map_err(|e| {
        let why = aqsha_wire::json::without_values(&e.to_string());
        EpayError::input(format!("{what}: {why}"))
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CardView {
    id: String,
    mask: String,
    brand: String,
    /// `unlock` or `lock`, the seed's words.
    status: String,
    balance: WireAmount,
    currency: String,
    /// `MM/YY`.
    expire: String,
    /// How the card's issuer answers, when not naturally.
    #[serde(skip_serializing_if = "Option::is_none")]
    scenario: Option<super::scenario::ScenarioView>,
    /// Enrolled in 3-D Secure (docs/sandbox.md).
    secure3d: bool,
}

impl From<SandboxCardView> for CardView {
    fn from(c: SandboxCardView) -> CardView {
        CardView {
            id: c.id,
            mask: c.mask,
            brand: c.brand.name().into(),
            status: if c.locked { "lock" } else { "unlock" }.into(),
            balance: WireAmount::new(c.balance.to_string()),
            currency: c.currency.code().into(),
            expire: format!("{:02}/{:02}", c.expiry.month, c.expiry.year),
            scenario: super::scenario::view(&c.scenario),
            secure3d: c.secure3d,
        }
    }
}

#[utoipa::path(
    get,
    path = "/sandbox/cards",
    tag = "sandbox",
    summary = "The public test cards and the caller's own",
    security(("clientBasic" = [])),
    responses(
        (status = 200, description = "The cards", body = Vec<CardView>),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn list_cards(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
) -> Response {
    match state.store.sandbox_cards(&m.id).await {
        Ok(cards) => {
            Json(cards.into_iter().map(CardView::from).collect::<Vec<_>>()).into_response()
        }
        Err(e) => EpayError::internal("sandbox card list failed", e).into_response(),
    }
}

#[utoipa::path(
    get,
    path = "/sandbox/ledger",
    tag = "sandbox",
    summary = "Check the double-entry ledger",
    security(("clientBasic" = [])),
    responses(
        (status = 200, description = "The check; `balanced` is true when every check holds", body = LedgerReport),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn ledger(State(state): State<AppState>, _: SandboxMerchant) -> Response {
    match state.store.ledger_report().await {
        Ok(report) => Json::<LedgerReport>(report).into_response(),
        Err(e) => EpayError::internal("ledger check failed", e).into_response(),
    }
}

/// `POST /sandbox/cards`: the card issued ([`sandbox::issue`]), with its full number once.
#[utoipa::path(
    post,
    path = "/sandbox/cards",
    tag = "sandbox",
    summary = "Issue a test card, funded from the caller's funding account",
    request_body = sandbox::IssueCard,
    security(("clientBasic" = [])),
    responses(
        (status = 201, description = "The card, with its full number (this once)", body = IssuedCard),
        (status = 400, description = "Malformed request or over the funding cap", body = aqsha_wire::transfer::ApiError),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn issue_card(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
    body: Body,
) -> Response {
    let issued = async {
        let body = read_body(body).await?;
        let req: sandbox::IssueCard = json_body(&body, "card request")?;
        sandbox::issue(&state, &m.id, req).await
    }
    .await;
    match issued {
        Ok((view, pan)) => {
            let issued = IssuedCard {
                view: view.into(),
                pan,
            };
            (StatusCode::CREATED, Json(issued)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct IssuedCard {
    #[serde(flatten)]
    view: CardView,
    /// The full number, returned once to the caller who asked for this test card.
    pan: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct TopUp {
    amount: WireAmount,
}

/// `POST /sandbox/cards/{id}/topup` `{"amount": 5000}`: money onto one of the caller's own
/// cards from its funding account. Public test cards and other merchants' cards answer as
/// unknown.
#[utoipa::path(
    post,
    path = "/sandbox/cards/{card_id}/topup",
    tag = "sandbox",
    summary = "Add money to one of the caller's cards",
    params(("card_id" = String, Path, description = "The card's id")),
    request_body = TopUp,
    security(("clientBasic" = [])),
    responses(
        (status = 200, description = "The card's new balance", body = CardBalance),
        (status = 400, description = "Malformed amount or over the funding cap", body = aqsha_wire::transfer::ApiError),
        (status = 404, description = "Not one of the caller's cards", body = aqsha_wire::transfer::ApiError),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn top_up(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
    axum::extract::Path(card_id): axum::extract::Path<String>,
    body: Body,
) -> Response {
    let result = async {
        let body = read_body(body).await?;
        let req: TopUp = json_body(&body, "top-up request")?;
        let balance = sandbox::top_up(&state, &m.id, &card_id, req.amount.as_str()).await?;
        let balance = WireAmount::new(balance.to_string());
        Ok::<_, EpayError>(
            Json(CardBalance {
                id: card_id,
                balance,
            })
            .into_response(),
        )
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A card's balance after a top-up.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CardBalance {
    id: String,
    balance: WireAmount,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub(crate) struct NewTerminal {
    #[serde(default)]
    currency: Option<String>,
}

/// `POST /sandbox/terminals`: a new terminal for the calling merchant, on the default fee
/// schedule. Load tests use fresh terminals so their invoice numbers never meet earlier runs'.
#[utoipa::path(
    post,
    path = "/sandbox/terminals",
    tag = "sandbox",
    summary = "A new terminal for the caller (an empty body: KZT)",
    request_body(content = Option<NewTerminal>),
    security(("clientBasic" = [])),
    responses(
        (status = 201, description = "The terminal", body = TerminalCreated),
        (status = 400, description = "Malformed request or unsupported currency", body = aqsha_wire::transfer::ApiError),
        crate::openapi::answers::SandboxRefusals,
    )
)]
pub async fn add_terminal(
    State(state): State<AppState>,
    SandboxMerchant(m): SandboxMerchant,
    body: Body,
) -> Response {
    let result = async {
        let body = read_body(body).await?;
        let req: NewTerminal = if body.is_empty() {
            NewTerminal::default()
        } else {
            json_body(&body, "terminal request")?
        };
        let currency = sandbox::currency(req.currency.as_deref())?;
        let id = sandbox::add_terminal(&state, &m.id, currency).await?;
        let currency = currency.code().to_string();
        let created = Json(TerminalCreated { id, currency });
        Ok::<_, EpayError>((StatusCode::CREATED, created).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TerminalCreated {
    id: String,
    currency: String,
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    summary = "Ready: the database answers",
    responses(
        (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
        (status = 503, description = "`database unreachable`", body = String, content_type = "text/plain"),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(request = %crate::request_id(), error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}
