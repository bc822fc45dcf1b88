//! What a batch writes: the rows its commands left pending, one statement's worth per table,
//! and its balance changes. See [`crate::batch`] and `SqlConn::write_pending`.

use super::{is_card_account, Balances, Param, Rows};
use crate::batch::Pending;
use aqsha_core::invoice::invoice_tail;
use aqsha_core::records::{CallbackEvent, CallbackStatus, OperationRecord};

const OPERATION_INSERT_COLUMNS: &[&str] = &[
    "id",
    "merchant_id",
    "terminal_id",
    "invoice_id",
    "account_id",
    "amount",
    "fee",
    "currency",
    "description",
    "email",
    "status",
    "reason_code",
    "reason",
    "reference",
    "int_reference",
    "sender_card_id",
    "sender_mask",
    "sender_brand",
    "sender_type",
    "receiver_card_id",
    "receiver_mask",
    "receiver_brand",
    "receiver_type",
    "token_id",
    "request_digest",
    "http_status",
    "response_body",
    "created_at",
    "post_link",
    "failure_post_link",
    "secret_hash",
    "day",
    "invoice_tail",
    "kind",
    "language",
    "approval_code",
];

const CALLBACK_INSERT_COLUMNS: &[&str] = &[
    "id",
    "merchant_id",
    "operation_id",
    "invoice_id",
    "url",
    "kind",
    "body",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
];
/// The pending rows of every table, one statement's worth each. `dates` holds each pending
/// operation's (created_at, day) text, in order.
pub(super) fn pending_rows<'a>(p: &'a Pending, dates: &'a [(String, String)]) -> [Rows<'a>; 5] {
    let ops = p
        .operations
        .iter()
        .zip(dates)
        .map(|(o, (created, day))| operation_params(o, created, day))
        .collect();
    let postings = p
        .postings
        .iter()
        .map(|(op, posting)| {
            vec![
                Param::Text(op),
                Param::Text(&posting.account_id),
                Param::Int(posting.amount.minor()),
            ]
        })
        .collect();
    let spent = p
        .spent
        .iter()
        .map(|(token, op)| vec![Param::Text(token), Param::Text(op)])
        .collect();
    let events = p.callbacks.iter().map(callback_params).collect();
    let counters = p
        .counters
        .iter()
        .map(|(key, c)| {
            vec![
                Param::Text(key),
                Param::Int(c.transfers),
                Param::Int(c.total),
            ]
        })
        .collect();
    [
        Rows {
            table: "operations",
            columns: OPERATION_INSERT_COLUMNS,
            rows: ops,
            on_conflict: None,
        },
        Rows {
            table: "postings",
            columns: &["operation_id", "account_id", "amount"],
            rows: postings,
            on_conflict: None,
        },
        Rows {
            table: "spent_tokens",
            columns: &["token_id", "operation_id"],
            rows: spent,
            on_conflict: None,
        },
        Rows {
            table: "callback_events",
            columns: CALLBACK_INSERT_COLUMNS,
            rows: events,
            on_conflict: None,
        },
        Rows {
            table: "limit_counters",
            columns: &["counter_key", "transfers", "total"],
            rows: counters,
            // What a batch counted is added to what is there: the key is locked (PostgreSQL)
            // or there is one writer (SQLite), so the sum is exact.
            on_conflict: Some(
                "ON CONFLICT (counter_key) DO UPDATE SET
                 transfers = limit_counters.transfers + excluded.transfers,
                 total = limit_counters.total + excluded.total",
            ),
        },
    ]
}

/// A new callback event's row, in [`CALLBACK_INSERT_COLUMNS`] order: due at once.
fn callback_params(e: &CallbackEvent) -> Vec<Param<'_>> {
    let at = e.created_at.timestamp_millis();
    vec![
        Param::Text(&e.id),
        Param::Text(&e.merchant_id),
        Param::Text(&e.operation_id),
        Param::Text(&e.invoice_id),
        Param::Text(&e.url),
        Param::Text(e.kind.as_str()),
        Param::Text(&e.body),
        Param::Text(CallbackStatus::Pending.as_str()),
        Param::Int(0),
        Param::Int(at),
        Param::Int(at),
    ]
}

/// The batch's balance changes, card accounts apart from shared ones. Every account posted to
/// is written, even when its changes cancel out: the count of rows changed is what proves each
/// one exists (PostgreSQL has no foreign key from postings to accounts; migration 0008 says
/// why).
pub(super) fn pending_balances(p: &Pending, shard: i64) -> Balances<'_> {
    let mut balances = Balances {
        cards: Vec::new(),
        shared: Vec::new(),
        shard,
    };
    for (account, delta) in &p.deltas {
        let side = match is_card_account(account) {
            true => &mut balances.cards,
            false => &mut balances.shared,
        };
        side.push((account.as_str(), *delta));
    }
    balances
}

/// An operation's row, in [`OPERATION_INSERT_COLUMNS`] order.
fn operation_params<'a>(op: &'a OperationRecord, created: &'a str, day: &'a str) -> Vec<Param<'a>> {
    vec![
        Param::Text(&op.id),
        Param::Text(&op.merchant_id),
        Param::Text(&op.terminal_id),
        Param::Text(&op.invoice_id),
        Param::Text(&op.account_id),
        Param::Int(op.amount.minor()),
        Param::Int(op.fee.minor()),
        Param::Text(&op.currency),
        Param::Text(&op.description),
        Param::Text(&op.email),
        Param::Text(op.status.as_str()),
        Param::Int(i64::from(op.reason_code)),
        Param::Text(&op.reason),
        Param::Text(&op.reference),
        Param::Text(&op.int_reference),
        Param::Text(&op.sender.card_id),
        Param::Text(&op.sender.mask),
        Param::Text(op.sender.brand_name()),
        Param::Text(op.sender.transfer_type_name()),
        Param::Text(&op.receiver.card_id),
        Param::Text(&op.receiver.mask),
        Param::Text(op.receiver.brand_name()),
        Param::Text(op.receiver.transfer_type_name()),
        Param::Text(&op.token_id),
        Param::Text(&op.request_digest),
        Param::Int(i64::from(op.http_status)),
        Param::Text(&op.response_body),
        Param::Text(created),
        Param::OptText(op.post_link.as_deref()),
        Param::OptText(op.failure_post_link.as_deref()),
        Param::OptText(op.secret_hash.as_deref()),
        Param::Text(day),
        // A six-digit invoice is its own tail.
        Param::Text(invoice_tail(&op.invoice_id).unwrap_or(&op.invoice_id)),
        Param::Text(op.kind.as_str()),
        Param::Text(&op.language),
        Param::Text(&op.approval_code),
    ]
}
