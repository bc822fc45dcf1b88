//! The hosted form's `params`: what ePay's `payment-api.js` puts in the page URL, read back.
//!
//! The script sends `LZString.compressToEncodedURIComponent(encodeParams(p))`, where
//! `encodeParams` joins `name=encodeURIComponent(value)` with `&` and encodes a nested object
//! (the `auth` token object) the same way first (docs/payform.md, "Parameters"). The text is
//! decompressed with the `lz-str` crate and each level split and percent-decoded here. The
//! LZString URI alphabet has `+` in it, so the raw query is read without form decoding (which
//! would turn `+` into a space).

use crate::pages::lang::Lang;
use percent_encoding::percent_decode_str;

/// Which operation the page runs, from the URL's flags (`isTransfer`, `isAFT`, `isOCT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `halyk.p2p`: the sender's card to the receiver's.
    P2p,
    /// `halyk.aft` (and `halyk.pay`, a payment being a charge of the payer's card to the
    /// merchant): the sender's card to the merchant's account.
    Aft,
    /// `halyk.oct`: the merchant's account to the receiver's card.
    Oct,
}

impl Mode {
    /// The URL flag that names this mode, as `payment-api.js` appends it.
    pub fn flag(self) -> &'static str {
        match self {
            Mode::P2p => "isTransfer",
            Mode::Aft => "isAFT",
            Mode::Oct => "isOCT",
        }
    }
    pub fn has_sender(self) -> bool {
        self != Mode::Oct
    }
    pub fn has_receiver(self) -> bool {
        self != Mode::Aft
    }
}

/// The page's URL, read: the compressed params as sent, the mode and the widget flag.
#[derive(Debug, Clone)]
pub struct PageQuery {
    pub params: String,
    pub mode: Mode,
    pub short: bool,
}

impl PageQuery {
    /// From the raw query string. `None` without `params`.
    pub fn parse(query: &str) -> Option<PageQuery> {
        let mut found = PageQuery {
            params: String::new(),
            mode: Mode::Aft,
            short: false,
        };
        for (k, v) in pairs(query) {
            let on = v == "true";
            match k {
                "params" => found.params = decode(v)?,
                "isTransfer" if on => found.mode = Mode::P2p,
                "isAFT" if on => found.mode = Mode::Aft,
                "isOCT" if on => found.mode = Mode::Oct,
                "isShortForm" => found.short = on,
                _ => {}
            }
        }
        (!found.params.is_empty()).then_some(found)
    }
}

/// What the merchant passed to `halyk.p2p(...)`, decoded.
#[derive(Debug, Clone, Default)]
pub struct PayParams {
    pub invoice_id: String,
    pub amount: String,
    pub currency: String,
    pub terminal: Option<String>,
    /// `auth.access_token`: the merchant's transfer token. Never logged.
    pub access_token: String,
    pub back_link: Option<String>,
    pub failure_back_link: Option<String>,
    pub post_link: Option<String>,
    pub failure_post_link: Option<String>,
    pub language: Lang,
    pub description: Option<String>,
    pub account_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `cardSave=true`: save the sender's card (needs `accountId`).
    pub card_save: bool,
    /// Aqsha's fixed receiver (`receiverCardId`): a saved card id of the merchant; the page
    /// then asks for no receiver card number (docs/payform.md, "A fixed receiver").
    pub receiver_card_id: Option<String>,
}

/// Why `params` could not be read; shown to the person as a bad link.
#[derive(Debug, PartialEq, Eq)]
pub enum ParamsError {
    /// Not LZString's URI encoding of UTF-16 text.
    Undecodable,
    /// A required parameter is missing or empty: its name.
    Missing(&'static str),
}

impl PayParams {
    /// Decompresses and reads `params` as the URL carries it (already percent-decoded).
    pub fn decode(compressed: &str) -> Result<PayParams, ParamsError> {
        let wide = lz_str::decompress_from_encoded_uri_component(compressed)
            .ok_or(ParamsError::Undecodable)?;
        let text = String::from_utf16(&wide).map_err(|_| ParamsError::Undecodable)?;
        PayParams::read(&text)
    }

