//! The hosted payment form, `/payform/` (issue 15; docs/payform.md): ePay's "P2P redirect to
//! form". A merchant's page loads `/payform/payment-api.js` and calls `halyk.p2p(params)`;
//! the browser arrives here with the params compressed in the URL ([`params`]); the page
//! checks the token as the API would ([`open`]), shows a card form ([`view`]), and its post
//! ([`submit`]) runs the API's own operation, `crate::ops::transfer`.
//!
//! The widget (`isShortForm=true`) is the same page in a merchant's iframe. Its posts go to
//! `/payform/widget`, outside the cookie CSRF layer: a framed page gets no `SameSite=Strict`
//! cookie. Its forms carry instead a token the server ties to the form ([`FormToken`]).

pub mod open;
pub mod params;
pub mod script;
pub mod submit;
pub mod view;
pub mod words;

use crate::pages::csrf::CsrfToken;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use open::Refused;
use params::{PageQuery, PayParams};
use sha2::Sha256;
use words::Closed;

/// `GET /payform/?params=…&isTransfer=true`: the card form, or a page saying why not.
pub async fn page(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    csrf: CsrfToken,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let Some(q) = query.as_deref().and_then(PageQuery::parse) else {
        return closed_page(lang, Closed::BadLink);
    };
    let Ok(params) = PayParams::decode(&q.params) else {
        return closed_page(lang, Closed::BadLink);
    };
    let opened = match open::open(&app, &params).await {
        Ok(o) => o,
        Err(r) => return refused(&params, r),
    };
    let csrf = if q.short {
        FormToken::new(&app).token(&q.params, opened.next_attempt)
    } else {
        csrf.0
    };
    view::form(view::FormView {
        params: &params,
        raw_params: &q.params,
        mode: q.mode,
        short: q.short,
        opened: &opened,
        csrf: &csrf,
        message: None,
        errors: view::FieldErrors::default(),
    })
    .into_response()
}

/// A page that cannot take a payment, and says why in the page's language.
pub fn closed_page(lang: Lang, why: Closed) -> Response {
    let status = match why {
        Closed::BadLink | Closed::Mismatch => StatusCode::BAD_REQUEST,
        Closed::Expired | Closed::Used | Closed::Paid | Closed::Attempts => StatusCode::GONE,
    };
    PageError::new(status, lang)
        .with_detail(words::cannot_open(why, lang))
        .into_response()
}

fn refused(p: &PayParams, r: Refused) -> Response {
    match r {
        Refused::Closed(why) => closed_page(p.language, why),
        Refused::Failed(e) => e.into_response(),
    }
}

/// The widget's form token: `HMAC(key, params, attempt)`, so a post to `/payform/widget`
/// must come from a form this server drew for those params and that attempt. The widget has
/// no cookie to bind to; what the payer could do with a forged post (pay with their own card
/// details, on the merchant's token) it can do with the form itself.
pub struct FormToken {
    key: [u8; 32],
}

impl FormToken {
    pub fn new(app: &crate::App) -> FormToken {
        FormToken {
            key: app.vault.purpose_key("pages/payform-widget/v1"),
        }
    }

    fn mac(&self, params: &str, attempt: u8) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(b"payform-widget\0");
        mac.update(params.as_bytes());
        mac.update(&[0, attempt]);
        mac
    }

    pub fn token(&self, params: &str, attempt: u8) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(params, attempt).finalize().into_bytes())
    }

    pub fn verify(&self, params: &str, attempt: u8, token: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(token)
            .is_ok_and(|tag| self.mac(params, attempt).verify_slice(&tag).is_ok())
    }
}
