//! Saved cards (`docs/protocol.md#saved-cards`): list a customer's cards, deactivate one.

use crate::auth::{may_manage_cards, service_token};
use crate::error::EpayError;
use crate::AppState;
use aqsha_wire::codes::reason;
use aqsha_wire::status::{DeactivateResponse, SavedCard};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;

#[utoipa::path(
    get,
    path = "/cards/{account_id}",
    tag = "saved cards",
    summary = "A customer's saved cards",
    params(("account_id" = String, Path, description = "The merchant's customer (`accountId`)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cards", body = Vec<aqsha_wire::status::SavedCard>),
        (status = 400, description = "No saved cards (code 1373) or a malformed id", body = aqsha_wire::transfer::ApiError),
        (status = 401, description = "Refused token, or one bound to another customer", body = aqsha_wire::transfer::ApiError),
        (status = 500, description = "Internal error (code 100)", body = aqsha_wire::transfer::ApiError),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Result<Json<Vec<SavedCard>>, EpayError> {
    let token = service_token(&state, &headers).await?;
    may_manage_cards(&state, &token, Some(&account_id))?;
    let cards = state
        .store
        .saved_cards(&token.merchant_id, &account_id)
        .await
        .map_err(|e| EpayError::internal("saved-card list failed", e))?;
    if cards.is_empty() {
        return Err(EpayError::new(
            StatusCode::BAD_REQUEST,
            reason::NO_SAVED_CARDS,
            format!("account {account_id}"),
        )
        .with_order("", &account_id));
    }
    Ok(Json(
        cards
            .into_iter()
            .map(|c| SavedCard {
                // Keyed by the merchant as well: two merchants never see one value for a card.
                card_hash: state.vault.card_hash(&c.merchant_id, &c.fingerprint),
                id: c.id,
                transaction_id: c.transaction_id,
                merchant_id: c.merchant_id,
                card_mask: c.mask,
                payer_name: c.payer_name,
                reference: c.reference,
                int_reference: c.int_reference,
                token: String::new(),
                terminal: c.terminal_id,
                created_date: c
                    .created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                payment_available: c.active,
                account_id: c.account_id,
            })
            .collect(),
    ))
}

#[utoipa::path(
    post,
    path = "/card/deactivate/{card_id}",
    tag = "saved cards",
    summary = "Deactivate a saved card",
    params(("card_id" = String, Path, description = "The saved card's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deactivated", body = aqsha_wire::status::DeactivateResponse),
        (status = 400, description = "No active saved card with this id (code 487)", body = aqsha_wire::transfer::ApiError),
        (status = 401, description = "Refused token", body = aqsha_wire::transfer::ApiError),
        (status = 500, description = "Internal error (code 100)", body = aqsha_wire::transfer::ApiError),
    )
)]
pub async fn deactivate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(card_id): Path<String>,
) -> Result<Json<DeactivateResponse>, EpayError> {
    let token = service_token(&state, &headers).await?;
    let customer = may_manage_cards(&state, &token, None)?;
    let done = state
        .store
        .deactivate_card(&token.merchant_id, &card_id, customer)
        .await
        .map_err(|e| EpayError::store("card deactivation failed", e))?;
    if !done {
        return Err(EpayError::new(
            StatusCode::BAD_REQUEST,
            reason::NOT_PERMITTED_TO_MERCHANT,
            "no active saved card with this id",
        ));
    }
    Ok(Json(DeactivateResponse {
        status: "card successfully deactivated".into(),
    }))
}

/// `POST /public-profile`: Halyk's SDK asks for it before a P2P flow and only needs an object.
#[utoipa::path(
    post,
    path = "/public-profile",
    tag = "saved cards",
    summary = "Halyk SDK's profile request: an empty object",
    responses((status = 200, description = "`{}`", body = Object)),
)]
pub async fn public_profile() -> Json<serde_json::Value> {
    Json(serde_json::json!({}))
}
