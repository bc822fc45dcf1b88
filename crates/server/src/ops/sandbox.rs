//! The sandbox network's operations for a merchant (issue 12 and 14), shared by the sandbox
//! API (`routes::sandbox`, `routes::sandbox_merchant`) and the cabinet's sandbox page: issue
//! a card in the merchant's own world, top one up, fund the settlement account, add a
//! terminal, bind a phone. Each takes typed input; the caller has already said who the
//! merchant is.

use crate::error::EpayError;
use crate::ops::card;
use crate::AppState;
use aqsha_core::card::{Cvc, Expiry};
use aqsha_core::money::{Currency, Money};
use aqsha_core::provision::{network_card, new_phone, CardTerms, NewRecords, PhoneCard};
use aqsha_core::store::{SandboxCardView, StoreError};
use aqsha_wire::codes::reason;
use aqsha_wire::WireAmount;
use axum::http::StatusCode;
use rand::Rng;
use serde::Deserialize;

/// A card to issue, as `POST /sandbox/cards` takes it.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct IssueCard {
    /// A card number to issue; a random Luhn-valid VISA number when absent.
    pub pan: Option<String>,
    /// `MM/YY`.
    #[schema(example = "12/30")]
    pub expire: String,
    #[schema(format = Password, example = "123")]
    pub cvc: String,
    #[serde(default)]
    pub balance: Option<WireAmount>,
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(flatten)]
    pub scenario: crate::routes::scenario::ScenarioFields,
    /// Enrolled in 3-D Secure: transfers paid with its number wait for the ACS challenge.
    #[serde(default)]
    pub secure3d: bool,
}

fn random_visa() -> String {
    let mut rng = rand::thread_rng();
    let body: String = std::iter::once('4')
        .chain("000".chars())
        .chain((0..11).map(|_| char::from(b'0' + rng.gen_range(0..10u8))))
        .collect();
    let check = aqsha_wire::card::luhn_check_digit(&body);
    format!("{body}{check}")
}

/// Makes the card in the merchant's own world and installs it funded from the merchant's
/// funding account. Returns the card and its full number, which the caller shows once.
pub async fn issue(
    state: &AppState,
    merchant_id: &str,
    mut req: IssueCard,
) -> Result<(SandboxCardView, String), EpayError> {
    let pan_text = req.pan.take().unwrap_or_else(random_visa);
    let known = card::known_pan(state, merchant_id, &pan_text, "pan")?;
    if !known.pan.luhn_ok() {
        return Err(EpayError::input("pan fails the Luhn check"));
    }
    // The public test cards are documented for everyone, so saying so reveals nothing;
    // any other number is issued in the caller's own world, whoever else holds it.
    if state.public_cards.contains(&state.vault, &known.pan) {
        return Err(EpayError::input(
            "pan is one of the network's public test cards, which every merchant shares; \
             issue another number",
        ));
    }
    let (terms, cvc) = card_terms(&req)?;
    let owner = Some(merchant_id.to_string());
    let card = network_card(
        &state.vault,
        known.fingerprint,
        owner,
        &known.pan,
        &cvc,
        terms,
    );
    let view = SandboxCardView {
        id: card.card.id.clone(),
        mask: card.card.mask.clone(),
        brand: card.card.brand,
        locked: terms.locked,
        balance: terms.balance,
        currency: terms.currency,
        expiry: terms.expiry,
        scenario: terms.scenario,
        secure3d: terms.secure3d,
        public: false,
    };
    let seed = NewRecords {
        cards: vec![card],
        funding_cap: Some(state.funding_cap),
        ..Default::default()
    };
    state.store.install(seed).await.map_err(install_failed)?;
    Ok((view, pan_text))
}

/// The card's terms as asked (expiry, lock, balance, currency) and its CVC, checked in that
/// order after the number.
fn card_terms(req: &IssueCard) -> Result<(CardTerms, Cvc), EpayError> {
    let (mm, yy) = req
        .expire
        .split_once('/')
        .ok_or_else(|| EpayError::input("expire must be MM/YY"))?;
    let expiry = Expiry::parse(mm, yy).ok_or_else(|| EpayError::input("expire must be MM/YY"))?;
    let cvc = card::cvc(&req.cvc, "cvc")?;
    let balance = match &req.balance {
        None => Money::ZERO,
        Some(b) if b.as_str() == "0" => Money::ZERO,
        Some(b) => Money::parse_positive(b.as_str())
            .map_err(|e| EpayError::input(format!("balance: {e}")))?,
    };
    let terms = CardTerms {
        expiry,
        locked: req.locked,
        // A card issued through the API is an ordinary card: it expires.
        enforce_expiry: true,
        balance,
        currency: currency(req.currency.as_deref())?,
        scenario: req.scenario.scenario()?,
        secure3d: req.secure3d,
    };
    Ok((terms, cvc))
}

/// KZT when not given.
pub fn currency(given: Option<&str>) -> Result<Currency, EpayError> {
    match given {
        None => Ok(Currency::Kzt),
        Some(c) => {
            Currency::parse(c).ok_or_else(|| EpayError::input("currency must be KZT or USD"))
        }
    }
}

