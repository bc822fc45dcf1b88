//! `POST /payments/cards/auth` and `/p2p/transfer` (reference §3).
//!
//! This handler only parses: it turns the body into a [`TransferCommand`], with card numbers
//! replaced by the vault's fingerprints and sealed blobs, and hands it to the store, which runs
//! the whole decision and its writes in one commit.

use crate::auth::bearer;
use crate::error::EpayError;
use crate::routes::{check_callback_links, read_body};
use crate::AppState;
use aqsha_core::card::{Cvc, Expiry, Pan};
use aqsha_core::transfer::{
    OrderInput, PanSide, Refusal, SideInput, TransferCommand, TransferOutcome,
};
use aqsha_wire::transfer::{CardSide, TransferRequest};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub async fn transfer(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match run(&state, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, EpayError> {
    let token = bearer(headers)?;
    let body = read_body(body).await?;
    aqsha_wire::json::unique_keys(&body)
        .map_err(|e| EpayError::input(format!("malformed JSON: {e}")))?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| EpayError::input(format!("malformed JSON: {e}")))?;
    if let Some(path) = aqsha_wire::json::control_character_at(&value) {
        return Err(EpayError::input(format!(
            "{path} holds a control character (newline, tab, NUL…); text fields take printable text only"
        )));
    }
    if value.get("order").is_none()
        && (value.get("cardId").is_some() || value.get("paymentType").is_some())
    {
        return Err(EpayError::input(
            "payments by saved card are not supported yet; this endpoint takes P2P transfers (order + card)",
        ));
    }
    let req: TransferRequest = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        // The message names the field and the expected type, never the value: it may be a
        // card number or a CVC sent as a JSON number.
        let why = aqsha_wire::json::without_values(&e.inner().to_string());
        EpayError::input(format!("field {path}: {why}"))
    })?;
    let invoice = req.order.id.clone();
    let account = req.order.account_id.clone().unwrap_or_default();
    check_callback_links([
        ("order.postLink", &req.order.post_link),
        ("order.failurePostLink", &req.order.failure_post_link),
    ])
    .map_err(|why| EpayError::input(why).with_order(&invoice, &account))?;
    // A token that does not open (unknown, forged, sealed under another key) is refused here,
    // without queueing work for the writer. Its merchant decides how card numbers are known.
    let Some(claims) = aqsha_core::token::open(&state.vault, token) else {
        return Err(EpayError::token("unknown token").with_order(&invoice, &account));
    };
    // Before anything is queued for the writer: a disabled merchant's transfer is refused
    // without being recorded, whenever its token was issued.
    crate::auth::require_active(state, &claims.merchant_id)
        .await
        .map_err(|e| e.with_order(&invoice, &account))?;
    let merchant = claims.merchant_id.as_str();
    let sender = side(state, merchant, &req.card.sender, "card.sender", true)
        .map_err(|e| e.with_order(&invoice, &account))?;
    let receiver = side(state, merchant, &req.card.receiver, "card.receiver", false)
        .map_err(|e| e.with_order(&invoice, &account))?;
    let request_digest = state
        .vault
        .request_digest(&canonical(value, &sender, &receiver));
    let o = req.order;
    let cmd = TransferCommand {
        token: claims,
        request_digest,
        now: chrono::Utc::now(),
        order: OrderInput {
            amount: o.amount.as_str().to_string(),
            currency: o.currency,
            invoice_id: o.id,
            account_id: o.account_id,
            email: o.sender_email,
            description: o.description,
            terminal_id: o.terminal_id,
            post_link: o.post_link,
            failure_post_link: o.failure_post_link,
        },
        sender,
        receiver,
        rules: state.rules,
    };
    let outcome = state
        .store
        .transfer(cmd)
        .await
        .map_err(|e| EpayError::store("transfer failed", e).with_order(&invoice, &account))?;
    Ok(match outcome {
        TransferOutcome::Done { response, .. } => {
            state.callbacks_wake.notify_one();
            json_response(response)
        }
        TransferOutcome::Replay(response) => json_response(response),
        TransferOutcome::Refused(Refusal::Token(why)) => EpayError::token(why)
            .with_order(&invoice, &account)
            .into_response(),
        TransferOutcome::Refused(Refusal::Input(why)) => EpayError::input(why)
            .with_order(&invoice, &account)
            .into_response(),
    })
}

