//! The OpenAPI 3.1 description of the API (`GET /openapi.json`; `docs/openapi.md` for
//! people), built from the `#[utoipa::path]` attribute on each handler and `ToSchema` on the
//! types it reads and answers with, so that it changes with them.
//!
//! What the attributes cannot say is added here from the router's own facts: the path aliases
//! (one handler under several paths, the ePay family again under `/api`), the security
//! schemes, and the refusals of the request limits that every route may answer with.
//! The web pages (`/payform/`, `/cabinet/`, `/acs/`, `/assets/`, `/sandbox/demo`) are left out:
//! they are HTML for browsers. `confirmPayment` is in, as the ePay path it is.

pub(crate) mod answers;
pub mod markdown;

use crate::routes;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Aqsha",
        description = "A P2P card-transfer gateway wire-compatible with Halyk ePay. The ePay \
            API takes a Bearer token from `/oauth2/token`; the sandbox API takes the merchant's \
            client credentials over HTTP Basic. Errors of the ePay API have the seed's shape \
            (`ApiError`: an integer `code`, the reason code, and a `message`); the token \
            endpoint answers RFC 6749 errors (`OAuthError`). Amounts are JSON numbers in major \
            units with at most two decimals (`Amount`).",
    ),
    paths(
        routes::token::token,
        routes::transfer::transfer,
        routes::transfer::fund,
        routes::transfer::payout,
        crate::pages::acs::confirm_payment,
        routes::operations::operations,
        routes::status::status,
        routes::cards::list,
        routes::cards::deactivate,
        routes::cards::public_profile,
        routes::sandbox::list_cards,
        routes::sandbox::issue_card,
        routes::sandbox::top_up,
        routes::sandbox::ledger,
        routes::sandbox_merchant::balance,
        routes::sandbox_merchant::fund,
        routes::sandbox_merchant::list_phones,
        routes::sandbox_merchant::add_phone,
        routes::sandbox::add_terminal,
        routes::limits::get_limits,
        routes::limits::put_limits,
        routes::sandbox_callbacks::callbacks,
        routes::sandbox_callbacks::resend_callback,
        routes::sandbox_callbacks::callback_secret,
        routes::healthz,
        crate::metrics::scrape,
        routes::sandbox::ready,
        serve,
    ),
    // The bodies of `answers`' types: `IntoResponses` refers to its schemas without adding them.
    components(schemas(
        aqsha_wire::transfer::TransferResponse,
        aqsha_wire::transfer::ApiError
    )),
    modifiers(&Aliases, &Security, &Refusals),
)]
struct ApiDoc;

/// The ePay paths, which the router serves bare and under `/api` (`lib.rs`, `router_with`).
pub const EPAY_PATHS: &[&str] = &[
    "/payments/cards/auth",
    "/p2p/transfer",
    "/chdebit/transfer",
    "/chpayment/transfer",
    "/p2p/operations",
    "/check-status/p2p/transaction/{invoice}",
    "/check-status/payment/transaction/{invoice}",
    "/cards/{account_id}",
    "/card/deactivate/{card_id}",
    "/public-profile",
    aqsha_core::transfer::secure3d::CONFIRM_PATH,
];

/// Paths the router gives the handler of another documented path.
const ALIASES: &[(&str, &str)] = &[
    ("/oauth2/token", "/epay2/oauth2/token"),
    ("/payments/cards/auth", "/p2p/transfer"),
    (
        "/check-status/p2p/transaction/{invoice}",
        "/check-status/payment/transaction/{invoice}",
    ),
];

struct Aliases;

impl Modify for Aliases {
    fn modify(&self, doc: &mut Document) {
        for (from, to) in ALIASES {
            copy_path(doc, from, to);
        }
        for path in EPAY_PATHS {
            copy_path(doc, path, &format!("/api{path}"));
        }
    }
}

/// The path item of `from` again under `to`, its operation ids made unique (OpenAPI requires
/// it) by the alias path.
fn copy_path(doc: &mut Document, from: &str, to: &str) {
    let Some(mut item) = doc.paths.paths.get(from).cloned() else {
        return;
    };
    let suffix: String = to
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    for op in operations(&mut item) {
        op.operation_id = op.operation_id.take().map(|id| format!("{id}{suffix}"));
    }
    doc.paths.paths.insert(to.to_string(), item);
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The access_token from POST /oauth2/token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "clientBasic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("The merchant's client_id:client_secret"))
                    .build(),
            ),
        );
    }
}

/// The answers of the request limits (`limits.rs`) that any route may give: a body over
/// [`crate::BODY_LIMIT`] (413) and a full server (503, with `Retry-After`), in the token
/// endpoint's shape there and the ePay error shape elsewhere (`limits::refusal`). Only on
/// operations that do not describe them already.
struct Refusals;

impl Modify for Refusals {
    fn modify(&self, doc: &mut Document) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let schema = if path.ends_with("/oauth2/token") {
                "OAuthError"
            } else {
                "ApiError"
            };
            for op in operations(item) {
                let refusals = [
                    ("413", "The body is larger than 64 KiB (code 477)"),
                    (
                        "503",
                        "Busy, nothing was done: retry after `Retry-After` (code 100)",
                    ),
                ];
                for (status, why) in refusals {
                    if op.responses.responses.contains_key(status) {
                        continue;
                    }
                    let content = ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(schema)))
                        .build();
                    let response = ResponseBuilder::new()
                        .description(why)
                        .content("application/json", content)
                        .build();
                    op.responses
                        .responses
                        .insert(status.to_string(), response.into());
                }
            }
        }
    }
}

/// The document, built once.
pub fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(ApiDoc::openapi)
}

/// The document as JSON, pretty-printed (what `GET /openapi.json` serves and
/// `aqsha openapi` prints).
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| document().to_pretty_json().unwrap_or_default())
}

/// [`json`] without the sandbox API's paths, for a server that does not serve them
/// (production mode): the document describes what this server answers.
pub fn json_without_sandbox() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut doc = document().clone();
        doc.paths
            .paths
            .retain(|path, _| !path.starts_with("/sandbox/"));
        doc.to_pretty_json().unwrap_or_default()
    })
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    summary = "This description, as OpenAPI 3.1 JSON",
    responses((status = 200, description = "The document", body = Object)),
)]
pub async fn serve(sandbox_api: bool) -> Response {
    let body = if sandbox_api {
        json()
    } else {
        json_without_sandbox()
    };
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests;
