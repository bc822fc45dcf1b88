//! `POST /oauth2/token` and `/epay2/oauth2/token` (`docs/protocol.md#tokens`).
//!
//! Accepts form-urlencoded, multipart and JSON bodies — and a body with no `Content-Type` at
//! all, read as a form — because real ePay clients send all of these.

use crate::auth::{basic_credentials, check_client, retry_after, ClientCheck, Peer};
use crate::error::OAuthFailure;
use crate::ops::check_callback_links;
use crate::routes::read_body;
use crate::AppState;
use aqsha_core::money::{Currency, Money};
use aqsha_core::records::MerchantRecord;
use aqsha_core::token;
use aqsha_core::token::TokenClaims;
use aqsha_core::transfer::valid_invoice;
use aqsha_wire::token::{TokenRequest, TokenResponse};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Scope words ePay uses; anything else is refused as `invalid_scope`.
const KNOWN_SCOPES: &[&str] = &[
    "transfer",
    "payment",
    "webapi",
    "usermanagement",
    "email_send",
    "verification",
    "statement",
    "statistics",
];

const MAX_SECRET_HASH_LEN: usize = 512;

/// Also served at `/epay2/oauth2/token`. The same fields in any of the three bodies; the client
/// credentials may come in an `Authorization: Basic` header instead.
#[utoipa::path(
    post,
    path = "/oauth2/token",
    tag = "tokens",
    summary = "Issue an access token (client_credentials, or password for the operations list)",
    request_body(content(
        (aqsha_wire::token::TokenRequest = "application/x-www-form-urlencoded"),
        (aqsha_wire::token::TokenRequest = "multipart/form-data"),
        (aqsha_wire::token::TokenRequest = "application/json"),
    )),
    security((), ("clientBasic" = [])),
    responses(
        (status = 200, description = "The token; `Cache-Control: no-store`", body = aqsha_wire::token::TokenResponse),
        (status = 400, description = "`invalid_request`, `invalid_scope` or `unsupported_grant_type`", body = aqsha_wire::token::OAuthError),
        (status = 401, description = "`invalid_client`: unknown client, wrong secret or disabled client", body = aqsha_wire::token::OAuthError),
        (status = 429, description = "Too many failed authentications from this client or address; `Retry-After`", body = aqsha_wire::token::OAuthError),
        (status = 500, description = "`server_error`", body = aqsha_wire::token::OAuthError),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut grant = "other";
    let answer = issue(&state, peer, &headers, body, &mut grant).await;
    state.metrics.token(
        grant,
        match &answer {
            Ok(r) if r.status().is_success() => "issued",
            Ok(_) => "throttled",
            Err(e) => oauth_error_label(&e.body.error),
        },
    );
    match answer {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// An RFC 6749 error code as a `/metrics` label: one of the known codes, never the text a
/// caller could choose.
fn oauth_error_label(error: &str) -> &'static str {
    [
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "server_error",
    ]
    .into_iter()
    .find(|known| *known == error)
    .unwrap_or("other_error")
}

pub(crate) async fn parse_fields(
    headers: &HeaderMap,
    body: Bytes,
) -> Result<TokenRequest, OAuthFailure> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        aqsha_wire::json::unique_keys(&body)
            .map_err(|e| OAuthFailure::invalid_request(format!("malformed JSON body: {e}")))?;
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            OAuthFailure::invalid_request(format!(
                "malformed JSON body at line {} column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        let obj = value
            .as_object()
            .ok_or_else(|| OAuthFailure::invalid_request("JSON body must be an object"))?;
        let fields = obj.iter().filter_map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), text))
        });
        return known_once(fields.collect());
    }
    if content_type.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(&content_type)
            .map_err(|_| OAuthFailure::invalid_request("multipart body without a boundary"))?;
        let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut fields = Vec::new();
        loop {
            match multipart.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or("").to_string();
                    let text = field.text().await.map_err(|e| {
                        OAuthFailure::invalid_request(format!("multipart field {name}: {e}"))
                    })?;
                    fields.push((name, text));
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(OAuthFailure::invalid_request(format!(
                        "malformed multipart body: {e}"
                    )))
                }
            }
        }
        return known_once(fields);
    }
    // application/x-www-form-urlencoded, or no Content-Type at all.
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| OAuthFailure::invalid_request(format!("malformed form body: {e}")))?;
    known_once(fields)
}

