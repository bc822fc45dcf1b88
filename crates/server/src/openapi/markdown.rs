//! `docs/openapi.md`: the OpenAPI document rendered as plain Markdown for people, by
//! `aqsha openapi --markdown`. It reads the document's JSON, so it shows what the JSON says.

use serde_json::Value;
use std::fmt::Write;

/// The Markdown page.
pub fn render(doc: &Value) -> String {
    let mut out = String::new();
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let _ = writeln!(
        out,
        "# {title}: the API described (OpenAPI {})\n",
        text(&doc["openapi"])
    );
    out.push_str(
        "<!-- Generated from the code by `aqsha openapi --markdown > docs/openapi.md`; \
         a test fails when this file differs from what the code generates. -->\n\n",
    );
    let _ = writeln!(out, "{}\n", text(&doc["info"]["description"]));
    out.push_str(
        "The same document as JSON is served at `GET /openapi.json` and printed by \
         `aqsha openapi`. The web pages (`/payform/`, `/cabinet/`, `/acs/`, `/assets/`, \
         `/sandbox/demo`) are not in it. How Schemathesis checks the server against it: \
         [api.md](api.md), \"Schema fuzzing\".\n\n",
    );
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    out.push_str("## Endpoints\n\n| method | path | also at | summary | auth |\n");
    out.push_str("|---|---|---|---|---|\n");
    for (path, item) in paths.iter().filter(|(path, _)| !is_alias(path)) {
        let also: Vec<String> = aliases_of(path).iter().map(|p| format!("`{p}`")).collect();
        for (method, op) in methods(item) {
            let _ = writeln!(
                out,
                "| {} | [`{path}`](#{}) | {} | {} | {} |",
                method.to_uppercase(),
                anchor(&method, path),
                also.join(", "),
                cell(&op["summary"]),
                auth(op)
            );
        }
    }
    out.push('\n');
    for (path, item) in &paths {
        if is_alias(path) {
            continue;
        }
        for (method, op) in methods(item) {
            operation(&mut out, path, &method, op);
        }
    }
    out.push_str("## Schemas\n\n");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            schema_section(&mut out, name, schema);
        }
    }
    out
}

/// Paths the document holds as copies of another (`super::ALIASES`, the `/api` prefix).
fn is_alias(path: &str) -> bool {
    path.starts_with("/api/") || super::ALIASES.iter().any(|(_, to)| *to == path)
}

fn aliases_of(path: &str) -> Vec<String> {
    let mut list: Vec<String> = super::ALIASES
        .iter()
        .filter(|(from, _)| *from == path)
        .map(|(_, to)| to.to_string())
        .collect();
    let bare: Vec<String> = std::iter::once(path.to_string())
        .chain(list.clone())
        .collect();
    for p in bare {
        if super::EPAY_PATHS.contains(&p.as_str()) {
            list.push(format!("/api{p}"));
        }
    }
    list
}

