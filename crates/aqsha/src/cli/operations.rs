//! `aqsha operations`: the merchant's operations (`POST /p2p/operations`), with the cabinet
//! login's password grant.

use super::{client, print_json, OperationsArgs};
use anyhow::{bail, Context};
use aqsha_client::wire::operations::{OperationsRequest, OrderParameter, Paging, SearchParameter};
use serde_json::json;

/// The search the flags ask for: created_at from `--since` (to `--until`, else now and a
/// minute more), and each other flag one condition.
fn request(a: &OperationsArgs) -> anyhow::Result<OperationsRequest> {
    let since = when(&a.since).context("--since")?;
    let until = match &a.until {
        Some(u) => when(u).context("--until")?,
        None => chrono::Utc::now() + chrono::Duration::minutes(1),
    };
    let mut params = vec![SearchParameter {
        name: "created_at".into(),
        method: "between".into(),
        search_parameter: vec![json!(since.to_rfc3339()), json!(until.to_rfc3339())],
    }];
    let mut eq = |name: &str, values: &[String]| {
        if !values.is_empty() {
            params.push(SearchParameter {
                name: name.into(),
                method: "in".into(),
                search_parameter: values.iter().map(|v| json!(v)).collect(),
            });
        }
    };
    eq("status", &a.status);
    eq("invoice_id", &a.invoice);
    eq("terminal_id", &a.terminal_id);
    eq("account_id", &a.account);
    Ok(OperationsRequest {
        paging: Some(Paging {
            page: a.page,
            size: a.size,
        }),
        search_parameters: params,
        order_parameters: vec![OrderParameter {
            field: "created_at".into(),
            type_order: if a.oldest_first { "ASC" } else { "DESC" }.into(),
        }],
    })
}

/// An instant: RFC 3339, a date (its UTC midnight), or an age (`30m`, `24h`, `7d`) back from
/// now.
fn when(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    let at = text.char_indices().last().map_or(0, |(i, _)| i);
    let (n, unit) = text.split_at(at);
    let n: i64 = n.parse().ok().filter(|n| *n >= 0).with_context(|| {
        format!("{text:?} is not a time (RFC 3339, YYYY-MM-DD, or an age like 30m, 24h, 7d)")
    })?;
    let age = match unit {
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => bail!("{text:?}: an age ends in m, h or d"),
    };
    Ok(chrono::Utc::now() - age)
}

pub(super) async fn operations(a: OperationsArgs) -> anyhow::Result<u8> {
    let (client, json) = client(&a.conn)?;
    let search = request(&a)?;
    let (Some(login), Some(password)) = (&a.login, &a.password) else {
        bail!("the operations list needs the cabinet login: --login and --password (or AQSHA_LOGIN, AQSHA_PASSWORD)");
    };
    let token = client.login_token(login, password).await?;
    let page = client.operations(&token, &search).await?;
    if json {
        print_json(&serde_json::to_value(&page)?);
        return Ok(0);
    }
    if page.data.is_empty() {
        say!("no operations");
        return Ok(0);
    }
    say!(
        "{:<21} {:<17} {:>12} {:<4} {:<7} {:>5} {:<15} {:<15} {:<12}",
        "created",
        "invoice",
        "amount",
        "cur",
        "status",
        "code",
        "sender",
        "receiver",
        "reference"
    );
    for o in &page.data {
        say!(
            "{:<21} {:<17} {:>12} {:<4} {:<7} {:>5} {:<15} {:<15} {:<12}",
            o.created_date,
            o.invoice_id,
            o.amount.as_str(),
            o.currency,
            o.status_name,
            o.reason_code,
            o.sender_card_pan,
            o.receiver_card_pan,
            o.reference
        );
    }
    if page.paging.has_next {
        say!("(more: --page {})", page.paging.page + 1);
    }
    Ok(0)
}
