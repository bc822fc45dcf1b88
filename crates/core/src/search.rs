//! The operations search (`POST /p2p/operations`, reference §6) as a typed query: which fields
//! may be searched and how, checked once here, so that the store only ever binds values into
//! statements it wrote itself.
//!
//! `created_at` is required (ePay requires it, and it keeps a search on the merchant's
//! time-ordered index). Text fields take `=`, `in` and `like` (case-insensitive; `%` and `_`
//! are wildcards); `amount` and `created_at` take `=`, `<`, `>`, `<=`, `>=` and `between`
//! (both ends included), and `amount` also `in`. `card_mask` matches the sender's or the
//! receiver's mask.

use crate::money::Money;
use crate::records::OperationStatus;
use aqsha_wire::operations::{OperationsRequest, SearchParameter};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// The largest page.
pub const MAX_PAGE_SIZE: u32 = 100;
/// The most values one `in` takes.
pub const MAX_IN_VALUES: usize = 100;
/// The most conditions one search takes.
pub const MAX_CONDITIONS: usize = 16;
/// How far paging reaches: a deeper page costs a scan of everything before it, so a client
/// narrows the search instead.
pub const MAX_OFFSET: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    CreatedAt,
    InvoiceId,
    AccountId,
    Status,
    Amount,
    CardMask,
    Reference,
    TerminalId,
    /// The following are the cabinet's (issue 16), not the API's: [`Field::ALL`], which the
    /// API parses, leaves them out. A decline's reason code (an `Int` value).
    ReasonCode,
    /// The operation's id.
    OperationId,
    /// The cabinet's one search box: the value is an invoice id, a reference, an
    /// intReference or an operation id (`=` only).
    AnyNumber,
}

