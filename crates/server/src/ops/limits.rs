//! A terminal's limits as a request gives them (issue 14, item 3): the sandbox API's
//! `PUT /sandbox/terminals/{id}/limits` and the cabinet's terminals page read them into
//! [`LimitsInput`] and check them here into the [`LimitSettings`] the store keeps.

use crate::error::EpayError;
use aqsha_core::limits::LimitSettings;
use aqsha_core::money::Money;
use aqsha_wire::WireAmount;
use serde::Deserialize;

/// A `PUT` body: each field optional; unknown fields are refused, so a misspelt limit is not
/// silently left at its default.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsInput {
    #[serde(default)]
    pub per_transfer: Option<WireAmount>,
    #[serde(default)]
    pub sender_daily_transfers: Option<i64>,
    #[serde(default)]
    pub receiver_daily: Option<WireAmount>,
    #[serde(default)]
    pub terminal_daily: Option<WireAmount>,
    #[serde(default)]
    pub terminal_total: Option<WireAmount>,
}

/// A limit amount: positive, at most two decimals, at most the largest amount Aqsha takes.
fn amount(name: &str, a: &Option<WireAmount>) -> Result<Option<Money>, EpayError> {
    a.as_ref()
        .map(|a| {
            Money::parse_positive(a.as_str()).map_err(|e| EpayError::input(format!("{name}: {e}")))
        })
        .transpose()
}

pub fn settings(req: &LimitsInput) -> Result<LimitSettings, EpayError> {
    if req.sender_daily_transfers.is_some_and(|n| n < 0) {
        return Err(EpayError::input(
            "sender_daily_transfers must be zero or more",
        ));
    }
    Ok(LimitSettings {
        per_transfer: amount("per_transfer", &req.per_transfer)?,
        sender_daily_transfers: req.sender_daily_transfers,
        receiver_daily: amount("receiver_daily", &req.receiver_daily)?,
        terminal_daily: amount("terminal_daily", &req.terminal_daily)?,
        terminal_total: amount("terminal_total", &req.terminal_total)?,
    })
}
