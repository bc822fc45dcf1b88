//! A scenario card's fields in the sandbox API (`docs/sandbox.md`, "Outcome table"):
//! `POST /sandbox/cards` takes `outcome`, `delay_ms`, `resolve_to` and `resolve_after_ms`
//! beside the card's terms, and `GET /sandbox/cards` shows them as the card's `scenario`.

use crate::error::EpayError;
use aqsha_core::outcomes::Scenario;
use serde::{Deserialize, Serialize};

/// The scenario fields of a card request; all optional.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct ScenarioFields {
    /// A reason code of the table; absent: the issuer answers naturally.
    #[serde(default)]
    outcome: Option<u32>,
    /// How long the answer is held back, in milliseconds.
    #[serde(default)]
    delay_ms: Option<u32>,
    /// For a non-final outcome: `"CHARGE"` (the default) or a final code.
    #[serde(default)]
    resolve_to: Option<ResolveTo>,
    /// For a non-final outcome: how long it stays pending, in milliseconds.
    #[serde(default)]
    resolve_after_ms: Option<u32>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum ResolveTo {
    Code(u32),
    Name(String),
}

impl ScenarioFields {
    /// Just an outcome, answered at once (the cabinet's issue form offers that much).
    pub fn outcome(outcome: Option<u32>) -> ScenarioFields {
        ScenarioFields {
            outcome,
            ..ScenarioFields::default()
        }
    }

    /// The scenario asked for, checked against the outcome table and its bounds.
    pub fn scenario(&self) -> Result<Scenario, EpayError> {
        let resolve_to = match &self.resolve_to {
            None => None,
            Some(ResolveTo::Code(c)) => Some(*c),
            Some(ResolveTo::Name(n)) if n == "CHARGE" => Some(0),
            Some(ResolveTo::Name(n)) => Some(n.parse::<u32>().map_err(|_| {
                EpayError::input("resolve_to must be \"CHARGE\" or a final reason code")
            })?),
        };
        Scenario::build(
            self.outcome,
            self.delay_ms,
            resolve_to,
            self.resolve_after_ms,
        )
        .map_err(EpayError::input)
    }
}

/// A card's scenario as the sandbox API shows it.
#[derive(Serialize, Debug, PartialEq, Eq, utoipa::ToSchema)]
pub struct ScenarioView {
    outcome: Option<u32>,
    delay_ms: u32,
    /// Only for a non-final outcome: `"CHARGE"` or the final code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    resolve_to: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolve_after_ms: Option<u32>,
}

/// The view of a card's scenario; `None` for a card that answers naturally.
pub fn view(s: &Scenario) -> Option<ScenarioView> {
    if !s.is_set() {
        return None;
    }
    let pending = s
        .outcome
        .and_then(aqsha_wire::codes::lookup)
        .is_some_and(|c| !c.is_final);
    Some(ScenarioView {
        outcome: s.outcome,
        delay_ms: s.delay_ms,
        resolve_to: pending.then(|| match s.resolve_to {
            0 => serde_json::Value::from("CHARGE"),
            code => serde_json::Value::from(code),
        }),
        resolve_after_ms: pending.then_some(s.resolve_after_ms),
    })
}
