//! `POST /payform/` (and `/payform/widget`): the payer's card form, checked, turned into the
//! API's own request and run by [`crate::ops::transfer`] as the page's attempt `n`
//! ([`aqsha_core::transfer::TransferCommand::attempt`]). The stored answer decides the page
//! (contract point 4): `secure3D` → the hand-off to the ACS; an integer `code` → the form again
//! with the reason (or, attempts used up, 2740); else a charge → 303 to `backLink` with
//! `reference`, or in the widget a message to the parent page.

use super::open::{self, Refused};
use super::params::{Mode, PayParams};
use super::view::{self, FieldErrors};
use super::words::{self, Closed, FieldError};
use super::{closed_page, FormToken};
use crate::error::EpayError;
use crate::ops::transfer::{self as op, Answer, OneSideCall, OneSideKind, Sent, TransferCall};
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::AppState;
use aqsha_core::card::{Brand, Expiry};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

/// The posted form. Card fields live only as long as this request.
#[derive(Default)]
pub(crate) struct Posted {
    token: String,
    params: String,
    mode: String,
    attempt: u8,
    pub(crate) number: String,
    pub(crate) expire: String,
    cvc: String,
    holder: String,
    receiver: String,
}

impl Posted {
    pub(crate) fn read(body: &[u8]) -> Option<Posted> {
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
        let mut p = Posted::default();
        for (k, v) in fields {
            match k.as_str() {
                crate::pages::csrf::FIELD => p.token = v,
                "params" => p.params = v,
                "mode" => p.mode = v,
                "attempt" => p.attempt = v.trim().parse().ok()?,
                "sender.cardCred" => p.number = digits(&v),
                "sender.expire" => p.expire = v,
                "sender.cvc" => p.cvc = v.trim().to_string(),
                "sender.name" => p.holder = v.trim().to_string(),
                "receiver.cardCred" => p.receiver = digits(&v),
                _ => {}
            }
        }
        Some(p)
    }

    fn mode(&self) -> Mode {
        match self.mode.as_str() {
            "isTransfer" => Mode::P2p,
            "isOCT" => Mode::Oct,
            _ => Mode::Aft,
        }
    }
}

/// A card number as typed, spaces and dashes dropped (the form groups digits by four).
fn digits(v: &str) -> String {
    v.chars().filter(|c| !matches!(c, ' ' | '-')).collect()
}

/// `POST /payform/`: behind the cookie CSRF layer.
pub async fn post(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let lang = Lang::from_headers(&headers);
    match Posted::read(&body) {
        Some(posted) => handle(&app, posted, false, crate::ops::base_url(&app, &headers)).await,
        None => closed_page(lang, Closed::BadLink),
    }
}

/// `POST /payform/widget`: the widget's form, checked by its [`FormToken`].
pub async fn widget_post(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let lang = Lang::from_headers(&headers);
    match Posted::read(&body) {
        Some(p) if FormToken::new(&app).verify(&p.params, p.attempt, &p.token) => {
            handle(&app, p, true, crate::ops::base_url(&app, &headers)).await
        }
        _ => PageError::forbidden(lang).into_response(),
    }
}

async fn handle(app: &AppState, posted: Posted, short: bool, base_url: Option<String>) -> Response {
    let Ok(params) = PayParams::decode(&posted.params) else {
        return closed_page(Lang::default(), Closed::BadLink);
    };
    let mode = posted.mode();
    let errors = check_fields(&posted, mode, &params);
    if errors.any() {
        return again(app, &params, &posted, short, None, errors).await;
    }
    let answer = run(app, &params, &posted, mode, base_url).await;
    let lang = params.language;
    match answer {
        Ok(answer) => answered(app, &params, &posted, short, answer).await,
        Err(e) if e.body.code == aqsha_wire::codes::reason::TOO_MANY_FAILED_ATTEMPTS.code => {
            used_up(&params, short)
        }
        Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED => {
            let why = if e.body.message.contains("expired") {
                Closed::Expired
            } else {
                Closed::Used
            };
            closed_page(lang, why)
        }
        Err(e) => {
            let message = crate::pages::reasons::payer(i64::from(e.body.code), lang);
            again(
                app,
                &params,
                &posted,
                short,
                Some(message),
                FieldErrors::default(),
            )
            .await
        }
    }
}

