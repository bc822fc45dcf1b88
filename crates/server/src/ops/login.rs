//! The cabinet login (issue 14's password grant, issue 16's cabinet): one check of an e-mail
//! and a password, for the API's `grant_type=password` and the cabinet's login form alike, so
//! a guesser gains nothing by switching between them.
//!
//! Two limits apply, both before the password is looked at:
//! - the process's [`crate::throttle`] (keyed `login:<login>`): a burst of failures is
//!   refused for a minute, except to addresses that logged in as it recently, and an address
//!   failing for many logins is refused outright;
//! - the durable lock ([`aqsha_core::cabinet::LoginPolicy`], ten failures, 30 minutes): kept in
//!   the database, so it holds across restarts and for every instance on that database, and
//!   it refuses the right password too while it lasts. It is kept for unknown logins as well,
//!   so that a lock says nothing about which logins exist.
//!
//! An unknown login is verified against a stand-in hash, so it takes as long as a known one.

use crate::App;
use aqsha_core::provision::{hash_password, verify_password};
use aqsha_core::records::MerchantRecord;
use aqsha_core::store::StoreError;
use chrono::{DateTime, Utc};
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

/// What a login check found.
pub enum LoginCheck {
    /// The merchant, and the login in lower case.
    Allowed(MerchantRecord, String),
    /// Unknown login or wrong password (the two look alike); `locked_until` when this failure
    /// locked the login.
    Denied { locked_until: Option<DateTime<Utc>> },
    /// The right password of a disabled merchant.
    Disabled,
    /// Refused without looking at the password; retry after this long.
    Locked(Duration),
}

/// A hash no password is checked against in earnest: an unknown login is verified against it,
/// so that it takes as long as a known one and the answer's timing does not tell them apart.
fn stand_in_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("aqsha stand-in").unwrap_or_default())
}

/// Checks a login and password; see the module documentation.
pub async fn check(
    app: &App,
    login: &str,
    password: &str,
    peer: Option<IpAddr>,
) -> Result<LoginCheck, StoreError> {
    let login = login.trim().to_lowercase();
    let key = format!("login:{login}");
    // The durable lock first: when both refuse, its wait is the one to tell.
    let now = Utc::now();
    if let Some(until) = app.store.login_locked_until(&login, now).await? {
        warn_refused(&login, peer, "the login is locked");
        return Ok(LoginCheck::Locked(
            (until - now).to_std().unwrap_or_default(),
        ));
    }
    if let Err(wait) = app.throttle.check(&key, peer) {
        warn_refused(&login, peer, "too many failures in a short time");
        return Ok(LoginCheck::Locked(wait));
    }
    let found = app.store.merchant_by_login(&login).await?;
    let hash = found
        .as_ref()
        .map_or_else(|| stand_in_hash().to_string(), |(_, h)| h.clone());
    let given = password.to_string();
    // argon2id takes tens of milliseconds of CPU by design: off the async threads.
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &given))
        .await
        .unwrap_or(false);
    match found.filter(|_| ok) {
        Some((m, _)) if !m.disabled => {
            app.throttle.succeeded(&key, peer);
            app.store.login_succeeded(&login).await?;
            Ok(LoginCheck::Allowed(m, login))
        }
        Some(_) => Ok(LoginCheck::Disabled),
        None => {
            app.throttle.failed(&key, peer);
            let locked_until = app
                .store
                .login_failed(&login, Utc::now(), app.cabinet.login)
                .await?;
            tracing::warn!(
                request = %crate::request_id(), login = ?shown(&login), peer = ?peer,
                locked = locked_until.is_some(), "login failed"
            );
            Ok(LoginCheck::Denied { locked_until })
        }
    }
}

fn warn_refused(login: &str, peer: Option<IpAddr>, why: &str) {
    tracing::warn!(
        request = %crate::request_id(), login = ?shown(login), peer = ?peer,
        "login refused: {why}"
    );
}

/// A login as logged: at most 64 characters, Debug-quoted by the caller.
fn shown(login: &str) -> String {
    login.chars().take(64).collect()
}