/// The anchor GitHub gives the heading `### METHOD `path``: lowercase, spaces to dashes,
/// punctuation other than `-` and `_` dropped.
fn anchor(method: &str, path: &str) -> String {
    format!("{method} {path}")
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn methods(item: &Value) -> Vec<(String, &Value)> {
    ["get", "put", "post", "delete", "patch"]
        .iter()
        .filter_map(|m| item.get(*m).map(|op| (m.to_string(), op)))
        .collect()
}

fn operation(out: &mut String, path: &str, method: &str, op: &Value) {
    let _ = writeln!(out, "### {} `{path}`\n", method.to_uppercase());
    let _ = writeln!(out, "{}\n", text(&op["summary"]));
    if let Some(d) = op["description"].as_str() {
        let _ = writeln!(out, "{d}\n");
    }
    let also = aliases_of(path);
    if !also.is_empty() {
        let list: Vec<String> = also.iter().map(|p| format!("`{p}`")).collect();
        let _ = writeln!(out, "Also at {}.\n", list.join(", "));
    }
    let _ = writeln!(out, "Auth: {}.\n", auth(op));
    if let Some(params) = op["parameters"].as_array() {
        for p in params {
            let _ = writeln!(
                out,
                "- {} parameter `{}` ({}): {}",
                text(&p["in"]),
                text(&p["name"]),
                type_of(&p["schema"]),
                cell(&p["description"])
            );
        }
        out.push('\n');
    }
    if let Some(content) = op["requestBody"]["content"].as_object() {
        let bodies: Vec<String> = content
            .iter()
            .map(|(ct, c)| format!("`{ct}` {}", type_of(&c["schema"])))
            .collect();
        let _ = writeln!(out, "Request body: {}.\n", bodies.join("; "));
    }
    out.push_str("| status | meaning | body |\n|---|---|---|\n");
    if let Some(responses) = op["responses"].as_object() {
        for (status, r) in responses {
            let body = r["content"]
                .as_object()
                .map(|c| {
                    c.iter()
                        .map(|(ct, c)| format!("{} `{ct}`", type_of(&c["schema"])))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let _ = writeln!(out, "| {status} | {} | {body} |", cell(&r["description"]));
        }
    }
    out.push('\n');
}

fn schema_section(out: &mut String, name: &str, schema: &Value) {
    let _ = writeln!(out, "### {name}\n");
    if let Some(d) = schema["description"].as_str() {
        let _ = writeln!(out, "{}\n", d.trim());
    }
    // A struct with a flattened part (`#[serde(flatten)]`) is `allOf` the part and the rest.
    match schema["allOf"].as_array() {
        Some(parts) => parts.iter().for_each(|part| schema_part(out, part)),
        None => schema_part(out, schema),
    }
}

fn schema_part(out: &mut String, schema: &Value) {
    if schema["$ref"].is_string() {
        let _ = writeln!(out, "The fields of {}, and:\n", type_of(schema));
        return;
    }
    let Some(props) = schema["properties"].as_object() else {
        let _ = writeln!(out, "{}{}\n", type_of(schema), constraints(schema));
        return;
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("| field | type | required | notes |\n|---|---|---|---|\n");
    for (field, s) in props {
        let req = if required.contains(&field.as_str()) {
            "yes"
        } else {
            ""
        };
        let notes = format!("{}{}", cell(&s["description"]), constraints(s));
        let _ = writeln!(
            out,
            "| `{field}` | {} | {req} | {} |",
            type_of(s),
            notes.trim()
        );
    }
    out.push('\n');
}

/// A schema's type in a few words: a link to a named schema, `array of …`, or the JSON
/// types with the format.
fn type_of(s: &Value) -> String {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[{name}](#{})", name.to_lowercase());
    }
    for (key, joint) in [("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")] {
        if let Some(list) = s[key].as_array() {
            let parts: Vec<String> = list.iter().map(type_of).collect();
            return parts.join(joint);
        }
    }
    let mut t = match &s["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts.iter().map(text).collect::<Vec<_>>().join(" or "),
        _ => "any".to_string(),
    };
    if t.starts_with("array") {
        t = format!("array of {}", type_of(&s["items"]));
    }
    if let Some(f) = s["format"].as_str() {
        t.push_str(&format!(" ({f})"));
    }
    t
}

fn constraints(s: &Value) -> String {
    let mut notes = String::new();
    if let Some(p) = s["pattern"].as_str() {
        let _ = write!(notes, " Pattern `{p}`.");
    }
    if let Some(m) = s.get("minimum") {
        let _ = write!(notes, " Minimum {m}.");
    }
    if let Some(e) = s.get("example").or_else(|| s["examples"].get(0)) {
        let _ = write!(notes, " Example `{e}`.");
    }
    notes
}

fn auth(op: &Value) -> String {
    let Some(list) = op["security"].as_array() else {
        return "none".into();
    };
    let names: Vec<String> = list
        .iter()
        .map(|req| match req.as_object().and_then(|o| o.keys().next()) {
            Some(name) => format!("`{name}`"),
            None => "none".into(),
        })
        .collect();
    names.join(" or ")
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Text for a table cell: on one line, pipes escaped.
fn cell(v: &Value) -> String {
    text(v)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}
