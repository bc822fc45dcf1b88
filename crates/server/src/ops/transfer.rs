//! The P2P transfer as an operation: what `POST /payments/cards/auth` does once its body is
//! parsed, and what the hosted payment form will do once its form is read. AFT and OCT
//! (`/chdebit/transfer`, `/chpayment/transfer`) are the same operation with the merchant's
//! own account as one side ([`one_side`]).
//!
//! It opens the token, refuses a disabled merchant, turns each card side into fingerprints and
//! check values ([`super::card`]), and hands one [`TransferCommand`] to the store, which runs
//! the whole decision and its writes in one commit. The input is moved, not copied: this is the
//! hot path of the benchmark.

use crate::error::EpayError;
use crate::ops::card::{self, Presented};
use crate::AppState;
use aqsha_core::card::Expiry;
use aqsha_core::records::StoredResponse;
use aqsha_core::transfer::{OrderInput, Refusal, SideInput, TransferCommand, TransferOutcome};
use aqsha_wire::transfer::{CardSide, OneSideRequest, Order, TransferRequest};

/// A transfer to run, as the caller understood it.
pub struct TransferCall<'a> {
    /// The bearer token as sent: sealed claims, opened here.
    pub token: &'a str,
    pub request: TransferRequest,
    pub sent: Sent,
}

/// How a transfer was sent, beside its parsed body.
pub struct Sent {
    /// The request as sent, for the digest that recognises a retry of the same request
    /// (`canonical`). The API passes the JSON it parsed; a page passes its request
    /// serialized (`serde_json::to_value`).
    pub value: serde_json::Value,
    /// The hosted form's attempt number; `None` for the API
    /// ([`aqsha_core::transfer::TransferCommand::attempt`]).
    pub attempt: Option<u8>,
    /// The URL the request came in on ([`crate::ops::base_url`]): a 3-D Secure challenge's
    /// links are made on it so that the browser reaches this server.
    pub base_url: Option<String>,
}

/// What the store answered for a transfer that was not refused.
pub enum Answer {
    /// A new operation was recorded, a charge or a decline; the callback dispatcher has been
    /// woken for its callback.
    Recorded {
        response: StoredResponse,
        operation_id: String,
        kind: aqsha_core::transfer::Recorded,
    },
    /// The same request was answered before: its stored response; nothing moved.
    Replay(StoredResponse),
}

impl Answer {
    /// The response stored with the operation, which the API sends byte for byte.
    pub fn stored(self) -> StoredResponse {
        match self {
            Answer::Recorded { response, .. } | Answer::Replay(response) => response,
        }
    }
}

/// Which one-sided operation a [`OneSideCall`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneSideKind {
    /// `card.sender` funds the merchant.
    Aft,
    /// The merchant pays `card.receiver`.
    Oct,
}

/// An AFT or OCT to run, as the caller understood it; see [`TransferCall`].
pub struct OneSideCall<'a> {
    pub token: &'a str,
    pub kind: OneSideKind,
    pub request: OneSideRequest,
    pub sent: Sent,
}

/// One side of the operation as the request gave it.
enum Party {
    Card(CardSide),
    /// The merchant's own settlement account (AFT receiver, OCT sender).
    Merchant,
}

/// Runs one transfer. A refusal (bad input, a token that does not open or is spent, a
/// disabled merchant) is an [`EpayError`] carrying the order's invoice and account, as the
/// API answers it.
pub async fn transfer(app: &AppState, call: TransferCall<'_>) -> Result<Answer, EpayError> {
    let TransferCall {
        token,
        request,
        sent,
    } = call;
    let TransferRequest { order, card } = request;
    let (sender, receiver) = (Party::Card(card.sender), Party::Card(card.receiver));
    run(app, token, order, [sender, receiver], sent).await
}