/// What the stored answer means for the page (contract point 4).
async fn answered(
    app: &AppState,
    p: &PayParams,
    posted: &Posted,
    short: bool,
    answer: Answer,
) -> Response {
    let body: Value = serde_json::from_str(&answer.stored().body).unwrap_or(Value::Null);
    if let Some(s3d) = body.get("secure3D").filter(|v| v.is_object()) {
        return view::secure(p, short, s3d).into_response();
    }
    if let Some(code) = body.get("code").and_then(Value::as_i64) {
        let message = crate::pages::reasons::payer(code, p.language);
        return again(app, p, posted, short, Some(message), FieldErrors::default()).await;
    }
    let reference = body.get("reference").and_then(Value::as_str).unwrap_or("");
    let t = words::labels(p.language);
    if short {
        return view::result(p, true, true, t.paid, "", None).into_response();
    }
    match p
        .back_link
        .as_deref()
        .and_then(|l| with_query(l, "reference", reference))
    {
        Some(url) => Redirect::to(&url).into_response(),
        None => view::result(p, false, true, t.paid, reference, None).into_response(),
    }
}

/// The form again, for the next free attempt, with a message; or the page that says the
/// payment cannot go on (attempts used up: 2740).
async fn again(
    app: &AppState,
    p: &PayParams,
    posted: &Posted,
    short: bool,
    message: Option<String>,
    errors: FieldErrors,
) -> Response {
    let opened = match open::open(app, p).await {
        Ok(o) => o,
        Err(Refused::Closed(Closed::Attempts)) => return used_up(p, short),
        Err(Refused::Closed(why)) => return closed_page(p.language, why),
        Err(Refused::Failed(e)) => return e.into_response(),
    };
    let csrf = if short {
        FormToken::new(app).token(&posted.params, opened.next_attempt)
    } else {
        posted.token.clone()
    };
    view::form(view::FormView {
        params: p,
        raw_params: &posted.params,
        mode: posted.mode(),
        short,
        opened: &opened,
        csrf: &csrf,
        message,
        errors,
    })
    .into_response()
}

/// The third attempt failed: 2740, in the page, with the way back to the merchant's
/// `failureBackLink` (`errorCode=2740`), or to the widget's parent as `{success:false}`.
fn used_up(p: &PayParams, short: bool) -> Response {
    let lang = p.language;
    let code = aqsha_wire::codes::reason::TOO_MANY_FAILED_ATTEMPTS
        .code
        .to_string();
    let link = p
        .failure_back_link
        .as_deref()
        .and_then(|l| with_query(l, "errorCode", &code));
    let title = crate::pages::reasons::payer(2740, lang);
    let message = words::cannot_open(Closed::Attempts, lang);
    view::result(p, short, false, &title, message, link.as_deref()).into_response()
}

/// `link` with `key=value` added to its query (`?` or `&` as the link needs).
pub fn with_query(link: &str, key: &str, value: &str) -> Option<String> {
    let mut url = url::Url::parse(link).ok()?;
    url.query_pairs_mut().append_pair(key, value);
    Some(url.into())
}