impl Field {
    pub const ALL: [(&'static str, Field); 8] = [
        ("created_at", Field::CreatedAt),
        ("invoice_id", Field::InvoiceId),
        ("account_id", Field::AccountId),
        ("status", Field::Status),
        ("amount", Field::Amount),
        ("card_mask", Field::CardMask),
        ("reference", Field::Reference),
        ("terminal_id", Field::TerminalId),
    ];

    fn parse(name: &str) -> Option<Field> {
        Field::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    fn ordered(self) -> bool {
        matches!(self, Field::CreatedAt | Field::Amount)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Between,
    In,
    Like,
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Method {
    const ALL: [(&'static str, Method); 8] = [
        ("between", Method::Between),
        ("in", Method::In),
        ("like", Method::Like),
        ("=", Method::Eq),
        ("<", Method::Lt),
        (">", Method::Gt),
        ("<=", Method::Le),
        (">=", Method::Ge),
    ];

    fn parse(name: &str) -> Option<Method> {
        let name = name.to_ascii_lowercase();
        Method::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
    }
}

/// A value to bind: text (created_at in the stored form, RFC 3339 with milliseconds), or an
/// amount in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Int(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: Field,
    pub method: Method,
    pub values: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub conditions: Vec<Condition>,
    /// (field, descending); the operation id breaks ties in the last one's direction.
    pub order: Vec<(Field, bool)>,
    pub page: u32,
    pub size: u32,
    /// Keyset paging (the cabinet's): the page starts after this operation in the order
    /// `created_at DESC, id DESC` (which [`Search::newest_first`] sets), so a deep page costs
    /// what the first does. `page` is 0 then.
    pub after: Option<Cursor>,
}

/// Where a keyset page starts: the last operation of the page before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// In the stored form ([`stored_time`]).
    pub created_at: String,
    pub id: String,
}

impl Cursor {
    /// The cursor as one URL-safe text: `created_at` and the id, `~`-separated.
    pub fn encode(&self) -> String {
        format!("{}~{}", self.created_at, self.id)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let (at, id) = text.split_once('~')?;
        let t = DateTime::parse_from_rfc3339(at).ok()?;
        (!id.is_empty() && id.len() <= 64).then(|| Cursor {
            created_at: stored_time(t.with_timezone(&Utc)),
            id: id.to_string(),
        })
    }
}

impl Search {
    /// The query of a request, or what is wrong with it, said for the caller.
    pub fn parse(req: &OperationsRequest) -> Result<Search, String> {
        let paging = req
            .paging
            .unwrap_or(aqsha_wire::operations::Paging { page: 0, size: 20 });
        if paging.size == 0 || paging.size > MAX_PAGE_SIZE {
            return Err(format!("paging.size must be 1 to {MAX_PAGE_SIZE}"));
        }
        if u64::from(paging.page) * u64::from(paging.size) > MAX_OFFSET {
            return Err(format!(
                "paging reaches at most {MAX_OFFSET} operations deep; narrow the search instead"
            ));
        }
        if req.search_parameters.len() > MAX_CONDITIONS {
            return Err(format!(
                "searchParameters takes at most {MAX_CONDITIONS} conditions"
            ));
        }
        let conditions = req
            .search_parameters
            .iter()
            .map(condition)
            .collect::<Result<Vec<_>, _>>()?;
        if !conditions.iter().any(|c| c.field == Field::CreatedAt) {
            return Err("searchParameters must include created_at".into());
        }
        let mut order = Vec::new();
        for o in &req.order_parameters {
            let field = Field::parse(&o.field)
                .ok_or_else(|| format!("orderParameters: unknown field {:?}", shown(&o.field)))?;
            let desc = match o.type_order.to_ascii_uppercase().as_str() {
                "DESC" => true,
                "ASC" => false,
                _ => return Err("orderParameters: typeOrder must be ASC or DESC".into()),
            };
            if order.iter().any(|(f, _)| *f == field) {
                return Err(format!("orderParameters: {} is given twice", o.field));
            }
            order.push((field, desc));
        }
        if order.is_empty() {
            order.push((Field::CreatedAt, true));
        }
        Ok(Search {
            conditions,
            order,
            page: paging.page,
            size: paging.size,
            after: None,
        })
    }

    /// A search in the cabinet's order, newest first, keyset-paged after `after`.
    pub fn newest_first(conditions: Vec<Condition>, size: u32, after: Option<Cursor>) -> Search {
        Search {
            conditions,
            order: vec![(Field::CreatedAt, true)],
            page: 0,
            size,
            after,
        }
    }
}

/// A caller's name as quoted back: short, so an error never echoes a long input.
fn shown(s: &str) -> String {
    s.chars().take(40).collect()
}

fn condition(p: &SearchParameter) -> Result<Condition, String> {
    let field = Field::parse(&p.name).ok_or_else(|| {
        let names: Vec<&str> = Field::ALL.iter().map(|(n, _)| *n).collect();
        format!(
            "searchParameters: unknown field {:?} (one of {})",
            shown(&p.name),
            names.join(", ")
        )
    })?;
    let method = Method::parse(&p.method).ok_or_else(|| {
        format!(
            "searchParameters: unknown method {:?} for {} (between, in, like, =, <, >, <=, >=)",
            shown(&p.method),
            p.name
        )
    })?;
    let allowed = match method {
        Method::Like => !field.ordered(),
        Method::In => field != Field::CreatedAt,
        Method::Eq => true,
        _ => field.ordered(),
    };
    if !allowed {
        return Err(format!(
            "searchParameters: method {:?} does not apply to {}",
            p.method, p.name
        ));
    }
    let count = p.search_parameter.len();
    let fits = match method {
        Method::Between => count == 2,
        Method::In => (1..=MAX_IN_VALUES).contains(&count),
        _ => count == 1,
    };
    if !fits {
        return Err(format!(
            "searchParameters: {} {} takes {} value(s) in searchParameter, not {count}",
            p.name,
            p.method,
            match method {
                Method::Between => "2".to_string(),
                Method::In => format!("1 to {MAX_IN_VALUES}"),
                _ => "1".to_string(),
            }
        ));
    }
    let values = p
        .search_parameter
        .iter()
        .map(|v| value(field, method, v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("searchParameters: {}: {e}", p.name))?;
    Ok(Condition {
        field,
        method,
        values,
    })
}

fn text_of(v: &serde_json::Value) -> Result<String, String> {
    match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err("values must be text or numbers".into()),
    }
}

fn value(field: Field, method: Method, v: &serde_json::Value) -> Result<Value, String> {
    let text = text_of(v)?;
    if text.len() > 200 {
        return Err("a value is longer than 200 characters".into());
    }
    match field {
        Field::CreatedAt => instant(&text).map(|t| Value::Text(stored_time(t))),
        Field::Amount => Money::parse_positive(&text)
            .map(|m| Value::Int(m.minor()))
            .map_err(|e| e.to_string()),
        Field::Status if method != Method::Like => OperationStatus::parse(&text)
            .map(|s| Value::Text(s.as_str().to_string()))
            .ok_or_else(|| format!("unknown status {:?}", shown(&text))),
        _ => Ok(Value::Text(text)),
    }
}

/// An instant as the caller may write it: RFC 3339 (`2026-01-31T10:00:00+06:00`), or a UTC
/// date-time without offset (`2026-01-31 10:00:00`, `2026-01-31T10:00:00`), or a UTC date
/// (its midnight).
fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            format!(
                "{:?} is not a date or time (RFC 3339, or YYYY-MM-DD)",
                shown(text)
            )
        })
}