/// Runs an AFT or OCT: the body's one card side, and the merchant's account as the other. A
/// body that carries the other side too, or not its own, is refused (format error).
pub async fn one_side(app: &AppState, call: OneSideCall<'_>) -> Result<Answer, EpayError> {
    let OneSideCall {
        token,
        kind,
        request,
        sent,
    } = call;
    let OneSideRequest { order, card } = request;
    let account = order.account_id.clone().unwrap_or_default();
    let refuse = |why: &str| Err(EpayError::input(why).with_order(&order.id, &account));
    let parties = match (kind, card.sender, card.receiver) {
        (OneSideKind::Aft, Some(s), None) => [Party::Card(s), Party::Merchant],
        (OneSideKind::Oct, None, Some(r)) => [Party::Merchant, Party::Card(r)],
        (OneSideKind::Aft, _, _) => {
            return refuse("an AFT (/chdebit/transfer) takes card.sender and no card.receiver")
        }
        (OneSideKind::Oct, _, _) => {
            return refuse("an OCT (/chpayment/transfer) takes card.receiver and no card.sender")
        }
    };
    run(app, token, order, parties, sent).await
}

/// Runs the transfer ([`decide`]) and counts how it ended, for `/metrics`.
async fn run(
    app: &AppState,
    token: &str,
    o: Order,
    parties: [Party; 2],
    sent: Sent,
) -> Result<Answer, EpayError> {
    use crate::metrics::TransferOutcome as Counted;
    let answer = decide(app, token, o, parties, sent).await;
    app.metrics.transfer(match &answer {
        Ok(Answer::Recorded { kind, .. }) => Counted::Recorded(*kind),
        Ok(Answer::Replay(_)) => Counted::Replayed,
        Err(e) => Counted::Refused(e.body.code),
    });
    answer
}

async fn decide(
    app: &AppState,
    token: &str,
    o: Order,
    [sender, receiver]: [Party; 2],
    sent: Sent,
) -> Result<Answer, EpayError> {
    let invoice = o.id.clone();
    let account = o.account_id.clone().unwrap_or_default();
    let on_order = |e: EpayError| e.with_order(&invoice, &account);
    crate::ops::check_callback_links([
        ("order.postLink", &o.post_link),
        ("order.failurePostLink", &o.failure_post_link),
    ])
    .map_err(|why| on_order(EpayError::input(why)))?;
    // A token that does not open (unknown, forged, sealed under another key) is refused here,
    // without queueing work for the writer. Its merchant decides how card numbers are known.
    let Some(claims) = aqsha_core::token::open(&app.vault, token) else {
        return Err(on_order(EpayError::token("unknown token")));
    };
    // Before anything is queued for the writer: a disabled merchant's transfer is refused
    // without being recorded, whenever its token was issued.
    crate::auth::require_active(app, &claims.merchant_id)
        .await
        .map_err(on_order)?;
    let merchant = claims.merchant_id.as_str();
    let sender = party(app, merchant, sender, "card.sender", true).map_err(on_order)?;
    let receiver = party(app, merchant, receiver, "card.receiver", false).map_err(on_order)?;
    let request_digest = app
        .vault
        .request_digest(&canonical(sent.value, &sender, &receiver));
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
            language: o.language,
            back_link: o.back_link,
            failure_back_link: o.failure_back_link,
            base_url: sent.base_url,
        },
        sender,
        receiver,
        rules: app.rules,
        attempt: sent.attempt,
    };
    let outcome = app
        .store
        .transfer(cmd)
        .await
        .map_err(|e| on_order(EpayError::store("transfer failed", e)))?;
    match outcome {
        TransferOutcome::Done {
            response,
            operation_id,
            kind,
            delay_ms,
        } => {
            app.callbacks_wake.notify_one();
            if delay_ms > 0 {
                // A sandbox card whose issuer answers late (`docs/sandbox.md`). The wait is
                // here, after the commit, so that the writer (which commits many transfers
                // on one thread) and the database's locks never wait for it. Meanwhile the
                // status and the callback already tell the outcome, as when a real issuer's
                // answer is slow to arrive; and a request timeout shorter than the delay
                // answers "query the status" (`limits`), which holds.
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms.into())).await;
            }
            Ok(Answer::Recorded {
                response,
                operation_id,
                kind,
            })
        }
        TransferOutcome::Replay(response) => Ok(Answer::Replay(response)),
        TransferOutcome::Refused(Refusal::Token(why)) => Err(on_order(EpayError::token(why))),
        TransferOutcome::Refused(Refusal::Input(why)) => Err(on_order(EpayError::input(why))),
        TransferOutcome::Refused(Refusal::Attempts) => Err(on_order(EpayError::new(
            axum::http::StatusCode::BAD_REQUEST,
            aqsha_wire::codes::reason::TOO_MANY_FAILED_ATTEMPTS,
            "the payment page's attempts for this invoice are used up",
        ))),
    }
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
        match side {
            SideInput::Pan(p) => {
                obj.insert("cardCred".into(), p.fingerprint.clone().into());
            }
            // A phone number and an IIN are personal data: the digest keeps their keyed
            // values, never the text.
            SideInput::Phone(p) => {
                obj.insert("phone".into(), p.phone_key.clone().into());
                obj.insert("iin".into(), p.iin_check.clone().into());
            }
            SideInput::CardId { .. } | SideInput::Merchant => {}
        }
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

