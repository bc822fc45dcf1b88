//! 3-D Secure as operations (`docs/protocol.md`, "3-D Secure"): the sandbox ACS's answer
//! sealed into a `PaRes`, and confirmPayment's completion of the operation with it. The rule
//! itself (who is challenged, how answers count, how the operation finishes) is core's
//! `transfer::secure3d`; the pages (`pages::acs`) only read forms and render.

use crate::AppState;
use aqsha_core::records::{OperationRecord, OperationStatus};
use aqsha_core::transfer::scenario::Resolution;
use aqsha_core::vault::Vault;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The vault purpose a `PaRes` is sealed under: only this server's ACS makes one.
const PA_RES_PURPOSE: &str = "secure3d/pares/v1";

/// The ACS's result for an operation, sealed: `operation id`, a newline, the result (0 passed,
/// else the reason code it failed with).
pub fn seal_pa_res(vault: &Vault, operation_id: &str, result: u32) -> String {
    let msg = format!("{operation_id}\n{result}");
    URL_SAFE_NO_PAD.encode(vault.seal_for(PA_RES_PURPOSE, msg.as_bytes()))
}

/// The operation and result a `PaRes` names; `None` for one this server's ACS did not make.
pub fn open_pa_res(vault: &Vault, pa_res: &str) -> Option<(String, u32)> {
    let blob = URL_SAFE_NO_PAD.decode(pa_res.trim()).ok()?;
    let msg = String::from_utf8(vault.open_for(PA_RES_PURPOSE, &blob)?).ok()?;
    let (operation_id, result) = msg.split_once('\n')?;
    Some((operation_id.to_string(), result.parse().ok()?))
}

/// How a confirmed operation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Charged: its retrieval reference.
    Charged(String),
    /// Failed with this reason code.
    Failed(u32),
}

/// What confirmPayment learnt: the outcome, where the browser goes for it, and the order's
/// language for a page of our own.
#[derive(Debug, Clone)]
pub struct Confirmation {
    pub outcome: Outcome,
    /// `backLink` with `reference`, or `failureBackLink` with `errorCode`; `None` when the
    /// order gave no (usable) link for this outcome.
    pub redirect: Option<String>,
    pub language: String,
    /// The order's `backLink`, `failureBackLink` and `postLink` (empty when not given): the
    /// widget's page finds the origin that frames it from them.
    pub links: [String; 3],
}

/// Why a confirmation was refused. Nothing was changed.
#[derive(Debug)]
pub enum Refused {
    /// The `PaRes` was not made by this server's ACS, names another operation than `MD`, or
    /// another result than the challenge's.
    NotOurs,
    /// The store failed; the browser may post again.
    Store(aqsha_core::store::StoreError),
}

/// Finishes the operation `md` with the ACS's sealed result, in one commit, once: a `PaRes`
/// posted again finds the operation finished and answers as the first time.
pub async fn confirm(app: &AppState, md: &str, pa_res: &str) -> Result<Confirmation, Refused> {
    let (operation_id, result) = open_pa_res(&app.vault, pa_res).ok_or(Refused::NotOurs)?;
    if operation_id != md.trim() {
        return Err(Refused::NotOurs);
    }
    let done = app
        .store
        .confirm_challenge(&operation_id, result)
        .await
        .map_err(Refused::Store)?
        .ok_or(Refused::NotOurs)?;
    if done.resolution != Resolution::Skipped {
        // Its callback was queued in the same commit.
        app.callbacks_wake.notify_one();
    }
    let outcome = outcome(&done.operation).ok_or(Refused::NotOurs)?;
    let redirect = match &outcome {
        Outcome::Charged(reference) => {
            with_param(&done.challenge.back_link, "reference", reference)
        }
        Outcome::Failed(code) => with_param(
            &done.challenge.failure_back_link,
            "errorCode",
            &code.to_string(),
        ),
    };
    let links = [
        done.challenge.back_link.clone(),
        done.challenge.failure_back_link.clone(),
        done.operation.post_link.clone().unwrap_or_default(),
    ];
    Ok(Confirmation {
        outcome,
        redirect,
        language: done.operation.language,
        links,
    })
}

/// A finished operation's outcome; `None` while it is still pending (which a confirmed
/// challenge's operation never is).
fn outcome(op: &OperationRecord) -> Option<Outcome> {
    match op.status {
        OperationStatus::Charge => Some(Outcome::Charged(op.reference.clone())),
        OperationStatus::Failed => Some(Outcome::Failed(op.reason_code)),
        OperationStatus::Pending => None,
    }
}

/// `link` with `name=value` added to its query (`?` or `&` as it needs, before any
/// fragment): the URL convention Halyk's SDK watches for. `None` for an empty link or one that
/// is not http(s). `value` is digits, safe in a query as is.
pub fn with_param(link: &str, name: &str, value: &str) -> Option<String> {
    let link = link.trim();
    if !(link.starts_with("https://") || link.starts_with("http://")) {
        return None;
    }
    let (base, fragment) = match link.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (link, None),
    };
    let sep = match base.find('?') {
        None => "?",
        Some(i) if i + 1 == base.len() || base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut out = format!("{base}{sep}{name}={value}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_join_the_query_as_the_link_needs() {
        let p = |l| with_param(l, "reference", "123");
        assert_eq!(
            p("https://s.kz/ok").unwrap(),
            "https://s.kz/ok?reference=123"
        );
        assert_eq!(
            p("https://s.kz/ok?a=1").unwrap(),
            "https://s.kz/ok?a=1&reference=123"
        );
        assert_eq!(
            p("https://s.kz/ok?").unwrap(),
            "https://s.kz/ok?reference=123"
        );
        assert_eq!(
            p("https://s.kz/ok#x").unwrap(),
            "https://s.kz/ok?reference=123#x"
        );
        assert_eq!(p(""), None);
        assert_eq!(p("javascript:alert(1)"), None);
    }
}
