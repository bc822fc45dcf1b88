//! Card numbers and CVCs, from the text a caller sent to what the system keeps: the one place
//! where a card side is built from a PAN, for the transfer (API and hosted form) and for the
//! sandbox's card issue.

use crate::error::EpayError;
use crate::App;
use aqsha_core::card::{Cvc, Expiry, Pan};
use aqsha_core::transfer::PanSide;
use std::fmt::Display;

/// A card number, parsed, with the fingerprint under which one merchant knows it
/// ([`aqsha_core::network::PublicCards::card_key`]: the network-wide one for a public test
/// card, the merchant's own for any other number).
pub struct KnownPan {
    pub pan: Pan,
    pub fingerprint: String,
}

/// Parses `text` as a card number for `merchant_id`. `field` names it in the error (e.g.
/// `format_args!("{path}.cardCred")`, which costs nothing unless the error is built); the
/// message never repeats the number.
pub fn known_pan(
    app: &App,
    merchant_id: &str,
    text: &str,
    field: impl Display,
) -> Result<KnownPan, EpayError> {
    let pan = Pan::parse(text).map_err(|e| EpayError::input(format!("{field} {e}")))?;
    let fingerprint = app.public_cards.card_key(&app.vault, merchant_id, &pan);
    Ok(KnownPan { pan, fingerprint })
}

/// Parses a CVC, naming `field` in the error and never the value.
pub fn cvc(text: &str, field: impl Display) -> Result<Cvc, EpayError> {
    Cvc::parse(text).map_err(|e| EpayError::input(format!("{field} {e}")))
}

/// What a sender presents besides the number: the CVC and the expiry date the issuer checks.
pub struct Presented {
    pub cvc: Cvc,
    pub expiry: Expiry,
}

/// A card side for the transfer algorithm: the mask, brand and Luhn result the issuer checks
/// need, the sealed number when the card is to be saved, and the CVC's keyed check value when
/// the sender presented one. After this, nothing holds the plain number or CVC.
pub fn pan_side(
    app: &App,
    card: KnownPan,
    presented: Option<Presented>,
    name: Option<String>,
    save: bool,
) -> PanSide {
    let KnownPan { pan, fingerprint } = card;
    let (cvc_check, expiry) = match presented {
        Some(p) => (
            Some(app.vault.cvc_check_value(&fingerprint, &p.cvc)),
            Some(p.expiry),
        ),
        None => (None, None),
    };
    PanSide {
        mask: pan.mask(),
        brand: pan.brand(),
        luhn_ok: pan.luhn_ok(),
        sealed: save.then(|| app.vault.seal(&pan)),
        cvc_check,
        expiry,
        name,
        save,
        fingerprint,
    }
}