/// The request from its fields, refusing a field given twice (`amount=100&amount=5000`):
/// which one counts would be a guess, and the token's binding must not be one.
fn known_once(fields: Vec<(String, String)>) -> Result<TokenRequest, OAuthFailure> {
    // A dozen fields at most: comparing each with those before it costs less than hashing.
    let repeated = fields
        .iter()
        .enumerate()
        .find(|(i, (k, _))| fields[..*i].iter().any(|(seen, _)| seen == k));
    if let Some((_, (k, _))) = repeated {
        let shown: String = k.chars().take(64).collect();
        return Err(OAuthFailure::invalid_request(format!(
            "field {shown:?} is given more than once"
        )));
    }
    if let Some((k, _)) = fields.iter().find(|(_, v)| v.chars().any(char::is_control)) {
        let shown: String = k.chars().take(64).collect();
        return Err(OAuthFailure::invalid_request(format!(
            "field {shown:?} holds a control character; fields take printable text only"
        )));
    }
    Ok(TokenRequest::from_fields(fields))
}

async fn issue(
    state: &AppState,
    peer: Peer,
    headers: &HeaderMap,
    body: Body,
    grant: &mut &'static str,
) -> Result<Response, OAuthFailure> {
    let body = read_body(body)
        .await
        .map_err(|e| OAuthFailure::new(e.status, "invalid_request", e.body.message))?;
    let mut req = parse_fields(headers, body).await?;
    // RFC 6749 §2.3.1 also allows the client credentials in an Authorization: Basic header.
    if req.client_id.is_none() {
        if let Some((id, secret)) = basic_credentials(headers) {
            req.client_id = Some(id);
            req.client_secret = Some(secret);
        }
    }
    let password_grant = check_grant(&req)?;
    *grant = if password_grant {
        "password"
    } else {
        "client_credentials"
    };
    let (merchant, login) = if password_grant {
        match super::login::authenticate(state, &req, &peer).await? {
            Ok((m, login)) => (m, Some(login)),
            Err(throttled) => return Ok(throttled),
        }
    } else {
        match authenticate(state, &req, peer).await? {
            Ok(m) => (m, None),
            Err(throttled) => return Ok(throttled),
        }
    };
    let scope = scope(&req)?;
    if password_grant && !scope.split(' ').any(|w| w == "transfer") {
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "the password grant is for the operations list: ask for scope transfer",
        ));
    }
    let (amount, currency) = check_binding(state, &req, &merchant).await?;
    // The token carries its claims sealed: issuing it writes nothing, and any instance with
    // the same master key can read it (aqsha_core::token).
    let claims = TokenClaims {
        id: token::new_id(),
        merchant_id: merchant.id,
        scope: scope.clone(),
        invoice_id: req.invoice_id,
        amount,
        currency,
        terminal_id: req.terminal,
        post_link: req.post_link,
        failure_post_link: req.failure_post_link,
        secret_hash: req.secret_hash,
        account_id: req.account_id,
        login,
        expires_at: chrono::Utc::now() + chrono::Duration::seconds(state.token_ttl_secs),
    };
    let access_token = token::issue(&state.vault, &claims);
    let mut resp = Json(TokenResponse {
        access_token,
        expires_in: state.token_ttl_secs.to_string(),
        refresh_token: String::new(),
        scope,
        token_type: "Bearer".into(),
    })
    .into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

/// The client-credentials grant (`false`) and the password grant (`true`, the cabinet login:
/// `routes/login.rs`) are served.
fn check_grant(req: &TokenRequest) -> Result<bool, OAuthFailure> {
    match req.grant_type.as_deref() {
        Some("client_credentials") => Ok(false),
        Some("password") => Ok(true),
        Some(other) => Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!(
                "grant_type {:?} is not supported; use client_credentials (or password)",
                other.chars().take(40).collect::<String>()
            ),
        )),
        None => Err(OAuthFailure::invalid_request("grant_type is required")),
    }
}

