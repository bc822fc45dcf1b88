//! `aqsha status`: an invoice's status, and the printing and exit code of a status shared with
//! `aqsha transfer`.

use super::{client, finality, print_json, StatusArgs, EXIT_FAILURE, EXIT_UNKNOWN};
use aqsha_client::{Client, InvoiceId, StatusPath, TransactionStatus, TransferState, WaitOptions};
use serde_json::{json, Value};
use std::time::Duration;

/// Exit code for a status: 0 for charged / authorised / other final states, 1 declined or not
/// found, 3 still pending.
pub(super) fn status_exit(st: &TransactionStatus) -> u8 {
    match st.state {
        TransferState::Charged | TransferState::Authorized | TransferState::Other(_) => 0,
        TransferState::Declined { .. } | TransferState::NotFound => EXIT_FAILURE,
        TransferState::Pending => EXIT_UNKNOWN,
    }
}

pub fn state_json(st: &TransactionStatus) -> Value {
    let mut v = json!({
        "invoiceId": st.invoice_id,
        "state": st.state.name(),
        "final": st.is_final(),
    });
    if let TransferState::Declined {
        code,
        reason,
        message,
    } = &st.state
    {
        v["code"] = json!(code);
        v["meaning"] = json!(reason.map(|r| r.message).unwrap_or(message.as_str()));
        v["reason"] = json!(message);
    }
    v["status"] = serde_json::to_value(&st.response).unwrap_or(Value::Null);
    v
}

pub(super) fn print_status(st: &TransactionStatus, json: bool, resolved: bool) {
    if json {
        let mut v = state_json(st);
        if resolved {
            v["resolvedByStatus"] = json!(true);
        }
        print_json(&v);
        return;
    }
    let r = &st.response;
    match &st.state {
        TransferState::Declined {
            code,
            reason,
            message,
        } => say!(
            "DECLINED  invoice {}  code {code} {} ({})  [resultCode {} {}]",
            st.invoice_id,
            reason.map(|r| r.message).unwrap_or(message.as_str()),
            finality(true, true),
            r.result_code,
            r.result_message
        ),
        s => say!(
            "{}  invoice {}  [resultCode {} {}]",
            s.name(),
            st.invoice_id,
            r.result_code,
            r.result_message
        ),
    }
    if let Some(tx) = st.transaction() {
        if let (Some(a), Some(f)) = (st.amount(), st.fee()) {
            say!(
                "  amount        {a} {}  fee {f} {}",
                tx.currency,
                tx.currency
            );
        }
        say!("  id            {}", tx.id);
        say!("  created       {}", tx.created_date);
        say!("  terminal      {}", tx.terminal_id);
        say!("  reference     {}", tx.reference);
        say!("  reason        {} {}", tx.reason_code, tx.reason);
        say!(
            "  sender        {} {}",
            tx.sender_card_pan,
            tx.sender_card_id
        );
        say!(
            "  receiver      {} {}",
            tx.receiver_card_pan,
            tx.receiver_card_id
        );
    }
    if st.state == TransferState::NotFound {
        say!("  no operation for this invoice on this terminal");
    }
}

pub(super) async fn status(a: StatusArgs) -> anyhow::Result<u8> {
    let (client, json) = client(&a.conn)?;
    let invoice = InvoiceId::new(a.invoice.as_str())?;
    let path = if a.payment_path {
        StatusPath::Payment
    } else {
        StatusPath::P2p
    };
    let st = if a.wait {
        let mut cfg = client.config().clone();
        cfg.status_path = path;
        let client = Client::new(cfg)?;
        client
            .wait_for_final_with(
                None,
                &invoice,
                WaitOptions {
                    deadline: Duration::from_secs(a.wait_timeout),
                    not_found_after: Duration::from_secs(a.wait_timeout.min(30)),
                    ..WaitOptions::default()
                },
            )
            .await?
    } else {
        client.status_on(None, path, &invoice).await?
    };
    print_status(&st, json, false);
    Ok(0)
}
