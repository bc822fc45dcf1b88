//! The token request (`POST /oauth2/token`) in each body it is sent in: form-urlencoded (also
//! with no `Content-Type`), multipart and JSON. Property: what the endpoint accepts holds no
//! control character and no untrimmed value, and, sent again as a form, reads back the same.
#![no_main]

use aqsha_server::fuzzing::token_request;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The parser is async (multer's stream), though nothing in it waits: one runtime for the run.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    })
}

const FORM: &str = "application/x-www-form-urlencoded";

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let content_type = match kind % 5 {
        0 => None,
        1 => Some(FORM),
        2 => Some("multipart/form-data; boundary=XyZ"),
        3 => Some("application/json"),
        // The boundary itself from the input: up to the first newline.
        _ => {
            let (b, _) = body.split_at(body.iter().position(|&c| c == b'\n').unwrap_or(0));
            let Ok(b) = std::str::from_utf8(b) else {
                return;
            };
            let ct = format!("multipart/form-data; boundary={b}");
            let rest = &body[b.len()..];
            let _ = runtime().block_on(token_request(Some(&ct), rest));
            return;
        }
    };
    let Ok(req) = runtime().block_on(token_request(content_type, body)) else {
        return;
    };
    let fields = req.to_fields();
    for (name, value) in &fields {
        assert!(
            !value.chars().any(char::is_control),
            "{name} holds a control character"
        );
        assert_eq!(value.trim(), value, "{name} is not trimmed");
        assert!(!value.is_empty(), "{name} is empty yet present");
    }
    let form = serde_urlencoded::to_string(&fields).unwrap_or_else(|e| panic!("{e}"));
    let again = runtime()
        .block_on(token_request(Some(FORM), form.as_bytes()))
        .unwrap_or_else(|e| panic!("accepted fields, sent again as a form, are refused: {e}"));
    assert_eq!(again.to_fields(), fields);
});
