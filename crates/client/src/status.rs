//! An invoice's status (`docs/protocol.md#status`) read into a state a program can act on.

use crate::money::Amount;
use aqsha_wire::codes::{self, ReasonCode};
use aqsha_wire::status::{StatusResponse, StatusTransaction};
use std::time::Duration;

/// What the status says happened to an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferState {
    /// `CHARGE`: the money moved.
    Charged,
    /// `AUTH`: funds are held on a two-step terminal, to be charged or cancelled.
    Authorized,
    /// Refused with a final reason code: nothing moved.
    Declined {
        code: u32,
        reason: Option<ReasonCode>,
        message: String,
    },
    /// Still open: in progress (`107`), `NEW`, or refused with a "poll" reason code.
    Pending,
    /// No operation for this invoice on this terminal (`102`).
    NotFound,
    /// Another final state (`REFUND`, `CANCEL`, ...), by its `statusName`.
    Other(String),
}

impl TransferState {
    /// Whether nothing more will happen to the invoice by itself. `NotFound` is not final on
    /// its own: a request may still be on its way; [`WaitOptions::not_found_after`] decides.
    pub fn is_final(&self) -> bool {
        !matches!(self, TransferState::Pending | TransferState::NotFound)
    }

    /// A short name: `CHARGE`, `AUTH`, `DECLINED`, `PENDING`, `NOT_FOUND`, or the status name.
    pub fn name(&self) -> &str {
        match self {
            TransferState::Charged => "CHARGE",
            TransferState::Authorized => "AUTH",
            TransferState::Declined { .. } => "DECLINED",
            TransferState::Pending => "PENDING",
            TransferState::NotFound => "NOT_FOUND",
            TransferState::Other(s) => s,
        }
    }
}

/// A status answer: the state, and the transaction as received.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionStatus {
    pub invoice_id: String,
    pub state: TransferState,
    pub response: StatusResponse,
}

impl TransactionStatus {
    /// Reads a status envelope. Result codes that say nothing about the invoice (`103`,
    /// `104`, `109`, anything unknown) are errors.
    pub fn from_response(
        invoice_id: &str,
        response: StatusResponse,
    ) -> Result<TransactionStatus, crate::Error> {
        let state = match response.result_code.trim() {
            "100" => match &response.transaction {
                Some(tx) => state_of(tx),
                None => TransferState::Pending,
            },
            "101" => match &response.transaction {
                Some(tx) => declined_or_pending(tx),
                None => TransferState::Declined {
                    code: 0,
                    reason: None,
                    message: response.result_message.clone(),
                },
            },
            "102" => TransferState::NotFound,
            "107" => TransferState::Pending,
            _ => {
                return Err(crate::Error::Status {
                    result_code: response.result_code.clone(),
                    result_message: response.result_message.clone(),
                })
            }
        };
        Ok(TransactionStatus {
            invoice_id: invoice_id.to_string(),
            state,
            response,
        })
    }

    pub fn transaction(&self) -> Option<&StatusTransaction> {
        self.response.transaction.as_ref()
    }

    pub fn amount(&self) -> Option<Amount> {
        self.transaction()
            .and_then(|t| Amount::from_wire(&t.amount).ok())
    }

    pub fn fee(&self) -> Option<Amount> {
        self.transaction()
            .and_then(|t| Amount::from_wire(&t.fee).ok())
    }

    pub fn is_final(&self) -> bool {
        self.state.is_final()
    }
}

fn state_of(tx: &StatusTransaction) -> TransferState {
    match tx.status_name.trim() {
        "CHARGE" => TransferState::Charged,
        "AUTH" => TransferState::Authorized,
        "NEW" | "" => TransferState::Pending,
        "FAILED" | "REJECT" | "3D" => declined_or_pending(tx),
        other => TransferState::Other(other.to_string()),
    }
}

fn declined_or_pending(tx: &StatusTransaction) -> TransferState {
    let code = tx.reason_code.trim().parse::<u32>().unwrap_or(0);
    let reason = codes::lookup(code);
    if reason.is_some_and(|r| !r.is_final) {
        return TransferState::Pending;
    }
    TransferState::Declined {
        code,
        reason,
        message: tx.reason.clone(),
    }
}

/// How [`crate::Client::wait_for_final`] polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Give up (with [`crate::Error::StillPending`]) after this long.
    pub deadline: Duration,
    /// First pause between two status queries; it doubles up to `max_delay`.
    pub initial_delay: Duration,
    pub max_delay: Duration,
    /// An invoice still unknown to the server after this long is reported as `NotFound`,
    /// which then means the transfer never arrived. Before that, `NotFound` counts as pending.
    pub not_found_after: Duration,
}

impl Default for WaitOptions {
    fn default() -> WaitOptions {
        WaitOptions {
            deadline: Duration::from_secs(120),
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            not_found_after: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(status: &str, code: &str) -> StatusTransaction {
        serde_json::from_value(serde_json::json!({
            "id": "x", "createdDate": "2025-01-01T00:00:00Z", "invoiceID": "123456",
            "amount": 100, "fee": 95, "currency": "KZT", "terminalID": "t", "accountID": "",
            "description": "", "cardMask": "", "cardType": "", "reference": "",
            "intReference": "", "reasonCode": code, "reason": "r", "statusName": status,
            "senderCardID": "", "senderCardPAN": "", "receiverCardID": "", "receiverCardPAN": ""
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn read(code: &str, t: Option<StatusTransaction>) -> Result<TransferState, crate::Error> {
        TransactionStatus::from_response(
            "123456",
            StatusResponse {
                result_code: code.into(),
                result_message: "m".into(),
                transaction: t,
            },
        )
        .map(|s| s.state)
    }

    #[test]
    fn result_codes_and_status_names() {
        assert_eq!(
            read("100", Some(tx("CHARGE", "0"))).ok(),
            Some(TransferState::Charged)
        );
        assert_eq!(
            read("100", Some(tx("AUTH", "0"))).ok(),
            Some(TransferState::Authorized)
        );
        assert!(matches!(
            read("101", Some(tx("REJECT", "484"))),
            Ok(TransferState::Declined { code: 484, .. })
        ));
        assert_eq!(
            read("101", Some(tx("REJECT", "454"))).ok(),
            Some(TransferState::Pending)
        );
        assert_eq!(read("102", None).ok(), Some(TransferState::NotFound));
        assert_eq!(read("107", None).ok(), Some(TransferState::Pending));
        // Aqsha's pending sandbox outcome: "in progress", NEW, a poll code.
        assert_eq!(
            read("107", Some(tx("NEW", "454"))).ok(),
            Some(TransferState::Pending)
        );
        assert!(matches!(
            read("104", None),
            Err(crate::Error::Status { .. })
        ));
    }
}
