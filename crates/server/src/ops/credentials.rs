//! A merchant's credentials: rotation of its `client_secret` and of its callback signing
//! secret. One way to do each, for `aqsha merchant rotate-secret` / `rotate-callback-secret`
//! and the cabinet's credentials page alike.

use aqsha_core::provision::random_secret;
use aqsha_core::store::{MerchantChange, Store, StoreResult};
use aqsha_core::vault::sha256_hex;

/// Length of generated client secrets (the seed's is 36 characters).
pub const CLIENT_SECRET_LEN: usize = 36;
/// Length of generated callback signing secrets.
pub const CALLBACK_SECRET_LEN: usize = 40;

/// A new client secret for the merchant with this `client_id`, returned to be shown once
/// (only its hash is kept); `None` when there is no such merchant. The old secret is refused
/// from the next token request on: the token endpoint reads the merchant without a cache.
pub async fn rotate_client_secret(
    store: &dyn Store,
    client_id: &str,
) -> StoreResult<Option<String>> {
    let secret = random_secret(CLIENT_SECRET_LEN);
    let change = MerchantChange::SecretHash(sha256_hex(secret.as_bytes()));
    let found = store.update_merchant(client_id, change).await?;
    Ok(found.then_some(secret))
}

/// A new callback signing secret, used from the next attempt on (retries of older events
/// included); `None` when there is no such merchant.
pub async fn rotate_callback_secret(
    store: &dyn Store,
    client_id: &str,
) -> StoreResult<Option<String>> {
    let secret = random_secret(CALLBACK_SECRET_LEN);
    let change = MerchantChange::CallbackSecret(secret.clone());
    let found = store.update_merchant(client_id, change).await?;
    Ok(found.then_some(secret))
}
