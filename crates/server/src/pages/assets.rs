//! Static assets compiled into the binary and served under [`PREFIX`]: the pages' stylesheet
//! and the vendored libraries of `assets/vendor/` (see its README for versions and licences).
//!
//! Each answer carries its `Content-Type`, an `ETag` (a hash of the content, so it changes
//! exactly when the file does) and a `Cache-Control`: a URL made by [`url`] carries that hash
//! as `?v=` and is cached for a year (`immutable`); any other (a merchant's
//! `<script src=…/payform/payment-api.js>`, issue 15) must be revalidated, which costs a 304.

use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Where assets are served: `/assets/<path under crates/server/assets/>`.
pub const PREFIX: &str = "/assets/";

/// One embedded file.
pub struct Asset {
    /// Path under `crates/server/assets/`, and under [`PREFIX`].
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:literal) => {
        Asset {
            path: $path,
            content_type: $type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $path)),
        }
    };
}

/// Every file under `crates/server/assets/` (a test checks that none is missing). A new asset
/// is one line here.
pub static ASSETS: &[Asset] = &[
    asset!("pages.css", "text/css; charset=utf-8"),
    asset!("cabinet/cabinet.css", "text/css; charset=utf-8"),
    asset!("payform/payform.js", "text/javascript; charset=utf-8"),
    asset!("payform/3ds.js", "text/javascript; charset=utf-8"),
    asset!("payform/widget.js", "text/javascript; charset=utf-8"),
    asset!("payform/payment-api.js", "text/javascript; charset=utf-8"),
    asset!("sandbox/demo.js", "text/javascript; charset=utf-8"),
    asset!("acs-return.js", "text/javascript; charset=utf-8"),
    asset!("vendor/README.md", "text/markdown; charset=utf-8"),
    asset!("vendor/htmx/htmx.min.js", "text/javascript; charset=utf-8"),
    asset!("vendor/htmx/LICENSE", "text/plain; charset=utf-8"),
    asset!(
        "vendor/lz-string/lz-string.min.js",
        "text/javascript; charset=utf-8"
    ),
    asset!("vendor/lz-string/LICENSE", "text/plain; charset=utf-8"),
];

/// The content hash of each asset, in [`ASSETS`] order: 16 bytes of SHA-256 in hex, computed
/// once, at first use.
fn hashes() -> &'static [String] {
    static HASHES: OnceLock<Vec<String>> = OnceLock::new();
    HASHES.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| hex::encode(&Sha256::digest(a.bytes)[..16]))
            .collect()
    })
}

fn find(path: &str) -> Option<(&'static Asset, &'static str)> {
    let i = ASSETS.iter().position(|a| a.path == path)?;
    Some((&ASSETS[i], hashes()[i].as_str()))
}

/// The URL a page links an asset by, with its content hash, so that a browser may keep it for
/// a year and still fetch the new file after an upgrade. A name that is not an asset (a
/// template's typo) gives the plain URL, which answers 404 and shows in the tests.
pub fn url(path: &str) -> String {
    match find(path) {
        Some((_, hash)) => format!("{PREFIX}{path}?v={hash}"),
        None => format!("{PREFIX}{path}"),
    }
}

#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// `GET /assets/{*path}`.
pub async fn serve(
    Path(path): Path<String>,
    Query(version): Query<Version>,
    headers: HeaderMap,
) -> Response {
    match find(&path) {
        Some((asset, hash)) => answer(asset, hash, version.v.as_deref(), &headers),
        None => PageError::not_found(Lang::from_headers(&headers)).into_response(),
    }
}

/// An asset's answer: the file, or 304 when the browser's copy (`If-None-Match`) is current.
pub fn answer(asset: &Asset, hash: &str, version: Option<&str>, headers: &HeaderMap) -> Response {
    let etag = format!("\"{hash}\"");
    let cache = if version == Some(hash) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| matches_etag(tags, &etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.bytes,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// `If-None-Match` as RFC 9110 §13.1.2 reads it: `*`, or a list of tags compared weakly
/// (a `W/` prefix is ignored).
fn matches_etag(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_under_assets_is_served() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        let mut files = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let rel = path.strip_prefix(&root).unwrap();
                    files.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        files.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        listed.sort();
        assert_eq!(files, listed, "list each file of assets/ in ASSETS");
    }

    #[test]
    fn if_none_match_reads_lists_weak_tags_and_star() {
        assert!(matches_etag("\"a\"", "\"a\""));
        assert!(matches_etag("\"b\", W/\"a\"", "\"a\""));
        assert!(matches_etag("*", "\"a\""));
        assert!(!matches_etag("\"b\"", "\"a\""));
    }

    #[test]
    fn urls_carry_the_content_hash() {
        let u = url("pages.css");
        let (_, hash) = find("pages.css").unwrap();
        assert_eq!(u, format!("/assets/pages.css?v={hash}"));
        assert_eq!(url("nope.css"), "/assets/nope.css");
    }
}