/// An instant in the form operations store it (text that sorts as time does).
pub fn stored_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> Result<Search, String> {
        Search::parse(&serde_json::from_str::<OperationsRequest>(json).unwrap())
    }

    #[test]
    fn a_search_needs_created_at_and_known_fields_and_methods() {
        let e = request(
            r#"{"searchParameters":[{"name":"amount","method":"=","searchParameter":[1]}]}"#,
        );
        assert!(e.unwrap_err().contains("must include created_at"));
        let e = request(
            r#"{"searchParameters":[{"name":"pan","method":"=","searchParameter":["1"]}]}"#,
        );
        assert!(e.unwrap_err().contains("unknown field \"pan\""));
        let e = request(
            r#"{"searchParameters":[{"name":"created_at","method":"~","searchParameter":["1"]}]}"#,
        );
        assert!(e.unwrap_err().contains("unknown method"));
        let e = request(
            r#"{"searchParameters":[{"name":"created_at","method":"like","searchParameter":["1"]}]}"#,
        );
        assert!(e.unwrap_err().contains("does not apply"));
        let e = request(
            r#"{"searchParameters":[{"name":"created_at","method":"between","searchParameter":["2026-01-01"]}]}"#,
        );
        assert!(e.unwrap_err().contains("takes 2 value(s)"));
        let e = request(
            r#"{"searchParameters":[{"name":"created_at","method":">","searchParameter":["yesterday"]}]}"#,
        );
        assert!(e.unwrap_err().contains("not a date"));
    }

    #[test]
    fn values_are_read_into_their_stored_forms() {
        let s = request(
            r#"{"paging":{"page":2,"size":5},"searchParameters":[
            {"name":"created_at","method":"between","searchParameter":["2026-01-01","2026-01-31T10:00:00+06:00"]},
            {"name":"amount","method":">=","searchParameter":["10.5"]},
            {"name":"status","method":"in","searchParameter":["CHARGE","FAILED"]}],
            "orderParameters":[{"field":"amount","typeOrder":"asc"}]}"#,
        )
        .unwrap();
        assert_eq!(
            s.conditions[0].values,
            vec![
                Value::Text("2026-01-01T00:00:00.000Z".into()),
                Value::Text("2026-01-31T04:00:00.000Z".into())
            ]
        );
        assert_eq!(s.conditions[1].values, vec![Value::Int(1050)]);
        assert_eq!(s.order, vec![(Field::Amount, false)]);
        assert_eq!((s.page, s.size), (2, 5));
        let e = request(
            r#"{"searchParameters":[{"name":"created_at","method":">","searchParameter":["2026-01-01"]},{"name":"status","method":"=","searchParameter":["PAID"]}]}"#,
        );
        assert!(e.unwrap_err().contains("unknown status"));
    }
}