/// The request as its digest sees it: keys of a serde_json map are sorted, so the same request
/// sent again, with fields in any order, gives the same bytes. Card data is replaced first:
/// a card number by its fingerprint, and the CVC and expiry dropped, because the digest is kept
/// with the operation for ever and nothing derived from them may be (issue 12). A retry that
/// differs only in CVC or expiry is the same request: its token is spent either way.
fn canonical(mut value: serde_json::Value, sender: &SideInput, receiver: &SideInput) -> Vec<u8> {
    for (name, side) in [("sender", sender), ("receiver", receiver)] {
        let Some(obj) = value
            .get_mut("card")
            .and_then(|c| c.get_mut(name))
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        obj.remove("cvc");
        obj.remove("expire");
        if let SideInput::Pan(p) = side {
            obj.insert("cardCred".into(), p.fingerprint.clone().into());
        }
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

/// A stored answer, sent byte for byte.
fn json_response(response: aqsha_core::records::StoredResponse) -> Response {
    let status = StatusCode::from_u16(response.http_status).unwrap_or(StatusCode::OK);
    let mut resp = (status, response.body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Parses one side. Card numbers and CVCs become fingerprints and check values here; the
/// plain values go no further than this function.
fn side(
    state: &AppState,
    merchant_id: &str,
    s: &CardSide,
    path: &str,
    is_sender: bool,
) -> Result<SideInput, EpayError> {
    let save = s.save.unwrap_or(false);
    match s.transfer_type.as_deref().map(str::trim).unwrap_or("") {
        "" | "TYPEPAN" => {}
        "TYPECARDID" => {
            let id = s.card_cred.trim();
            if id.is_empty() {
                return Err(EpayError::input(format!(
                    "{path}.cardCred must hold a saved card id"
                )));
            }
            return Ok(SideInput::CardId {
                id: id.to_string(),
                save,
            });
        }
        "TYPEPHONE" => {
            return Err(EpayError::input(format!(
                "{path}.transferType TYPEPHONE is not supported yet"
            )));
        }
        _ => {
            return Err(EpayError::input(format!(
                "{path}.transferType must be TYPEPAN or TYPECARDID"
            )))
        }
    }
    let pan =
        Pan::parse(&s.card_cred).map_err(|e| EpayError::input(format!("{path}.cardCred {e}")))?;
    let fingerprint = state.public_cards.card_key(&state.vault, merchant_id, &pan);
    let (cvc_check, expiry) = if is_sender {
        let cvc = s
            .cvc
            .as_deref()
            .ok_or_else(|| EpayError::input(format!("{path}.cvc is required for TYPEPAN")))?;
        let cvc = Cvc::parse(cvc).map_err(|e| EpayError::input(format!("{path}.cvc {e}")))?;
        let e = s
            .expire
            .as_ref()
            .ok_or_else(|| EpayError::input(format!("{path}.expire is required for TYPEPAN")))?;
        let expiry = Expiry::parse(&e.month, &e.year).ok_or_else(|| {
            EpayError::input(format!(
                "{path}.expire must be {{\"month\":\"MM\",\"year\":\"YY\"}} with month 01-12"
            ))
        })?;
        (
            Some(state.vault.cvc_check_value(&fingerprint, &cvc)),
            Some(expiry),
        )
    } else {
        (None, None)
    };
    Ok(SideInput::Pan(PanSide {
        mask: pan.mask(),
        brand: pan.brand(),
        luhn_ok: pan.luhn_ok(),
        sealed: save.then(|| state.vault.seal(&pan)),
        cvc_check,
        expiry,
        name: s.name.clone(),
        save,
        fingerprint,
    }))
}
