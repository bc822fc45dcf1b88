//! `POST /p2p/operations` (also under `/api`): the merchant's operations, searched, ordered and
//! paged (`aqsha_core::search` has the grammar; `docs/api.md`, "Operations search"). Needs a
//! password-grant token (`routes/login.rs`), and reaches only that merchant's operations.

use crate::auth::bearer;
use crate::error::EpayError;
use crate::routes::read_body;
use crate::routes::status::transaction;
use crate::AppState;
use aqsha_core::search::Search;
use aqsha_wire::operations::{OperationsRequest, OperationsResponse, PageInfo};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

/// The search a body asks for, read as strictly as every ePay body (also reached by the fuzz
/// targets, `crate::fuzzing`).
pub(crate) fn read_search(body: &[u8]) -> Result<Search, EpayError> {
    aqsha_wire::json::unique_keys(body)
        .map_err(|e| EpayError::input(format!("operations search: {e}")))?;
    let req: OperationsRequest = serde_json::from_slice(body).map_err(|e| {
        let why = aqsha_wire::json::without_values(&e.to_string());
        EpayError::input(format!("operations search: {why}"))
    })?;
    // After the typed read, whose complaints (a misspelt key) say more: serde also reads
    // `"paging": [0, 20]` as an object, which no ePay client sends.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let lists = ["searchParameters", "orderParameters", "searchParameter"];
        if let Some(path) = aqsha_wire::json::unexpected_array_at(&value, &lists) {
            return Err(EpayError::input(format!(
                "operations search: {path} is a JSON array; an object is expected there"
            )));
        }
    }
    Search::parse(&req).map_err(EpayError::input)
}

#[utoipa::path(
    post,
    path = "/p2p/operations",
    tag = "operations",
    summary = "Search the merchant's operations (password-grant token)",
    request_body = aqsha_wire::operations::OperationsRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of operations", body = aqsha_wire::operations::OperationsResponse),
        (status = 400, description = "Malformed search (code 477)", body = aqsha_wire::transfer::ApiError),
        (status = 401, description = "Not a live password-grant token with scope transfer", body = aqsha_wire::transfer::ApiError),
        (status = 500, description = "Internal error (code 100)", body = aqsha_wire::transfer::ApiError),
    )
)]
pub async fn operations(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<OperationsResponse>, EpayError> {
    let merchant_id = login_token(&state, &headers).await?;
    let search = read_search(&read_body(body).await?)?;
    let (page, size) = (search.page, search.size);
    let mut found = state
        .store
        .search_operations(&merchant_id, search)
        .await
        .map_err(|e| EpayError::internal("operations search failed", e))?;
    let has_next = found.len() > size as usize;
    found.truncate(size as usize);
    // ePay's short terminal numbers, looked up once per terminal on the page.
    let mut numbers = std::collections::HashMap::new();
    for op in &found {
        if !numbers.contains_key(&op.terminal_id) {
            let number = state
                .store
                .terminal(&op.terminal_id)
                .await
                .map_err(|e| EpayError::internal("operations search failed", e))?
                .map(|t| t.number)
                .unwrap_or_default();
            numbers.insert(op.terminal_id.clone(), number);
        }
    }
    let data = found
        .iter()
        .map(|op| {
            transaction(
                op,
                numbers.get(&op.terminal_id).cloned().unwrap_or_default(),
            )
        })
        .collect();
    Ok(Json(OperationsResponse {
        paging: PageInfo {
            page,
            size,
            has_next,
        },
        data,
    }))
}

/// The merchant of a live password-grant token with scope `transfer`.
async fn login_token(state: &AppState, headers: &HeaderMap) -> Result<String, EpayError> {
    let token = bearer(headers)?;
    let claims = aqsha_core::token::open(&state.vault, token)
        .ok_or_else(|| EpayError::token("unknown token"))?;
    if claims.expires_at <= chrono::Utc::now() {
        return Err(EpayError::token("token expired"));
    }
    if claims.login.is_none() || !claims.has_scope("transfer") {
        return Err(EpayError::token(
            "the operations list needs a token of the password grant (grant_type=password, \
             the cabinet login) with scope transfer",
        ));
    }
    crate::auth::require_active(state, &claims.merchant_id).await?;
    Ok(claims.merchant_id)
}