/// The same checks as the script (`assets/payform/payform.js`): the server is the authority.
/// Only the form is checked here; whether the card exists, is live and answers its CVC and
/// expiry is the issuer's question, asked by the transfer.
fn check_fields(f: &Posted, mode: Mode, p: &PayParams) -> FieldErrors {
    let lang = p.language;
    let number = |n: &str| {
        if !(12..=19).contains(&n.len()) || !n.bytes().all(|b| b.is_ascii_digit()) {
            Some(FieldError::Number.text(lang))
        } else if !aqsha_wire::card::luhn_ok(n) {
            Some(FieldError::Luhn.text(lang))
        } else {
            None
        }
    };
    let mut e = FieldErrors::default();
    if mode.has_sender() {
        e.sender_number = number(&f.number);
        e.expiry = expiry(&f.expire)
            .is_none()
            .then(|| FieldError::Expiry.text(lang));
        let cvc_len = if Brand::of(&f.number) == Brand::Amex {
            4
        } else {
            3
        };
        let cvc_ok = f.cvc.len() == cvc_len && f.cvc.bytes().all(|b| b.is_ascii_digit());
        e.cvc = (!cvc_ok).then(|| FieldError::Cvc.text(lang));
        let holder_ok = !f.holder.is_empty()
            && f.holder
                .chars()
                .all(|c| c.is_ascii_alphabetic() || " .'-".contains(c));
        e.holder = (!holder_ok).then(|| FieldError::Holder.text(lang));
    }
    if mode.has_receiver() && p.receiver_card_id.is_none() {
        e.receiver_number = number(&f.receiver);
    }
    e
}

/// `MM/YY` (also `MMYY`, `MM / YY`, `MM/YYYY`) as month and two-digit year.
pub(crate) fn expiry(text: &str) -> Option<(String, String)> {
    let d: String = text.chars().filter(char::is_ascii_digit).collect();
    let (m, y) = match d.len() {
        4 => (&d[..2], &d[2..]),
        6 => (&d[..2], &d[4..]),
        _ => return None,
    };
    Expiry::parse(m, y).map(|_| (m.to_string(), y.to_string()))
}

/// Runs the operation as the API would, with the page's attempt number.
async fn run(
    app: &AppState,
    p: &PayParams,
    f: &Posted,
    mode: Mode,
    base_url: Option<String>,
) -> Result<Answer, EpayError> {
    let sent = request(p, f, mode);
    let token = p.access_token.as_str();
    let attempt = Some(f.attempt);
    let bad = |e: serde_json::Error| EpayError::input(format!("payform request: {e}"));
    match mode {
        Mode::P2p => {
            let request = serde_json::from_value(sent.clone()).map_err(bad)?;
            let call = TransferCall {
                token,
                request,
                sent: Sent {
                    value: sent,
                    attempt,
                    base_url,
                },
            };
            op::transfer(app, call).await
        }
        Mode::Aft | Mode::Oct => {
            let request = serde_json::from_value(sent.clone()).map_err(bad)?;
            let kind = if mode == Mode::Aft {
                OneSideKind::Aft
            } else {
                OneSideKind::Oct
            };
            let call = OneSideCall {
                token,
                kind,
                request,
                sent: Sent {
                    value: sent,
                    attempt,
                    base_url,
                },
            };
            op::one_side(app, call).await
        }
    }
}

/// The API's JSON body for this payment: the order from the params, the cards from the form.
fn request(p: &PayParams, f: &Posted, mode: Mode) -> Value {
    let (month, year) = expiry(&f.expire).unwrap_or_default();
    let sender = json!({
        "transferType": "TYPEPAN", "cardCred": f.number, "cvc": f.cvc,
        "expire": {"month": month, "year": year}, "name": f.holder, "save": p.card_save,
    });
    let receiver = match &p.receiver_card_id {
        Some(id) => json!({"transferType": "TYPECARDID", "cardCred": id}),
        None => json!({"transferType": "TYPEPAN", "cardCred": f.receiver}),
    };
    let card = match mode {
        Mode::P2p => json!({"sender": sender, "receiver": receiver}),
        Mode::Aft => json!({"sender": sender}),
        Mode::Oct => json!({"receiver": receiver}),
    };
    let order = json!({
        "amount": p.amount, "currency": p.currency, "id": p.invoice_id,
        "description": p.description, "accountID": p.account_id, "senderEmail": p.email,
        "terminalId": p.terminal, "backLink": p.back_link,
        "failureBackLink": p.failure_back_link, "postLink": p.post_link,
        "failurePostLink": p.failure_post_link, "language": lang_code(p.language),
    });
    json!({"order": order, "card": card})
}

fn lang_code(lang: Lang) -> &'static str {
    ["rus", "kaz", "eng"][lang.index()]
}