/// The merchant whose credentials these are, or the refusal. `Ok(Err(response))` is the
/// throttle's 429, which carries `Retry-After` and is answered as it is.
async fn authenticate(
    state: &AppState,
    req: &TokenRequest,
    peer: Peer,
) -> Result<Result<MerchantRecord, Response>, OAuthFailure> {
    let (Some(client_id), Some(secret)) = (&req.client_id, &req.client_secret) else {
        return Err(OAuthFailure::invalid_request(
            "client_id and client_secret are required",
        ));
    };
    let merchant = match check_client(state, client_id, secret, peer.0)
        .await
        .map_err(|e| internal(&e))?
    {
        ClientCheck::Allowed(m) => m,
        ClientCheck::Denied => {
            return Err(OAuthFailure::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            ))
        }
        ClientCheck::Throttled(wait) => {
            let mut r = OAuthFailure::new(
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_client",
                "too many failed authentications for this client or from this address; retry later",
            )
            .into_response();
            retry_after(&mut r, wait);
            return Ok(Err(r));
        }
    };
    // Said only to a caller who proved the secret, so it reveals nothing to anyone else.
    if merchant.disabled {
        return Err(OAuthFailure::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "this client is disabled",
        ));
    }
    Ok(Ok(merchant))
}

/// The requested scope, whitespace normalised; every word must be one ePay uses.
fn scope(req: &TokenRequest) -> Result<String, OAuthFailure> {
    let scope = req
        .scope
        .as_deref()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    if scope.is_empty() {
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "scope is required (e.g. \"transfer\")",
        ));
    }
    if let Some(bad) = scope.split(' ').find(|s| !KNOWN_SCOPES.contains(s)) {
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!("unknown scope {bad:?}"),
        ));
    }
    Ok(scope)
}

/// Checks what the token will be bound to (invoice, amount, currency, terminal, callback
/// links, secret hash), in that order, and returns the amount and currency parsed.
async fn check_binding(
    state: &AppState,
    req: &TokenRequest,
    merchant: &MerchantRecord,
) -> Result<(Option<Money>, Option<Currency>), OAuthFailure> {
    if let Some(inv) = &req.invoice_id {
        if !valid_invoice(inv) {
            return Err(OAuthFailure::invalid_request(
                "invoiceID must be 6 to 16 digits",
            ));
        }
    }
    let amount = match &req.amount {
        Some(a) => Some(
            Money::parse_positive(a)
                .map_err(|e| OAuthFailure::invalid_request(format!("amount: {e}")))?,
        ),
        None => None,
    };
    let currency = match &req.currency {
        Some(c) => Some(Currency::parse(c).ok_or_else(|| {
            OAuthFailure::invalid_request(format!("currency {c:?} is not supported (KZT, USD)"))
        })?),
        None => None,
    };
    if let Some(t) = &req.terminal {
        match state.store.terminal(t).await.map_err(|e| internal(&e))? {
            Some(term) if term.merchant_id == merchant.id => {}
            _ => {
                return Err(OAuthFailure::invalid_request(
                    "terminal is not one of this client's terminals",
                ))
            }
        }
    }
    check_callback_links([
        ("postLink", &req.post_link),
        ("failurePostLink", &req.failure_post_link),
    ])
    .map_err(OAuthFailure::invalid_request)?;
    if req
        .secret_hash
        .as_ref()
        .is_some_and(|s| s.len() > MAX_SECRET_HASH_LEN)
    {
        return Err(OAuthFailure::invalid_request(format!(
            "secret_hash is longer than {MAX_SECRET_HASH_LEN} characters"
        )));
    }
    Ok((amount, currency))
}

pub(super) fn internal(e: &dyn std::fmt::Display) -> OAuthFailure {
    tracing::error!(request = %crate::request_id(), error = %e, "token endpoint failed");
    OAuthFailure::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "internal error",
    )
}