    /// Reads the `key=value&…` text `encodeParams` made.
    pub fn read(text: &str) -> Result<PayParams, ParamsError> {
        let mut p = PayParams::default();
        let mut language = None;
        for (k, v) in pairs(text) {
            let v = decode(v).ok_or(ParamsError::Undecodable)?;
            let some = |v: String| Some(v).filter(|v| !v.trim().is_empty());
            match k {
                "invoiceId" | "invoiceID" => p.invoice_id = v,
                "amount" => p.amount = v,
                "currency" => p.currency = v,
                "terminal" | "terminalId" => p.terminal = some(v),
                "auth" => p.access_token = access_token(&v)?,
                "backLink" => p.back_link = some(v),
                "failureBackLink" => p.failure_back_link = some(v),
                "postLink" => p.post_link = some(v),
                "failurePostLink" => p.failure_post_link = some(v),
                "language" => language = Lang::parse(&v),
                "description" => p.description = some(v),
                "accountId" | "accountID" => p.account_id = some(v),
                "name" => p.name = some(v),
                "email" => p.email = some(v),
                "phone" => p.phone = some(v),
                "cardSave" => p.card_save = v == "true",
                "receiverCardId" => p.receiver_card_id = some(v),
                _ => {}
            }
        }
        p.language = language.unwrap_or_default();
        for (name, value) in [
            ("invoiceId", &p.invoice_id),
            ("amount", &p.amount),
            ("currency", &p.currency),
            ("auth", &p.access_token),
        ] {
            if value.trim().is_empty() {
                return Err(ParamsError::Missing(name));
            }
        }
        Ok(p)
    }
}

/// The token out of the nested `auth` object (`access_token=…&expires_in=…&…`).
fn access_token(auth: &str) -> Result<String, ParamsError> {
    for (k, v) in pairs(auth) {
        if k == "access_token" {
            return decode(v).ok_or(ParamsError::Undecodable);
        }
    }
    Err(ParamsError::Missing("auth.access_token"))
}

/// `a=b&c=d` split into pairs; a piece without `=` is a key with an empty value.
fn pairs(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// Percent-decoding only: `+` stays `+` (encodeURIComponent writes a space as `%20`).
fn decode(v: &str) -> Option<String> {
    percent_decode_str(v)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `payment-api.js`'s `encodeParams` makes of a flat object (values only; keys are
    /// plain words here).
    fn encode(pairs: &[(&str, &str)]) -> String {
        let enc = |v: &str| {
            percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn params_text(token: &str) -> String {
        let auth = encode(&[("access_token", token), ("expires_in", "7200")]);
        encode(&[
            ("invoiceId", "000001001"),
            ("amount", "100"),
            ("currency", "KZT"),
            ("terminal", "67e34d63-102f-4bd1-898e-370781d0074d"),
            ("auth", &auth),
            ("backLink", "https://shop.example/ok?x=1&y=2"),
            ("language", "kaz"),
            ("description", "Оплата заказа + доставка"),
            ("cardSave", "true"),
        ])
    }

    #[test]
    fn reads_what_payment_api_js_sends_nested_auth_included() {
        let p = PayParams::read(&params_text("tok+en/=")).unwrap();
        assert_eq!(p.invoice_id, "000001001");
        assert_eq!(p.amount, "100");
        assert_eq!(p.access_token, "tok+en/=");
        assert_eq!(
            p.back_link.as_deref(),
            Some("https://shop.example/ok?x=1&y=2")
        );
        assert_eq!(p.language, Lang::Kaz);
        assert_eq!(p.description.as_deref(), Some("Оплата заказа + доставка"));
        assert!(p.card_save);
    }

    #[test]
    fn a_plus_in_the_compressed_text_is_not_a_space() {
        // Find a token whose compressed params contain a `+`, then read it from a raw query.
        let (compressed, token) = (0..200)
            .map(|i| {
                let token = format!("token-{i}");
                let text = params_text(&token);
                (
                    lz_str::compress_to_encoded_uri_component(text.as_str()),
                    token,
                )
            })
            .find(|(c, _)| c.contains('+'))
            .unwrap();
        let q = PageQuery::parse(&format!("params={compressed}&isTransfer=true")).unwrap();
        assert_eq!(q.mode, Mode::P2p);
        assert!(!q.short);
        assert_eq!(PayParams::decode(&q.params).unwrap().access_token, token);
    }

    #[test]
    fn bad_params_say_what_is_wrong() {
        assert_eq!(
            PayParams::decode("not lz at all!").unwrap_err(),
            ParamsError::Undecodable
        );
        let text = encode(&[("invoiceId", "1"), ("amount", "1"), ("currency", "KZT")]);
        assert_eq!(
            PayParams::read(&text).unwrap_err(),
            ParamsError::Missing("auth")
        );
        assert!(PageQuery::parse("isOCT=true").is_none());
        let q = PageQuery::parse("params=abc&isOCT=true&isShortForm=true").unwrap();
        assert_eq!((q.mode, q.short), (Mode::Oct, true));
    }
}
