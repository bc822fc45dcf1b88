//! Sealed values that come back from outside: access tokens (`core::token::open`, every
//! Bearer header), the vault's sealed card numbers and purpose blobs, and the 3-D Secure
//! `PaRes` a browser posts to confirmPayment (`ops::secure3d::open_pa_res`). Properties: any
//! bytes open to nothing, never a panic; claims sealed into a token open to the same claims;
//! a token or `PaRes` altered in one byte, cut short, or opened under another key opens to
//! nothing.
#![no_main]

use aqsha_core::money::{Currency, Money};
use aqsha_core::token::{self, TokenClaims};
use aqsha_core::vault::{SealedPan, Vault};
use aqsha_server::ops::secure3d::{open_pa_res, seal_pa_res};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

#[derive(Arbitrary, Debug)]
struct Claims {
    id: String,
    merchant_id: String,
    scope: String,
    invoice_id: Option<String>,
    amount: Option<i64>,
    usd: Option<bool>,
    terminal_id: Option<String>,
    post_link: Option<String>,
    failure_post_link: Option<String>,
    secret_hash: Option<String>,
    expires_at: i64,
    account_id: Option<String>,
    login: Option<String>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    text: String,
    blob: Vec<u8>,
    key_id: String,
    claims: Claims,
    flip_at: usize,
    flip: u8,
    result: u32,
}

/// The vault that seals here, another one, and one that never seals anything: libFuzzer
/// copies bytes it saw compared into later inputs, so a token sealed in one run could come
/// back as "garbage" in the next and rightly open. Garbage goes to the third.
fn vaults() -> &'static (Vault, Vault, Vault) {
    static V: OnceLock<(Vault, Vault, Vault)> = OnceLock::new();
    V.get_or_init(|| {
        (
            Vault::new([7; 32]),
            Vault::new([9; 32]),
            Vault::new([5; 32]),
        )
    })
}

fn claims(c: Claims) -> Option<TokenClaims> {
    Some(TokenClaims {
        id: c.id,
        merchant_id: c.merchant_id,
        scope: c.scope,
        invoice_id: c.invoice_id,
        amount: c.amount.map(Money::from_minor),
        currency: c
            .usd
            .map(|usd| if usd { Currency::Usd } else { Currency::Kzt }),
        terminal_id: c.terminal_id,
        post_link: c.post_link,
        failure_post_link: c.failure_post_link,
        secret_hash: c.secret_hash,
        expires_at: chrono::DateTime::from_timestamp(c.expires_at, 0)?,
        account_id: c.account_id,
        login: c.login,
    })
}

/// The token text with one byte of its sealed bytes changed, or cut one byte short.
fn altered(token: &str, at: usize, flip: u8) -> Vec<String> {
    let codec = data_encoding::BASE32_NOPAD;
    let Ok(mut blob) = codec.decode(token.as_bytes()) else {
        panic!("an issued token is not base32");
    };
    let short = codec.encode(&blob[..blob.len() - 1]);
    let at = at % blob.len();
    blob[at] ^= flip;
    vec![codec.encode(&blob), short]
}

fuzz_target!(|i: Input| {
    let (vault, other, unseen) = vaults();
    // Anything from outside.
    assert!(token::open(unseen, &i.text).is_none());
    assert!(unseen.open_token(&i.blob).is_none());
    for key_id in [i.key_id.clone(), unseen.key_id().to_string()] {
        let sealed = SealedPan {
            key_id,
            blob: i.blob.clone(),
        };
        assert!(unseen.open(&sealed).is_err());
    }
    assert!(unseen.open_for("secure3d/pares/v1", &i.blob).is_none());
    assert!(open_pa_res(unseen, &i.text).is_none());

    // A PaRes: opens to what was sealed, and to nothing once altered or under another key.
    let op = i.claims.id.replace('\n', "");
    let pa_res = seal_pa_res(vault, &op, i.result);
    assert_eq!(open_pa_res(vault, &pa_res), Some((op.clone(), i.result)));
    assert!(open_pa_res(other, &pa_res).is_none());
    if i.flip != 0 {
        let mut bytes = pa_res.clone().into_bytes();
        let at = i.flip_at % bytes.len();
        bytes[at] ^= i.flip;
        if let Ok(text) = String::from_utf8(bytes) {
            if text.trim() != pa_res {
                assert!(
                    open_pa_res(vault, &text).is_none(),
                    "altered PaRes {text:?} opens"
                );
            }
        }
    }

    // A token: opens to the claims sealed in it.
    let Some(claims) = claims(i.claims) else {
        return;
    };
    let token = token::issue(vault, &claims);
    let opened =
        token::open(vault, &token).unwrap_or_else(|| panic!("an issued token does not open"));
    assert_eq!(format!("{opened:?}"), format!("{claims:?}"));
    assert!(token::open(other, &token).is_none());
    if i.flip != 0 {
        for bad in altered(&token, i.flip_at, i.flip) {
            assert!(token::open(vault, &bad).is_none(), "an altered token opens");
        }
    }
});
