//! `GET /payform/payment-api.js`: ePay's merchant script, as one file: lz-string's licence
//! as a comment, the vendored lz-string (unchanged, `assets/vendor/lz-string/`), then Aqsha's
//! own `assets/payform/payment-api.js`, joined when the crate compiles. The minified file
//! carries no notice of its own, and its MIT licence asks for the notice in every copy: a
//! merchant's browser gets one.

use crate::pages::assets::{self, Asset};
use axum::http::HeaderMap;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

static SCRIPT: Asset = Asset {
    path: "payform/payment-api.js",
    content_type: "text/javascript; charset=utf-8",
    bytes: concat!(
        "/*! lz-string 1.5.0 (https://github.com/pieroxy/lz-string), bundled below.\n\n",
        include_str!("../../../assets/vendor/lz-string/LICENSE"),
        "*/\n",
        include_str!("../../../assets/vendor/lz-string/lz-string.min.js"),
        "\n",
        include_str!("../../../assets/payform/payment-api.js"),
    )
    .as_bytes(),
};

fn hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hex::encode(&Sha256::digest(SCRIPT.bytes)[..16]))
}

/// Served like an asset without a version in its URL: revalidated on each use (a 304 when
/// unchanged), so merchants get a new version as soon as the server has it.
pub async fn serve(headers: HeaderMap) -> Response {
    assets::answer(&SCRIPT, hash(), None, &headers)
}
