//! `GET /check-status/p2p/transaction/{invoice}` and `/check-status/payment/transaction/{invoice}`
//! (`docs/protocol.md#status`): the invoice's outcome, for the token's terminal only.

use crate::auth::{may_read_invoice, service_token};
use crate::error::EpayError;
use crate::AppState;
use aqsha_core::records::{OperationRecord, OperationStatus};
use aqsha_wire::status::{StatusResponse, StatusTransaction};
use aqsha_wire::WireAmount;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

fn result(code: &str, message: &str, transaction: Option<StatusTransaction>) -> Response {
    Json(StatusResponse {
        result_code: code.into(),
        result_message: message.into(),
        transaction,
    })
    .into_response()
}

pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(invoice): Path<String>,
) -> Result<Response, EpayError> {
    let token = service_token(&state, &headers).await?;
    may_read_invoice(&state, &token, &invoice)?;
    let Some(terminal) = token.terminal_id.clone() else {
        return Ok(result("104", "terminal is absent in the token", None));
    };
    let op = state
        .store
        .invoice_status(&token.merchant_id, &invoice)
        .await
        .map_err(|e| EpayError::internal("status look-up failed", e))?;
    // Another terminal's invoice answers exactly like a missing one.
    let Some(op) = op.filter(|op| op.terminal_id == terminal) else {
        return Ok(result("102", "invoice not found", None));
    };
    let (code, message) = match op.status {
        OperationStatus::Charge => ("100", "SUCCESS"),
        OperationStatus::Failed => ("101", "REJECTED"),
    };
    Ok(result(code, message, Some(transaction(&op))))
}

pub(crate) fn transaction(op: &OperationRecord) -> StatusTransaction {
    StatusTransaction {
        id: op.id.clone(),
        created_date: op
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        invoice_id: op.invoice_id.clone(),
        amount: WireAmount::new(op.amount.to_string()),
        fee: WireAmount::new(op.fee.to_string()),
        currency: op.currency.clone(),
        terminal_id: op.terminal_id.clone(),
        account_id: op.account_id.clone(),
        description: op.description.clone(),
        card_mask: op.sender.mask.clone(),
        card_type: op.sender.brand_name().into(),
        reference: op.reference.clone(),
        int_reference: op.int_reference.clone(),
        reason_code: op.reason_code.to_string(),
        reason: op.reason.clone(),
        status_name: op.status.as_str().into(),
        sender_card_id: op.sender.card_id.clone(),
        sender_card_pan: op.sender.mask.clone(),
        receiver_card_id: op.receiver.card_id.clone(),
        receiver_card_pan: op.receiver.mask.clone(),
    }
}
