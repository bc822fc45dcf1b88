//! The served OpenAPI document (`GET /openapi.json`) against the server that serves it: every
//! described path and method reaches a route, and real answers (token, transfer charged and
//! declined, status) validate against the schemas it gives them.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

crate::tests! {
    both: [
        every_described_operation_is_routed,
        real_answers_match_their_schemas,
        arrays_are_not_read_as_objects,
    ],
    sqlite: [production_describes_no_sandbox_api],
}

async fn document(s: &Server) -> Value {
    let resp = s.http.get(s.path("/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/json"), "{ct}");
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    doc
}

/// Each described operation, sent without credentials and with made-up path parameters,
/// answers from its own handler: never the router's "no such endpoint" or "method not
/// allowed" (the reverse, every route described, is `aqsha-server`'s unit test).
async fn every_described_operation_is_routed(backend: Backend) {
    let s = Server::start(backend);
    let doc = document(&s).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 30, "{}", paths.len());
    for (path, item) in paths {
        let concrete = path.replace(['{', '}'], "");
        for method in item.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = s.http.request(m, s.path(&concrete)).send().await.unwrap();
            let status = resp.status();
            let body = resp.text().await.unwrap();
            assert!(
                !body.contains("no such endpoint") && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {status} {body}"
            );
        }
    }
}

/// The schema `doc` gives the answer of `method path` with `status`, as a validator.
fn validator(doc: &Value, path: &str, method: &str, status: u16) -> jsonschema::Validator {
    let response = &doc["paths"][path][method]["responses"][status.to_string()];
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} {status} has no JSON schema");
    // The components travel along, so that `$ref`s into them resolve.
    let root = json!({"allOf": [schema], "components": doc["components"]});
    jsonschema::validator_for(&root).unwrap()
}

fn assert_valid(doc: &Value, path: &str, method: &str, status: StatusCode, body: &Value) {
    let v = validator(doc, path, method, status.as_u16());
    if let Err(e) = v.validate(body) {
        panic!("{method} {path} {status}: {e} at {}\n{body}", e.instance_path());
    }
}

async fn real_answers_match_their_schemas(backend: Backend) {
    let s = Server::start(backend);
    let doc = document(&s).await;

    let (status, token) = s.token_raw(&[("terminal", TERMINAL_2)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_valid(&doc, "/oauth2/token", "post", status, &token);
    let (status, refused) = s.token_raw(&[("scope", "nonsense")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_valid(&doc, "/oauth2/token", "post", status, &refused);

    // A charge, with a decimal amount (a JSON number with a fraction on the wire).
    let inv = invoice();
    let body = seed_like_body(&inv, json!(12.5));
    let token = s.token_for(&body["order"]).await;
    let (status, charged) = s.transfer(&token, &body).await;
    assert_eq!(status, StatusCode::OK, "{charged}");
    assert_eq!(charged["amount"], json!(12.5));
    assert_valid(&doc, "/payments/cards/auth", "post", status, &charged);

    // A decline: the order does not match its token (469).
    let other = seed_like_body(&invoice(), json!(100));
    let token = s.token_for(&other["order"]).await;
    let mut mismatched = other.clone();
    mismatched["order"]["amount"] = json!(101);
    let (status, declined) = s.transfer(&token, &mismatched).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{declined}");
    assert_eq!(declined["code"], 469);
    assert_valid(&doc, "/payments/cards/auth", "post", status, &declined);

    // Status of the charge, found and not found.
    let status_token = s.token(&[("terminal", TERMINAL_2)]).await;
    for invoice in [inv.as_str(), "999999999"] {
        let path = format!("/check-status/p2p/transaction/{invoice}");
        let (status, answer) = s.get_json(&path, &status_token).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let described = "/check-status/p2p/transaction/{invoice}";
        assert_valid(&doc, described, "get", status, &answer);
    }

    // Sandbox: the ledger report and the card list.
    let ledger = s.sandbox_get("/sandbox/ledger").await;
    assert_valid(&doc, "/sandbox/ledger", "get", StatusCode::OK, &ledger);
    let cards = s.sandbox_get("/sandbox/cards").await;
    assert_valid(&doc, "/sandbox/cards", "get", StatusCode::OK, &cards);

    // A wrong answer is caught: the check can fail.
    let mut broken = charged.clone();
    broken["senderCardPAN"] = json!("4405639704015096");
    let v = validator(&doc, "/payments/cards/auth", "post", 200);
    assert!(v.validate(&broken).is_err(), "a full card number passed as a mask");
}

/// Found by Schemathesis: `PUT /sandbox/terminals/{id}/limits` with the body `[null, null]`
/// answered 200 and put every limit back to its default, because serde reads a struct from an
/// array field by field. A body that is (or holds) an array where an object belongs is now
/// refused as malformed (477), there and on the transfer routes, and nothing changes.
async fn arrays_are_not_read_as_objects(backend: Backend) {
    let s = Server::start(backend);
    let limits = s.path(&format!("/sandbox/terminals/{TERMINAL}/limits"));
    let put = |body: &'static str| {
        s.http
            .put(&limits)
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let resp = put(r#"{"per_transfer": 5000}"#).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    for body in ["[null, null]", "[5000]", r#"{"per_transfer": [5000]}"#] {
        let resp = put(body).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(answer["code"], 477, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains("JSON array"), "{answer}");
    }
    let now = s.sandbox_get(&format!("/sandbox/terminals/{TERMINAL}/limits")).await;
    assert_eq!(now["per_transfer"], 5000, "a refused body changed the limits: {now}");

    // The transfer: the whole body, and the order, as arrays.
    let body = seed_like_body(&invoice(), json!(100));
    let token = s.token_for(&body["order"]).await;
    let as_array = json!([body["order"], body["card"]]);
    let mut order_as_array = body.clone();
    order_as_array["order"] = json!([100, "KZT", null, body["order"]["id"]]);
    for sent in [as_array, order_as_array] {
        let (status, answer) = s.transfer(&token, &sent).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["code"], 477, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains("JSON array"), "{answer}");
    }
    // The token was not spent by the refusals: the body as an object still goes through.
    let (status, answer) = s.transfer(&token, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    s.assert_ledger_balanced().await;
}

/// In production mode the sandbox API is not served, and not described.
async fn production_describes_no_sandbox_api(backend: Backend) {
    let s = Server::start_with(backend, &["--mode", "production"]);
    let doc = document(&s).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/payments/cards/auth"));
    let sandbox: Vec<&String> = paths.keys().filter(|p| p.starts_with("/sandbox/")).collect();
    assert!(sandbox.is_empty(), "{sandbox:?}");
    let resp = s.http.get(s.path("/sandbox/ledger")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
