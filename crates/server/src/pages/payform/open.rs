//! Whether the page may show a card form for these params, checked as the API would check the
//! transfer: the token opens, is live and not spent, the order fits its binding, the terminal
//! is the merchant's, the invoice is not paid, and an attempt is left. What the page shows
//! (merchant, amount, fee) comes from the same records the transfer reads.

use super::params::PayParams;
use super::words::Closed;
use crate::pages::error::PageError;
use crate::AppState;
use aqsha_core::money::{Currency, Money};
use aqsha_core::token::TokenClaims;
use aqsha_core::transfer::{order_fits_token, page_attempt_key, OrderInput, PAGE_ATTEMPTS};

/// A payment the page may take, with what it shows.
pub struct Opened {
    pub claims: TokenClaims,
    pub merchant: String,
    pub amount: Money,
    pub fee: Money,
    pub currency: Currency,
    /// The next attempt not yet used (1 to [`PAGE_ATTEMPTS`]).
    pub next_attempt: u8,
}

/// Why the page cannot go on: a [`Closed`] reason for the person, or our own failure.
pub enum Refused {
    Closed(Closed),
    Failed(PageError),
}

/// The order the page will send, as core's checks read it.
pub fn order_input(p: &PayParams) -> OrderInput {
    OrderInput {
        amount: p.amount.clone(),
        currency: p.currency.clone(),
        invoice_id: p.invoice_id.clone(),
        account_id: p.account_id.clone(),
        terminal_id: p.terminal.clone(),
        post_link: p.post_link.clone(),
        failure_post_link: p.failure_post_link.clone(),
        ..OrderInput::default()
    }
}

/// Opens the payment for `p`; see the module documentation.
pub async fn open(app: &AppState, p: &PayParams) -> Result<Opened, Refused> {
    let lang = p.language;
    let failed = |e: aqsha_core::store::StoreError| {
        Refused::Failed(PageError::internal(lang, "payform: store read failed", e))
    };
    let closed = |c| Err(Refused::Closed(c));
    let Some(claims) = aqsha_core::token::open(&app.vault, &p.access_token) else {
        return closed(Closed::BadLink);
    };
    if claims.expires_at <= chrono::Utc::now() {
        return closed(Closed::Expired);
    }
    if claims.login.is_some() || !(claims.has_scope("transfer") || claims.has_scope("payment")) {
        return closed(Closed::Mismatch);
    }
    let Ok((amount, currency)) = order_fits_token(&claims, &order_input(p)) else {
        return closed(Closed::Mismatch);
    };
    if p.terminal.is_some() && claims.terminal_id.is_some() && p.terminal != claims.terminal_id {
        return closed(Closed::Mismatch);
    }
    let Some(terminal_id) = p.terminal.as_ref().or(claims.terminal_id.as_ref()) else {
        return closed(Closed::Mismatch);
    };
    let store = &app.store;
    let terminal = match store.terminal(terminal_id).await.map_err(failed)? {
        Some(t) if t.merchant_id == claims.merchant_id && t.currency == currency => t,
        _ => return closed(Closed::Mismatch),
    };
    let paid = store
        .invoice_status(&claims.merchant_id, &p.invoice_id)
        .await
        .map_err(failed)?
        .is_some_and(|op| op.charged());
    if paid {
        return closed(Closed::Paid);
    }
    if store
        .token_spent_by(&claims.id)
        .await
        .map_err(failed)?
        .is_some()
    {
        return closed(Closed::Used);
    }
    let next_attempt = next_attempt(app, &claims.id).await.map_err(failed)?;
    let Some(next_attempt) = next_attempt else {
        return closed(Closed::Attempts);
    };
    let Some(fee) = terminal.fee.fee_for(amount) else {
        return closed(Closed::Mismatch);
    };
    let merchant = store
        .merchant_name(&claims.merchant_id)
        .await
        .map_err(failed)?
        .unwrap_or_default();
    Ok(Opened {
        claims,
        merchant,
        amount,
        fee,
        currency,
        next_attempt,
    })
}

/// The first of the page's attempts on this token that no operation has spent.
async fn next_attempt(
    app: &AppState,
    token_id: &str,
) -> Result<Option<u8>, aqsha_core::store::StoreError> {
    for n in 1..=PAGE_ATTEMPTS {
        if app
            .store
            .token_spent_by(&page_attempt_key(token_id, n))
            .await?
            .is_none()
        {
            return Ok(Some(n));
        }
    }
    Ok(None)
}
