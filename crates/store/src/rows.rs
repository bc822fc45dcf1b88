//! Row mappings shared by every backend: each driver exposes its rows through [`Cols`], and the
//! records are read from columns in one place, in the order of the `*_COLUMNS` lists.

use aqsha_core::card::{Brand, Expiry};
use aqsha_core::fee::FeeSchedule;
use aqsha_core::money::{Currency, Money};
use aqsha_core::outcomes::Scenario;
use aqsha_core::records::{
    CallbackAttempt, CallbackEvent, CallbackKind, CallbackStatus, Challenge, MerchantRecord,
    NetworkCard, OperationKind, OperationRecord, OperationStatus, SideRecord, TerminalRecord,
    TransferType, VaultCard,
};
use aqsha_core::store::{SandboxCardView, StoreError, StoreResult};
use aqsha_core::vault::SealedPan;
use chrono::{DateTime, Utc};

/// Typed access to one result row, by column index.
pub trait Cols {
    fn text(&self, i: usize) -> StoreResult<String>;
    fn opt_text(&self, i: usize) -> StoreResult<Option<String>>;
    fn int(&self, i: usize) -> StoreResult<i64>;
    fn opt_int(&self, i: usize) -> StoreResult<Option<i64>>;
    fn boolean(&self, i: usize) -> StoreResult<bool>;
    fn blob(&self, i: usize) -> StoreResult<Vec<u8>>;
}

pub const MERCHANT_COLUMNS: &str = "id, client_id, secret_hash, name, disabled";
pub const TERMINAL_COLUMNS: &str =
    "id, merchant_id, currency, fee_bps, fee_min, fee_account, number";
pub const NETWORK_CARD_COLUMNS: &str = "id, fingerprint, mask, brand, exp_month, exp_year, cvc_check, locked, enforce_expiry, account_id, currency, owner_merchant_id, scenario_outcome, scenario_delay_ms, scenario_resolve_to, scenario_resolve_after_ms, secure3d";
pub const VAULT_CARD_COLUMNS: &str = "id, merchant_id, account_id, fingerprint, key_id, pan_sealed, mask, brand, payer_name, active, created_at, transaction_id, reference, int_reference, terminal_id";
pub const OPERATION_COLUMNS: &str = "id, merchant_id, terminal_id, invoice_id, account_id, amount, fee, currency, description, email, status, reason_code, reason, reference, int_reference, sender_card_id, sender_mask, sender_brand, sender_type, receiver_card_id, receiver_mask, receiver_brand, receiver_type, token_id, request_digest, http_status, response_body, created_at, post_link, failure_post_link, secret_hash, kind, language, approval_code";
pub const EVENT_COLUMNS: &str =
    "id, merchant_id, operation_id, invoice_id, url, kind, body, created_at";
pub const ATTEMPT_COLUMNS: &str =
    "attempt, at, http_status, error, duration_ms, response_excerpt, next_attempt_at";
/// The public cards and the given merchant's own ($1).
pub const SANDBOX_CARD_SELECT: &str =
    "SELECT n.id, n.mask, n.brand, n.locked, a.balance, n.currency, n.exp_month, n.exp_year,
     n.scenario_outcome, n.scenario_delay_ms, n.scenario_resolve_to, n.scenario_resolve_after_ms,
     n.secure3d, n.owner_merchant_id
     FROM network_cards n JOIN accounts a ON a.id = n.account_id
     WHERE n.owner_merchant_id IS NULL OR n.owner_merchant_id = $1
     ORDER BY n.created_at, n.id";

pub fn currency(text: String) -> StoreResult<Currency> {
    Currency::parse(&text)
        .ok_or_else(|| StoreError::Db(format!("unknown currency {text:?} in database")))
}

pub fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn small<T: TryFrom<i64>>(v: i64) -> StoreResult<T> {
    T::try_from(v).map_err(|_| StoreError::Db(format!("value {v} out of range")))
}

pub fn merchant(r: &dyn Cols) -> StoreResult<MerchantRecord> {
    Ok(MerchantRecord {
        id: r.text(0)?,
        client_id: r.text(1)?,
        secret_hash: r.text(2)?,
        name: r.text(3)?,
        disabled: r.boolean(4)?,
    })
}

pub fn terminal(r: &dyn Cols) -> StoreResult<TerminalRecord> {
    Ok(TerminalRecord {
        id: r.text(0)?,
        merchant_id: r.text(1)?,
        currency: currency(r.text(2)?)?,
        fee: FeeSchedule {
            percent_bps: r.int(3)?,
            min_fee: Money::from_minor(r.int(4)?),
        },
        fee_account: r.text(5)?,
        number: r.text(6)?,
    })
}

pub fn network_card(r: &dyn Cols) -> StoreResult<NetworkCard> {
    Ok(NetworkCard {
        id: r.text(0)?,
        fingerprint: r.text(1)?,
        mask: r.text(2)?,
        brand: Brand::from_name(&r.text(3)?),
        expiry: Expiry {
            month: small(r.int(4)?)?,
            year: small(r.int(5)?)?,
        },
        cvc_check: r.text(6)?,
        locked: r.boolean(7)?,
        enforce_expiry: r.boolean(8)?,
        account_id: r.text(9)?,
        currency: currency(r.text(10)?)?,
        owner: r.opt_text(11)?,
        scenario: scenario(r, 12)?,
        secure3d: r.boolean(16)?,
    })
}

/// A card's scenario from its four columns, from `at` on (migration "network_card_scenarios").
fn scenario(r: &dyn Cols, at: usize) -> StoreResult<Scenario> {
    Ok(Scenario {
        outcome: r.opt_int(at)?.map(small).transpose()?,
        delay_ms: small(r.int(at + 1)?)?,
        resolve_to: small(r.int(at + 2)?)?,
        resolve_after_ms: small(r.int(at + 3)?)?,
    })
}

