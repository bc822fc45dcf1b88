//! `GET /check-status/p2p/transaction/{invoice}` and `/check-status/payment/transaction/{invoice}`
//! (`docs/protocol.md#status`): the invoice's outcome, for the token's terminal only.

use crate::auth::{may_read_invoice, service_token};
use crate::error::EpayError;
use crate::AppState;
use aqsha_core::records::{OperationKind, OperationRecord, OperationStatus, TransferType};
use aqsha_wire::status::{StatusResponse, StatusTransaction};
use aqsha_wire::WireAmount;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset, Utc};

fn result(code: &str, message: &str, transaction: Option<StatusTransaction>) -> Response {
    Json(StatusResponse {
        result_code: code.into(),
        result_message: message.into(),
        transaction,
    })
    .into_response()
}

/// Also served at `/check-status/payment/transaction/{invoice}` and both under `/api`.
/// `resultCode` `100` charged, `101` rejected, `102` not found, `104` no terminal in the
/// token, `107` in progress.
#[utoipa::path(
    get,
    path = "/check-status/p2p/transaction/{invoice}",
    tag = "status",
    summary = "An invoice's outcome",
    params(("invoice" = String, Path, description = "The invoice id (6 to 16 digits)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The outcome; `transaction` is absent for codes 102 and 104", body = aqsha_wire::status::StatusResponse),
        (status = 400, description = "Malformed invoice id (code 477)", body = aqsha_wire::transfer::ApiError),
        (status = 401, description = "Refused token, or one bound to another invoice", body = aqsha_wire::transfer::ApiError),
        (status = 500, description = "Internal error (code 100)", body = aqsha_wire::transfer::ApiError),
    )
)]
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
        // ePay's "in progress": poll again (`docs/sandbox.md`, pending outcomes).
        OperationStatus::Pending => ("107", "IN PROGRESS"),
    };
    let t = shown(&state, &op).await?;
    Ok(result(code, message, Some(t)))
}

/// The operation as the status API shows it: its fields, ePay's `3D` for a failed 3-D Secure
/// challenge, and the `secure` flag. The cabinet's operation page shows the same.
pub(crate) async fn shown(
    state: &AppState,
    op: &OperationRecord,
) -> Result<StatusTransaction, EpayError> {
    // ePay's short terminal number; the terminal is the operation's own, so it exists.
    let number = match state.store.terminal(&op.terminal_id).await {
        Ok(t) => t.map(|t| t.number).unwrap_or_default(),
        Err(e) => return Err(EpayError::internal("status look-up failed", e)),
    };
    let mut t = transaction(op, number);
    let challenge = challenge_result(state, op).await?;
    if failed_secure3d(op, challenge) {
        t.status_name = "3D".into();
    }
    t.secure = aqsha_wire::callback::secure_flag(challenge == Some(Some(0))).into();
    Ok(t)
}

/// The operation's 3-D Secure challenge as it stands: `None` when it had none, `Some(None)`
/// while it waits for an answer, else `Some(Some(result))` (0 passed, or the code it failed
/// with). Only a sender paying by card number on a P2P or AFT can have been challenged
/// (`transfer::secure3d`), so the others cost no look-up.
async fn challenge_result(
    state: &AppState,
    op: &OperationRecord,
) -> Result<Option<Option<u32>>, EpayError> {
    if op.kind == OperationKind::Oct || op.sender.transfer_type != Some(TransferType::Pan) {
        return Ok(None);
    }
    let challenge = state
        .store
        .challenge(&op.id)
        .await
        .map_err(|e| EpayError::internal("status look-up failed", e))?;
    Ok(challenge.map(|c| c.result))
}

/// Whether the operation failed its 3-D Secure challenge (473: cancelled or expired; 505:
/// three wrong codes): its `statusName` is then ePay's `3D` (`docs/protocol.md`, "3-D
/// Secure"). A sandbox outcome of 473 without a challenge stays `FAILED`.
fn failed_secure3d(op: &OperationRecord, challenge: Option<Option<u32>>) -> bool {
    use aqsha_core::transfer::secure3d::{FAILED, TOO_MANY_WRONG};
    let code = op.reason_code;
    op.status == OperationStatus::Failed
        && (code == FAILED.code || code == TOO_MANY_WRONG.code)
        && challenge.is_some()
}

/// Kazakhstan moved Almaty from UTC+6 to UTC+5 at 2024-03-01 00:00 local time, that is
/// 2024-02-29T18:00:00Z (tz database 2024a).
const ALMATY_TO_UTC5: i64 = 1_709_229_600;

/// A time as ePay writes `createdDate`: Almaty's offset of the day, microseconds
/// (`2022-11-15T03:52:17.289853+06:00`).
pub fn epay_time(at: DateTime<Utc>) -> String {
    let hours = if at.timestamp() < ALMATY_TO_UTC5 {
        6
    } else {
        5
    };
    let offset = FixedOffset::east_opt(hours * 3600).unwrap_or_else(|| unreachable!());
    at.with_timezone(&offset)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

pub(crate) fn transaction(op: &OperationRecord, terminal_number: String) -> StatusTransaction {
    let card = op.card();
    let amount = WireAmount::new(op.amount.to_string());
    StatusTransaction {
        id: op.id.clone(),
        created_date: epay_time(op.created_at),
        invoice_id: op.invoice_id.clone(),
        amount: WireAmount::new(op.amount.to_string()),
        fee: WireAmount::new(op.fee.to_string()),
        currency: op.currency.clone(),
        terminal_id: op.terminal_id.clone(),
        account_id: op.account_id.clone(),
        description: op.description.clone(),
        card_mask: card.mask.clone(),
        card_type: card.brand_name().into(),
        reference: op.reference.clone(),
        int_reference: op.int_reference.clone(),
        reason_code: op.reason_code.to_string(),
        reason: op.reason.clone(),
        status_name: op.status.as_str().into(),
        sender_card_id: op.sender.card_id.clone(),
        sender_card_pan: op.sender.mask.clone(),
        receiver_card_id: op.receiver.card_id.clone(),
        receiver_card_pan: op.receiver.mask.clone(),
        terminal: terminal_number,
        approval_code: op.approval_code.clone(),
        issuer: String::new(),
        secure: "No".into(),
        language: op.language.clone(),
        // The cardholder's name goes to the callback only: it is not kept with the operation.
        name: String::new(),
        email: op.email.clone(),
        phone: String::new(),
        card_id: card.card_id.clone(),
        status_id: String::new(),
        amount_bonus: WireAmount::default(),
        payout_amount: match op.kind {
            OperationKind::Oct => amount.clone(),
            OperationKind::P2p | OperationKind::Aft => WireAmount::default(),
        },
        org_amount: amount,
        data: String::new(),
        ip: Default::default(),
        operation_kind: op.kind.as_str().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_date_is_in_almaty_time_as_epay_writes_it() {
        let before = DateTime::from_timestamp(1_668_462_737, 289_853_000).unwrap_or_default();
        assert_eq!(epay_time(before), "2022-11-15T03:52:17.289853+06:00");
        let after = DateTime::from_timestamp(ALMATY_TO_UTC5, 0).unwrap_or_default();
        assert_eq!(epay_time(after), "2024-02-29T23:00:00.000000+05:00");
    }
}
