//! The operations search (`aqsha_core::search`) and the cabinet login behind its token.
//!
//! The statement is put together from fixed pieces only: a column for each field and an
//! operator for each method, chosen by `match` on the typed query. What the caller sent is only
//! ever bound as a parameter. The merchant's index (migration "operations_search") is on
//! (merchant, created_at, id), so a search in created_at order reads its page off the index.

use super::{Driver, Param, SqlConn};
use crate::rows;
use aqsha_core::records::{MerchantRecord, OperationRecord};
use aqsha_core::search::{Condition, Field, Method, Search, Value};
use aqsha_core::store::StoreResult;

fn column(f: Field) -> &'static str {
    match f {
        Field::CreatedAt => "created_at",
        Field::InvoiceId => "invoice_id",
        Field::AccountId => "account_id",
        Field::Status => "status",
        Field::Amount => "amount",
        Field::CardMask => "sender_mask",
        Field::Reference => "reference",
        Field::TerminalId => "terminal_id",
        Field::ReasonCode => "reason_code",
        Field::OperationId => "id",
        // Several columns: `clause` writes it.
        Field::AnyNumber => "invoice_id",
    }
}

fn operator(m: Method) -> &'static str {
    match m {
        Method::Eq => "=",
        Method::Lt => "<",
        Method::Gt => ">",
        Method::Le => "<=",
        Method::Ge => ">=",
        // Between, in and like have their own shapes (`test`).
        Method::Between | Method::In | Method::Like => "=",
    }
}

/// One condition on one column, its values numbered from `$n`.
fn test(column: &str, c: &Condition, n: usize) -> String {
    match c.method {
        Method::Between => format!("{column} BETWEEN ${n} AND ${}", n + 1),
        Method::In => {
            let marks: Vec<String> = (n..n + c.values.len()).map(|i| format!("${i}")).collect();
            format!("{column} IN ({})", marks.join(", "))
        }
        // Case-insensitive on both databases (SQLite's LIKE is, PostgreSQL's is not).
        Method::Like => format!("LOWER({column}) LIKE LOWER(${n})"),
        m => format!("{column} {} ${n}", operator(m)),
    }
}

/// Whether the search names invoices or references, whose own indexes find their few rows at
/// once: the time index is then kept out of the plan (`created_at || ''`), which SQLite,
/// without statistics, would otherwise walk (0.3 s over a million operations, against well
/// under a millisecond).
fn selective(search: &Search) -> bool {
    search.conditions.iter().any(|c| {
        matches!(
            c.field,
            Field::InvoiceId | Field::Reference | Field::OperationId | Field::AnyNumber
        ) && matches!(c.method, Method::Eq | Method::In)
    })
}

/// The condition's SQL; `card_mask` tests both sides, on the same parameters.
fn clause(c: &Condition, n: usize, selective: bool) -> String {
    match c.field {
        Field::CardMask => format!(
            "({} OR {})",
            test("sender_mask", c, n),
            test("receiver_mask", c, n)
        ),
        Field::CreatedAt if selective => test("(created_at || '')", c, n),
        // One lookup per number column, each on its own index (the partial ones need their
        // condition spelled out): an `OR` of the same tests made SQLite scan the merchant's
        // rows (0.4 s over a million).
        Field::AnyNumber => format!(
            "id IN (SELECT id FROM operations WHERE merchant_id = $1 AND invoice_id = ${n} \
             UNION ALL SELECT id FROM operations WHERE reference = ${n} AND reference <> '' \
             UNION ALL SELECT id FROM operations WHERE int_reference = ${n} AND int_reference <> '' \
             UNION ALL SELECT id FROM operations WHERE id = ${n})"
        ),
        // The reference index leaves out the declines' empty references.
        Field::Reference
            if matches!(c.method, Method::Eq | Method::In)
                && c.values.iter().all(|v| *v != Value::Text(String::new())) =>
        {
            format!("{} AND reference <> ''", test("reference", c, n))
        }
        f => test(column(f), c, n),
    }
}

/// The search's conditions after `merchant_id = $1`, appended to `sql`; the next parameter's
/// number.
fn conditions(sql: &mut String, search: &Search, selective: bool) -> usize {
    let mut n = 2;
    for c in &search.conditions {
        sql.push_str(" AND ");
        sql.push_str(&clause(c, n, selective));
        n += c.values.len();
    }
    n
}

/// How many of the merchant's operations match the conditions, counted up to the cap
/// (`$n`): the rows are those the list pages through, without reading them.
fn count_statement(search: &Search) -> String {
    let mut sql =
        "SELECT COUNT(*) FROM (SELECT 1 FROM operations WHERE merchant_id = $1".to_string();
    let n = conditions(&mut sql, search, selective(search));
    sql.push_str(&format!(" LIMIT ${n}) AS capped"));
    sql
}

