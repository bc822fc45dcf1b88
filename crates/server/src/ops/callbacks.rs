//! Callback events on demand: the sandbox API's resend and the cabinet's Resend button.

use crate::AppState;
use aqsha_core::store::StoreResult;

/// Makes one of the merchant's events due again now in the outbox (durable: a restart
/// delivers it too) and wakes this instance's dispatcher; `false` when the merchant has no
/// such event.
pub async fn resend(state: &AppState, merchant_id: &str, event_id: &str) -> StoreResult<bool> {
    let found = state.store.resend_callback(merchant_id, event_id).await?;
    if found {
        state.callbacks_wake.notify_one();
    }
    Ok(found)
}