/// Why installing an issued card failed, as the caller should hear it.
fn install_failed(e: StoreError) -> EpayError {
    // The fingerprint is the caller's own, so only the caller's own earlier card can
    // collide. SQLite and PostgreSQL word a unique-key violation differently.
    let text = e.to_string();
    match e {
        StoreError::Refused(why) => EpayError::input(why),
        _ if text.contains("UNIQUE") || text.contains("duplicate key") => {
            EpayError::input("you have already issued a card with this number")
        }
        _ => EpayError::store("issuing a sandbox card failed", e),
    }
}

/// Money onto one of the merchant's own cards from its funding account; the new balance.
/// Public test cards and other merchants' cards answer as unknown.
pub async fn top_up(
    state: &AppState,
    merchant_id: &str,
    card_id: &str,
    amount: &str,
) -> Result<Money, EpayError> {
    let amount = positive(amount)?;
    state
        .store
        .top_up(merchant_id, card_id, amount, Some(state.funding_cap))
        .await
        .map_err(refused_or("sandbox top-up failed"))?
        .ok_or_else(no_such_card)
}

/// An amount of money to move: positive, in the API's decimal form.
fn positive(amount: &str) -> Result<Money, EpayError> {
    Money::parse_positive(amount).map_err(|e| EpayError::input(format!("amount: {e}")))
}

/// A store refusal (over the funding cap, say) as the input error it is; any other failure as
/// `what` failing.
fn refused_or(what: &'static str) -> impl Fn(StoreError) -> EpayError {
    move |e| match e {
        StoreError::Refused(why) => EpayError::input(why),
        e => EpayError::store(what, e),
    }
}

fn no_such_card() -> EpayError {
    EpayError::new(
        StatusCode::NOT_FOUND,
        reason::NO_SUCH_CARD,
        "no card with this id among the cards you issued",
    )
}

/// Locks or unlocks one of the merchant's own cards.
pub async fn set_locked(
    state: &AppState,
    merchant_id: &str,
    card_id: &str,
    locked: bool,
) -> Result<(), EpayError> {
    let found = state
        .store
        .set_sandbox_card_locked(merchant_id, card_id, locked)
        .await
        .map_err(|e| EpayError::store("locking a sandbox card failed", e))?;
    found.then_some(()).ok_or_else(no_such_card)
}

/// Money into the merchant's settlement account from its funding account, within the
/// funding cap; the account's new balance.
pub async fn fund(
    state: &AppState,
    merchant_id: &str,
    currency: Currency,
    amount: &str,
) -> Result<Money, EpayError> {
    let amount = positive(amount)?;
    state
        .store
        .fund_settlement(merchant_id, currency, amount, Some(state.funding_cap))
        .await
        .map_err(refused_or("settlement funding failed"))
}

/// A new terminal of the merchant, on the default fee schedule; its id.
pub async fn add_terminal(
    state: &AppState,
    merchant_id: &str,
    currency: Currency,
) -> Result<String, EpayError> {
    let terminal = aqsha_core::records::TerminalRecord {
        id: aqsha_core::provision::random_uuid(),
        merchant_id: merchant_id.to_string(),
        currency,
        fee: aqsha_core::fee::FeeSchedule::DEFAULT,
        fee_account: aqsha_core::provision::fee_account(merchant_id),
        number: String::new(),
    };
    let id = terminal.id.clone();
    let seed = NewRecords {
        terminals: vec![terminal],
        ..Default::default()
    };
    state
        .store
        .install(seed)
        .await
        .map_err(|e| EpayError::store("adding a terminal failed", e))?;
    Ok(id)
}

/// Binds a phone (and the IIN a transfer to it must name) to a card, for the merchant's own
/// transfers: one of its own cards or a public test card, by card id. Returns the phone's
/// mask; neither the number nor the IIN is kept in plain text or repeated in an error. A phone
/// the merchant bound before is refused; a public entry for it is shadowed for this merchant.
pub async fn add_phone(
    state: &AppState,
    merchant_id: &str,
    phone: &str,
    iin: &str,
    card_id: String,
) -> Result<String, EpayError> {
    use crate::ops::phone::{valid_iin, valid_phone};
    if !valid_phone(phone) {
        return Err(EpayError::input("phone must be 11 digits starting with 7"));
    }
    if !valid_iin(iin) {
        return Err(EpayError::input("iin must be 12 digits"));
    }
    let card = PhoneCard::Id(card_id);
    let entry = new_phone(
        &state.vault,
        phone,
        iin,
        Some(merchant_id.to_string()),
        card,
    );
    let mask = entry.phone_mask.clone();
    let seed = NewRecords {
        phones: vec![entry],
        ..Default::default()
    };
    state.store.install(seed).await.map_err(phone_refused)?;
    Ok(mask)
}

/// Why a phone entry was not added, as the caller should hear it.
fn phone_refused(e: StoreError) -> EpayError {
    let text = e.to_string();
    match e {
        StoreError::Refused(why) => {
            EpayError::new(StatusCode::NOT_FOUND, reason::NO_SUCH_CARD, why)
        }
        // SQLite and PostgreSQL word a unique-key violation differently.
        _ if text.contains("UNIQUE") || text.contains("duplicate key") => {
            EpayError::input("you have already registered this phone number")
        }
        _ => EpayError::store("adding a phone failed", e),
    }
}
