//! What the second half's pages share (operation, cards, terminals, credentials, sandbox):
//! the three-language text helper their templates call, and how a form post answers.

use super::session::CabinetMerchant;
use crate::error::EpayError;
use crate::pages::csrf::{self, Csrf};
use crate::pages::lang::Lang;
use crate::AppState;
use axum::http::HeaderMap;

/// A template's words: `{{ l.t("Карты", "Карталар", "Cards") }}`, the text of every
/// language beside the others where it is used.
#[derive(Clone, Copy)]
pub struct L(pub Lang);

impl L {
    pub fn t<'a>(&self, rus: &'a str, kaz: &'a str, eng: &'a str) -> &'a str {
        [rus, kaz, eng][self.0.index()]
    }
}

/// What a form post did, shown at the top of the page it renders again.
#[derive(Default)]
pub struct Outcome {
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl Outcome {
    pub fn done(text: &str) -> Outcome {
        Outcome {
            notice: Some(text.to_string()),
            error: None,
        }
    }

    /// An operation's refusal: a prefix in the page's language and the API's own detail (it
    /// never carries a card number: `ops` words its errors so).
    pub fn refused(lang: Lang, e: &EpayError) -> Outcome {
        let prefix = ["Не выполнено", "Орындалмады", "Not done"][lang.index()];
        Outcome {
            notice: None,
            error: Some(format!("{prefix}: {} ({})", e.body.message, e.body.code)),
        }
    }
}

/// The form token for a page a post renders again (the extractor works on safe requests only).
pub fn post_token(app: &AppState, headers: &HeaderMap) -> String {
    csrf::issue(app, &Csrf::new(app), csrf::browser_id(headers))
        .0
         .0
}

/// Whether the sandbox pages and actions exist for this merchant's server.
pub fn sandbox_on(m: &CabinetMerchant) -> bool {
    m.sandbox
}
