//! `POST /p2p/operations` (`docs/api.md`, "Operations search"; reference §6): a merchant's
//! operations, searched and paged.
//!
//! ```json
//! {"paging": {"page": 0, "size": 20},
//!  "searchParameters": [{"name": "created_at", "method": "between",
//!                        "searchParameter": ["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"]}],
//!  "orderParameters": [{"field": "created_at", "typeOrder": "DESC"}]}
//! ```
//!
//! The request is read strictly: an unknown key anywhere is refused, so a misspelt filter is
//! an error rather than a search over everything.

use crate::status::StatusTransaction;
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OperationsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
    #[serde(rename = "searchParameters", default)]
    pub search_parameters: Vec<SearchParameter>,
    #[serde(
        rename = "orderParameters",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub order_parameters: Vec<OrderParameter>,
}

/// A page: its number from 0, and how many operations it holds.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    #[serde(default)]
    pub page: u32,
    #[serde(default = "default_size")]
    pub size: u32,
}

fn default_size() -> u32 {
    20
}

/// One condition: a field, a method (`between`, `in`, `like`, `=`, `<`, `>`, `<=`, `>=`) and
/// its values (two for `between`, one or more for `in`, one otherwise), as text or numbers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SearchParameter {
    pub name: String,
    pub method: String,
    #[serde(rename = "searchParameter")]
    pub search_parameter: Vec<serde_json::Value>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OrderParameter {
    pub field: String,
    /// `ASC` or `DESC`.
    #[serde(rename = "typeOrder", default = "default_order")]
    pub type_order: String,
}

fn default_order() -> String {
    "DESC".into()
}

/// The answer: the page asked for, whether another follows, and its operations, each in the
/// status API's shape.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OperationsResponse {
    pub paging: PageInfo,
    pub data: Vec<StatusTransaction>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct PageInfo {
    pub page: u32,
    pub size: u32,
    #[serde(rename = "hasNext")]
    pub has_next: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_example_reads_and_unknown_keys_are_refused() {
        let r: OperationsRequest = serde_json::from_str(
            r#"{"paging":{"page":0,"size":20},"searchParameters":[{"name":"created_at",
            "method":"between","searchParameter":["2026-01-01","2026-02-01"]}],
            "orderParameters":[{"field":"created_at","typeOrder":"DESC"}]}"#,
        )
        .unwrap();
        assert_eq!(r.paging, Some(Paging { page: 0, size: 20 }));
        assert_eq!(r.search_parameters[0].method, "between");
        assert_eq!(r.order_parameters[0].type_order, "DESC");
        let bad = serde_json::from_str::<OperationsRequest>(r#"{"searchParams":[]}"#);
        assert!(bad.unwrap_err().to_string().contains("searchParams"));
        let answer = OperationsResponse {
            paging: PageInfo {
                page: 1,
                size: 5,
                has_next: false,
            },
            data: vec![],
        };
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"paging":{"page":1,"size":5,"hasNext":false},"data":[]}"#
        );
    }
}