pub const CHALLENGE_COLUMNS: &str = "operation_id, merchant_id, pa_req, wrong_codes, result, expires_at, back_link, failure_back_link";

pub fn challenge(r: &dyn Cols) -> StoreResult<Challenge> {
    Ok(Challenge {
        operation_id: r.text(0)?,
        merchant_id: r.text(1)?,
        pa_req: r.text(2)?,
        wrong_codes: small(r.int(3)?)?,
        result: r.opt_int(4)?.map(small).transpose()?,
        expires_at: millis(r.int(5)?),
        back_link: r.text(6)?,
        failure_back_link: r.text(7)?,
    })
}

pub fn vault_card(r: &dyn Cols) -> StoreResult<VaultCard> {
    Ok(VaultCard {
        id: r.text(0)?,
        merchant_id: r.text(1)?,
        account_id: r.text(2)?,
        fingerprint: r.text(3)?,
        sealed: SealedPan {
            key_id: r.text(4)?,
            blob: r.blob(5)?,
        },
        mask: r.text(6)?,
        brand: Brand::from_name(&r.text(7)?),
        payer_name: r.text(8)?,
        active: r.boolean(9)?,
        created_at: time(&r.text(10)?),
        transaction_id: r.text(11)?,
        reference: r.text(12)?,
        int_reference: r.text(13)?,
        terminal_id: r.text(14)?,
    })
}

/// A side never looked at (a decline before it) is stored with empty brand and type.
fn side(r: &dyn Cols, at: usize) -> StoreResult<SideRecord> {
    let (brand, transfer_type) = (r.text(at + 2)?, r.text(at + 3)?);
    Ok(SideRecord {
        card_id: r.text(at)?,
        mask: r.text(at + 1)?,
        brand: (!brand.is_empty()).then(|| Brand::from_name(&brand)),
        transfer_type: match transfer_type.as_str() {
            "" => None,
            t => Some(closed(TransferType::parse(t), "transfer type", t)?),
        },
    })
}

/// A closed set's value read back; anything else in the database is an error, not a guess.
fn closed<T>(value: Option<T>, what: &str, text: &str) -> StoreResult<T> {
    value.ok_or_else(|| StoreError::Db(format!("unknown {what} {text:?} in database")))
}

pub fn callback_status(text: &str) -> StoreResult<CallbackStatus> {
    closed(CallbackStatus::parse(text), "callback status", text)
}

pub fn operation(r: &dyn Cols) -> StoreResult<OperationRecord> {
    Ok(OperationRecord {
        id: r.text(0)?,
        merchant_id: r.text(1)?,
        terminal_id: r.text(2)?,
        invoice_id: r.text(3)?,
        account_id: r.text(4)?,
        amount: Money::from_minor(r.int(5)?),
        fee: Money::from_minor(r.int(6)?),
        currency: r.text(7)?,
        description: r.text(8)?,
        email: r.text(9)?,
        status: {
            let s = r.text(10)?;
            closed(OperationStatus::parse(&s), "operation status", &s)?
        },
        reason_code: small(r.int(11)?)?,
        reason: r.text(12)?,
        reference: r.text(13)?,
        int_reference: r.text(14)?,
        sender: side(r, 15)?,
        receiver: side(r, 19)?,
        token_id: r.text(23)?,
        request_digest: r.text(24)?,
        http_status: small(r.int(25)?)?,
        response_body: r.text(26)?,
        created_at: time(&r.text(27)?),
        post_link: r.opt_text(28)?,
        failure_post_link: r.opt_text(29)?,
        secret_hash: r.opt_text(30)?,
        kind: {
            let k = r.text(31)?;
            closed(OperationKind::parse(&k), "operation kind", &k)?
        },
        language: r.text(32)?,
        approval_code: r.text(33)?,
    })
}

pub fn event(r: &dyn Cols) -> StoreResult<CallbackEvent> {
    Ok(CallbackEvent {
        id: r.text(0)?,
        merchant_id: r.text(1)?,
        operation_id: r.text(2)?,
        invoice_id: r.text(3)?,
        url: r.text(4)?,
        kind: {
            let k = r.text(5)?;
            closed(CallbackKind::parse(&k), "callback kind", &k)?
        },
        body: r.text(6)?,
        created_at: millis(r.int(7)?),
    })
}

pub fn attempt(r: &dyn Cols) -> StoreResult<CallbackAttempt> {
    Ok(CallbackAttempt {
        attempt: small(r.int(0)?)?,
        at: millis(r.int(1)?),
        http_status: r.opt_int(2)?.map(small).transpose()?,
        error: r.opt_text(3)?,
        duration_ms: small(r.int(4)?)?,
        response_excerpt: r.opt_text(5)?,
        next_attempt_at: r.opt_int(6)?.map(millis),
    })
}

pub fn sandbox_card(r: &dyn Cols) -> StoreResult<SandboxCardView> {
    Ok(SandboxCardView {
        id: r.text(0)?,
        mask: r.text(1)?,
        brand: Brand::from_name(&r.text(2)?),
        locked: r.boolean(3)?,
        balance: Money::from_minor(r.int(4)?),
        currency: currency(r.text(5)?)?,
        expiry: Expiry {
            month: small(r.int(6)?)?,
            year: small(r.int(7)?)?,
        },
        scenario: scenario(r, 8)?,
        secure3d: r.boolean(12)?,
        public: r.opt_text(13)?.is_none(),
    })
}
