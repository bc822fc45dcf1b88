//! What a transfer comes to: done, or waiting for the cardholder to pass 3-D Secure.
//!
//! ePay answers a transfer from a card enrolled in 3-D Secure with HTTP 200, status `NEW`, an
//! empty `reference` and a `secure3D` object (`action`, `paReq`, `md`, `termURL`): nothing has
//! moved yet. The cardholder's browser must form-post `MD`, `PaReq` and `TermUrl` to `action`
//! (the issuer's ACS page), pass its challenge, and come back through `termURL`, where the
//! transfer is completed or failed. Reading that answer as a receipt would report money that
//! has not moved, so it is a variant of its own: [`TransferOutcome::Secure3d`].

use crate::card::InvoiceId;
use crate::money::{Amount, AmountError};
use crate::transfer::Receipt;
use aqsha_wire::transfer::{Secure3d, TransferResponse};

/// The answer to a transfer that was accepted.
#[must_use = "a transfer may be waiting for 3-D Secure: nothing has moved until it is passed"]
#[derive(Debug, Clone, PartialEq)]
pub enum TransferOutcome {
    /// Done: `CHARGE` (or `AUTH` on a two-step terminal), with its reference.
    Completed(Receipt),
    /// Nothing has moved: the sender's card must first pass its issuer's 3-D Secure
    /// challenge in the cardholder's browser. Its final outcome arrives by callback, by the
    /// browser's return to the order's `backLink`/`failureBackLink`, or by status
    /// ([`crate::Client::wait_for_final`]). The transfer must not be sent again.
    Secure3d(Secure3dRequired),
}

impl TransferOutcome {
    pub(crate) fn from_response(response: TransferResponse) -> Result<Self, AmountError> {
        match response.secure3d.clone() {
            Some(challenge) => Ok(TransferOutcome::Secure3d(Secure3dRequired {
                amount: Amount::from_wire(&response.amount)?,
                fee: Amount::from_wire(&response.fee)?,
                challenge,
                response,
            })),
            None => Receipt::from_response(response).map(TransferOutcome::Completed),
        }
    }

    /// The receipt of a completed transfer.
    pub fn receipt(&self) -> Option<&Receipt> {
        match self {
            TransferOutcome::Completed(r) => Some(r),
            TransferOutcome::Secure3d(_) => None,
        }
    }

    /// The receipt of a completed transfer, by value.
    pub fn into_receipt(self) -> Option<Receipt> {
        match self {
            TransferOutcome::Completed(r) => Some(r),
            TransferOutcome::Secure3d(_) => None,
        }
    }

    /// What the cardholder's browser must do, when the transfer waits for 3-D Secure.
    pub fn secure3d(&self) -> Option<&Secure3dRequired> {
        match self {
            TransferOutcome::Completed(_) => None,
            TransferOutcome::Secure3d(s) => Some(s),
        }
    }
}

/// A transfer waiting for its 3-D Secure challenge: where the browser goes, and the order as
/// the server recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Secure3dRequired {
    /// The amount and fee that will be charged once the challenge is passed.
    pub amount: Amount,
    pub fee: Amount,
    /// `action`, `paReq`, `md` and `termURL` as received.
    pub challenge: Secure3d,
    /// The body as received (`status: "NEW"`, `reference: ""`).
    pub response: TransferResponse,
}

impl Secure3dRequired {
    /// The ACS page the browser form-posts to.
    pub fn acs_url(&self) -> &str {
        &self.challenge.action
    }

    /// The operation's id (ePay's `md`, the response's `id`).
    pub fn operation_id(&self) -> &str {
        &self.response.id
    }

    /// The order's invoice id, to ask the status by.
    pub fn invoice_id(&self) -> Option<InvoiceId> {
        InvoiceId::new(self.response.order_id.clone()).ok()
    }

    /// The form the browser posts to [`Self::acs_url`], field for field as ePay's pages send
    /// it: `MD`, `PaReq`, `TermUrl`.
    pub fn form_fields(&self) -> [(&'static str, &str); 3] {
        [
            ("MD", &self.challenge.md),
            ("PaReq", &self.challenge.pa_req),
            ("TermUrl", &self.challenge.term_url),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(secure3d: Option<Secure3d>) -> TransferResponse {
        let body = serde_json::json!({
            "id": "op-1", "amount": 1000, "fee": 95, "accountID": "", "currency": "KZT",
            "email": "", "description": "", "reference": "", "orderID": "700000001",
            "senderCardID": "", "senderCardPAN": "440563...3001", "senderCardType": "VISA",
            "senderTransferType": "TYPEPAN", "receiverCardID": "",
            "receiverCardPAN": "440563...5096", "receiverCardType": "VISA",
            "receiverTransferType": "TYPEPAN", "intReference": "", "terminalID": "t",
            "status": "NEW",
        });
        let mut r: TransferResponse =
            serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}"));
        r.secure3d = secure3d;
        r
    }

    #[test]
    fn a_secure3d_answer_is_not_a_receipt() {
        let challenge = Secure3d {
            action: "https://aqsha.example/acs/".into(),
            pa_req: "p".into(),
            md: "op-1".into(),
            term_url: "https://aqsha.example/payments/cards/confirmPayment".into(),
        };
        let outcome = TransferOutcome::from_response(response(Some(challenge)))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(outcome.receipt().is_none());
        let s = outcome.secure3d().unwrap_or_else(|| panic!("{outcome:?}"));
        assert_eq!(s.acs_url(), "https://aqsha.example/acs/");
        assert_eq!(
            (s.amount.minor(), s.fee.minor(), s.operation_id()),
            (100_000, 9_500, "op-1")
        );
        assert_eq!(
            s.form_fields(),
            [
                ("MD", "op-1"),
                ("PaReq", "p"),
                (
                    "TermUrl",
                    "https://aqsha.example/payments/cards/confirmPayment"
                )
            ]
        );
        assert_eq!(
            s.invoice_id().map(|i| i.to_string()),
            Some("700000001".into())
        );

        let plain =
            TransferOutcome::from_response(response(None)).unwrap_or_else(|e| panic!("{e}"));
        assert!(plain.secure3d().is_none() && plain.receipt().is_some());
    }
}
