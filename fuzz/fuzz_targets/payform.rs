//! The hosted form's URL: the raw query (`params`, the mode flags, `isShortForm`) and `params`
//! itself, LZString's URI encoding of `key=encodeURIComponent(value)&…` with the nested `auth`
//! object (pages/payform/params.rs). Properties: no panic on any query or compressed text; a
//! text compressed as `payment-api.js` compresses it reads the same as the text itself.
#![no_main]

use aqsha_server::pages::payform::params::{PageQuery, PayParams};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(q) = PageQuery::parse(text) {
        assert!(!q.params.is_empty());
        let _ = PayParams::decode(&q.params);
    }
    let _ = PayParams::decode(text);
    let direct = PayParams::read(text);
    let compressed = lz_str::compress_to_encoded_uri_component(text);
    let via = PayParams::decode(&compressed);
    assert_eq!(format!("{direct:?}"), format!("{via:?}"));
    if let Ok(p) = direct {
        for (name, value) in [
            ("invoiceId", &p.invoice_id),
            ("amount", &p.amount),
            ("currency", &p.currency),
            ("auth", &p.access_token),
        ] {
            assert!(!value.trim().is_empty(), "{name} accepted empty");
        }
    }
});
