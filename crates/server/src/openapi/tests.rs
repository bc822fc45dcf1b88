use super::*;

/// Every path the router registers (read from `lib.rs`, the one place routes are added) is
/// described, and every described path is one the router registers: the description cannot
/// lose or invent an endpoint. The page routes (`pages::router`) are left out on purpose.
#[test]
fn every_router_path_is_described_and_nothing_else() {
    let source = include_str!("../lib.rs");
    let mut routed: Vec<String> = Vec::new();
    for piece in source.split(".route(").skip(1) {
        let arg = piece.trim_start();
        let path = if let Some(rest) = arg.strip_prefix('"') {
            rest.split('"').next().unwrap_or_default().to_string()
        } else if arg.starts_with("aqsha_core::transfer::secure3d::CONFIRM_PATH") {
            aqsha_core::transfer::secure3d::CONFIRM_PATH.to_string()
        } else {
            panic!("a route whose path this test cannot read: {:.60}", arg)
        };
        routed.push(path);
    }
    assert!(
        source.contains(".nest(\"/api\", epay)"),
        "the /api prefix moved"
    );
    for p in EPAY_PATHS {
        assert!(routed.iter().any(|r| r == p), "{p} is not an ePay route");
        routed.push(format!("/api{p}"));
    }
    routed.sort();
    routed.dedup();
    let mut described: Vec<String> = document().paths.paths.keys().cloned().collect();
    described.sort();
    assert_eq!(described, routed);
}

/// `docs/openapi.md` is what `aqsha openapi --markdown` prints now.
#[test]
fn the_markdown_in_docs_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.md");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_str(json()).unwrap_or_default();
    let generated = markdown::render(&doc);
    assert!(
        committed == generated,
        "docs/openapi.md is out of date: run `cargo run -p aqsha -- openapi --markdown > docs/openapi.md`"
    );
}

/// The fields whose format the issue names are described as the wire sends them.
#[test]
fn formats_of_the_named_fields() {
    let doc: serde_json::Value = serde_json::from_str(json()).unwrap_or_default();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(schemas["ApiError"]["properties"]["code"]["type"], "integer");
    assert_eq!(
        schemas["TokenResponse"]["properties"]["expires_in"]["type"],
        "string"
    );
    assert_eq!(schemas["Amount"]["format"], "decimal");
    let pan = &schemas["TransferResponse"]["properties"]["senderCardPAN"];
    assert!(
        pan["pattern"]
            .as_str()
            .is_some_and(|p| p.contains(r"\.\.\.")),
        "{pan}"
    );
    assert_eq!(
        schemas["TransferResponse"]["properties"]["amount"]["$ref"],
        "#/components/schemas/Amount"
    );
}

/// Every `$ref` in the document names a schema it holds.
#[test]
fn every_reference_resolves() {
    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                    out.push(r);
                }
                m.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let doc: serde_json::Value = serde_json::from_str(json()).unwrap_or_default();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 50, "{}", found.len());
    for r in found {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} names no schema"
        );
    }
}

/// A server without the sandbox API describes none of its paths, and all the others.
#[test]
fn the_production_document_leaves_out_the_sandbox_api() {
    let full: serde_json::Value = serde_json::from_str(json()).unwrap_or_default();
    let prod: serde_json::Value = serde_json::from_str(json_without_sandbox()).unwrap_or_default();
    let paths = |d: &serde_json::Value| -> Vec<String> {
        d["paths"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (full, prod) = (paths(&full), paths(&prod));
    assert!(full.iter().any(|p| p.starts_with("/sandbox/")));
    let expected: Vec<String> = full
        .into_iter()
        .filter(|p| !p.starts_with("/sandbox/"))
        .collect();
    assert_eq!(prod, expected);
    assert!(prod.iter().any(|p| p == "/payments/cards/auth"));
}