/// The statement for a search and its parameters' values, in order after the merchant.
fn statement(search: &Search) -> String {
    let mut sql = format!(
        "SELECT {} FROM operations WHERE merchant_id = $1",
        rows::OPERATION_COLUMNS
    );
    let selective = selective(search);
    let mut n = conditions(&mut sql, search, selective);
    if search.after.is_some() {
        // Keyset paging: the rows after the cursor in the order `created_at DESC, id DESC`.
        let key = if selective {
            "created_at || ''"
        } else {
            "created_at"
        };
        sql.push_str(&format!(" AND ({key}, id) < (${n}, ${})", n + 1));
        n += 2;
    }
    let order: Vec<String> = search
        .order
        .iter()
        .map(|(f, desc)| {
            let key = match f {
                Field::CreatedAt if selective => "created_at || ''",
                f => column(*f),
            };
            format!("{key} {}", if *desc { "DESC" } else { "ASC" })
        })
        .collect();
    // The id breaks ties, so pages neither repeat nor skip an operation.
    let last_desc = search.order.last().is_none_or(|(_, d)| *d);
    sql.push_str(&format!(
        " ORDER BY {}, id {} LIMIT ${n} OFFSET ${}",
        order.join(", "),
        if last_desc { "DESC" } else { "ASC" },
        n + 1
    ));
    sql
}

/// The merchant and the conditions' values: the parameters `$1`… of both statements.
fn condition_params<'a>(merchant_id: &'a str, search: &'a Search) -> Vec<Param<'a>> {
    let mut params = vec![Param::Text(merchant_id)];
    for c in &search.conditions {
        params.extend(c.values.iter().map(|v| match v {
            Value::Text(t) => Param::Text(t),
            Value::Int(i) => Param::Int(*i),
        }));
    }
    params
}

impl<D: Driver> SqlConn<D> {
    pub(crate) fn find_operations(
        &mut self,
        merchant_id: &str,
        search: &Search,
    ) -> StoreResult<Vec<OperationRecord>> {
        let sql = statement(search);
        let mut params = condition_params(merchant_id, search);
        if let Some(after) = &search.after {
            params.push(Param::Text(&after.created_at));
            params.push(Param::Text(&after.id));
        }
        params.push(Param::Int(i64::from(search.size) + 1));
        params.push(Param::Int(i64::from(search.page) * i64::from(search.size)));
        self.all(&sql, &params, rows::operation)
    }

    /// How many operations match the search's conditions (its cursor and order aside), up to
    /// `cap`.
    pub(crate) fn count_matching(
        &mut self,
        merchant_id: &str,
        search: &Search,
        cap: u64,
    ) -> StoreResult<u64> {
        let sql = count_statement(search);
        let mut params = condition_params(merchant_id, search);
        params.push(Param::Int(i64::try_from(cap).unwrap_or(i64::MAX)));
        let n = self.one(&sql, &params, |r| r.int(0))?.unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The merchant with this cabinet login (case-insensitive), and its password hash.
    pub(crate) fn merchant_login(
        &mut self,
        login: &str,
    ) -> StoreResult<Option<(MerchantRecord, String)>> {
        let sql = format!(
            "SELECT {}, cabinet_password_hash FROM merchants
             WHERE LOWER(cabinet_email) = LOWER($1) AND cabinet_password_hash IS NOT NULL",
            rows::MERCHANT_COLUMNS
        );
        self.one(&sql, &[Param::Text(login)], |r| {
            Ok((rows::merchant(r)?, r.text(5)?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aqsha_core::search::Search;
    use aqsha_wire::operations::OperationsRequest;

    #[test]
    fn the_statement_is_made_of_fixed_pieces_and_numbered_parameters() {
        let req: OperationsRequest = serde_json::from_str(
            r#"{"searchParameters":[
            {"name":"created_at","method":"between","searchParameter":["2026-01-01","2026-02-01"]},
            {"name":"card_mask","method":"like","searchParameter":["%5096"]},
            {"name":"status","method":"in","searchParameter":["CHARGE","FAILED"]}],
            "orderParameters":[{"field":"amount","typeOrder":"ASC"}]}"#,
        )
        .unwrap();
        let sql = statement(&Search::parse(&req).unwrap());
        assert!(
            sql.ends_with(
                "WHERE merchant_id = $1 AND created_at BETWEEN $2 AND $3 AND \
             (LOWER(sender_mask) LIKE LOWER($4) OR LOWER(receiver_mask) LIKE LOWER($4)) AND \
             status IN ($5, $6) ORDER BY amount ASC, id ASC LIMIT $7 OFFSET $8"
            ),
            "{sql}"
        );
        assert!(!sql.contains("5096"));
    }
}