/// One side of the operation: the merchant's own account, or a card side ([`side`]).
fn party(
    app: &crate::App,
    merchant_id: &str,
    p: Party,
    path: &str,
    is_sender: bool,
) -> Result<SideInput, EpayError> {
    match p {
        Party::Merchant => Ok(SideInput::Merchant),
        Party::Card(s) => side(app, merchant_id, s, path, is_sender),
    }
}

/// One side of the transfer by its `transferType`: a saved card's id, a phone number (a
/// receiver only), or a card number made into a [`aqsha_core::transfer::PanSide`] (with CVC
/// and expiry for the sender).
fn side(
    app: &crate::App,
    merchant_id: &str,
    s: CardSide,
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
        "TYPEPHONE" if !is_sender => return super::phone::side(app, &s, path),
        "TYPEPHONE" => {
            return Err(EpayError::input(format!(
                "{path}.transferType TYPEPHONE names a receiver only"
            )));
        }
        _ => {
            return Err(EpayError::input(format!(
                "{path}.transferType must be TYPEPAN, TYPECARDID or TYPEPHONE"
            )))
        }
    }
    if s.card_cred.trim().is_empty() {
        return Err(EpayError::input(format!(
            "{path}.cardCred must hold a card number"
        )));
    }
    let known = card::known_pan(
        app,
        merchant_id,
        &s.card_cred,
        format_args!("{path}.cardCred"),
    )?;
    let presented = if is_sender {
        Some(presented(&s, path)?)
    } else {
        None
    };
    Ok(SideInput::Pan(card::pan_side(
        app, known, presented, s.name, save,
    )))
}

/// The sender's CVC and expiry date, both required with a card number.
fn presented(s: &CardSide, path: &str) -> Result<Presented, EpayError> {
    let cvc = s
        .cvc
        .as_deref()
        .ok_or_else(|| EpayError::input(format!("{path}.cvc is required for TYPEPAN")))?;
    let cvc = card::cvc(cvc, format_args!("{path}.cvc"))?;
    let e = s
        .expire
        .as_ref()
        .ok_or_else(|| EpayError::input(format!("{path}.expire is required for TYPEPAN")))?;
    let expiry = Expiry::parse(&e.month, &e.year).ok_or_else(|| {
        EpayError::input(format!(
            "{path}.expire must be {{\"month\":\"MM\",\"year\":\"YY\"}} with month 01-12"
        ))
    })?;
    Ok(Presented { cvc, expiry })
}
