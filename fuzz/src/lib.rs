//! What the fuzz targets share.

/// Runs of 12 or more digits: what could be a card number.
pub fn card_like(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() >= 12)
}

/// The card-like runs in the body's values (strings and numbers, at any depth), leaving out
/// any that also stands in a key or in the value of a key in `named`: a refusal may name a
/// key, or a word of a grammar it does not know (the operations search's field and method
/// names), never repeat a value.
fn value_runs(body: &[u8], named: &[&str]) -> Vec<String> {
    fn walk(
        v: &serde_json::Value,
        values: &mut Vec<String>,
        keys: &mut Vec<String>,
        named: &[&str],
    ) {
        match v {
            serde_json::Value::String(s) => values.extend(card_like(s).map(String::from)),
            serde_json::Value::Number(n) => {
                values.extend(card_like(&n.to_string()).map(String::from))
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, values, keys, named)),
            serde_json::Value::Object(o) => o.iter().for_each(|(k, v)| {
                keys.push(k.clone());
                if named.contains(&k.as_str()) {
                    keys.push(v.to_string());
                } else {
                    walk(v, values, keys, named);
                }
            }),
            _ => {}
        }
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let (mut values, mut keys) = (Vec::new(), Vec::new());
    walk(&value, &mut values, &mut keys, named);
    values.retain(|run| !keys.iter().any(|k| k.contains(run.as_str())));
    values
}

/// A refusal of `body` repeats no card-like run of its values ([`value_runs`]).
pub fn refusal_hides_card_numbers(message: &str, body: &[u8], named: &[&str]) {
    for run in value_runs(body, named) {
        assert!(
            !message.contains(&run),
            "the refusal repeats {run} from the body: {message}"
        );
    }
}
