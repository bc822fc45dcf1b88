//! A transfer: what to send, and the receipt that comes back. A P2P transfer names two cards;
//! an AFT (`fund`, the card pays the merchant) and an OCT (`payout`, the merchant pays the
//! card) name one, with [`Sender::Merchant`] or [`Receiver::Merchant`] as the other side.

use crate::card::{AccountId, CardId, CardNumber, Cvc, Expiry, InvoiceId, TerminalId};
use crate::money::{Amount, AmountError, Currency};
use aqsha_wire::transfer::{
    CardSide, Cards, OneSide, OneSideRequest, Order, TransferRequest, TransferResponse,
};

/// Who pays: a card given by number (with its expiry and CVC), or a saved card by its id.
#[derive(Debug, Clone)]
pub enum Sender {
    /// `TYPEPAN`. `save: true` asks ePay to save the card for the order's `accountID`; its id
    /// comes back as the receipt's `senderCardID`.
    Card {
        number: CardNumber,
        expiry: Expiry,
        cvc: Cvc,
        name: Option<String>,
        save: bool,
    },
    /// `TYPECARDID`: a card saved earlier; no number, expiry or CVC is sent.
    Saved(CardId),
    /// The merchant itself: an OCT (`POST /chpayment/transfer`), paid from its settlement
    /// account. No sender side is sent.
    Merchant,
}

impl Sender {
    pub fn card(number: CardNumber, expiry: Expiry, cvc: Cvc) -> Sender {
        Sender::Card {
            number,
            expiry,
            cvc,
            name: None,
            save: false,
        }
    }
}

/// Who receives: a card by number, or a saved card by its id.
#[derive(Debug, Clone)]
pub enum Receiver {
    /// `TYPEPAN`; `save: true` saves the receiving card.
    Card { number: CardNumber, save: bool },
    /// `TYPECARDID`.
    Saved(CardId),
    /// `TYPEPHONE`: the card bound to a phone number (`7XXXXXXXXXX`) whose holder has this
    /// IIN (12 digits). Both are personal data: the client's `Debug` output hides them.
    Phone(PhoneReceiver),
    /// The merchant itself: an AFT (`POST /chdebit/transfer`) into its settlement account.
    /// No receiver side is sent.
    Merchant,
}

/// A receiver by phone number and IIN.
#[derive(Clone)]
pub struct PhoneReceiver {
    pub phone: String,
    pub iin: String,
}

impl std::fmt::Debug for PhoneReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhoneReceiver(***)")
    }
}

impl Receiver {
    pub fn card(number: CardNumber) -> Receiver {
        Receiver::Card {
            number,
            save: false,
        }
    }
}

/// One transfer order. Build it with [`P2pTransfer::new`] and the setters.
#[derive(Debug, Clone)]
pub struct P2pTransfer {
    pub invoice_id: InvoiceId,
    pub amount: Amount,
    pub currency: Currency,
    /// The terminal; the client's default terminal when `None`.
    pub terminal: Option<TerminalId>,
    pub description: Option<String>,
    /// The shop's customer id; required when a card is to be saved.
    pub account_id: Option<AccountId>,
    pub sender_email: Option<String>,
    pub back_link: Option<String>,
    pub failure_back_link: Option<String>,
    /// Callback URL after success.
    pub post_link: Option<String>,
    /// Callback URL after failure.
    pub failure_post_link: Option<String>,
    /// A string ePay echoes in the callback body, for the receiver to check.
    pub secret_hash: Option<String>,
    pub sender: Sender,
    pub receiver: Receiver,
}

impl P2pTransfer {
    /// A KZT transfer on the client's default terminal.
    pub fn new(invoice_id: InvoiceId, amount: Amount, sender: Sender, receiver: Receiver) -> Self {
        P2pTransfer {
            invoice_id,
            amount,
            currency: Currency::Kzt,
            terminal: None,
            description: None,
            account_id: None,
            sender_email: None,
            back_link: None,
            failure_back_link: None,
            post_link: None,
            failure_post_link: None,
            secret_hash: None,
            sender,
            receiver,
        }
    }

    /// An AFT: `sender`'s card funds the merchant.
    pub fn fund(invoice_id: InvoiceId, amount: Amount, sender: Sender) -> Self {
        Self::new(invoice_id, amount, sender, Receiver::Merchant)
    }

    /// An OCT: the merchant pays out to `receiver`.
    pub fn payout(invoice_id: InvoiceId, amount: Amount, receiver: Receiver) -> Self {
        Self::new(invoice_id, amount, Sender::Merchant, receiver)
    }

    /// The path this transfer is posted to when it is an AFT or an OCT; `None` for P2P, which
    /// goes to the configured transfer path.
    pub fn one_side_path(&self) -> Option<&'static str> {
        match (&self.sender, &self.receiver) {
            (Sender::Merchant, _) => Some("/chpayment/transfer"),
            (_, Receiver::Merchant) => Some("/chdebit/transfer"),
            _ => None,
        }
    }

    pub fn currency(mut self, c: Currency) -> Self {
        self.currency = c;
        self
    }
    pub fn terminal(mut self, t: TerminalId) -> Self {
        self.terminal = Some(t);
        self
    }
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
    pub fn account_id(mut self, a: AccountId) -> Self {
        self.account_id = Some(a);
        self
    }
    pub fn sender_email(mut self, e: impl Into<String>) -> Self {
        self.sender_email = Some(e.into());
        self
    }
    pub fn callbacks(mut self, post_link: impl Into<String>, failure: impl Into<String>) -> Self {
        self.post_link = Some(post_link.into());
        self.failure_post_link = Some(failure.into());
        self
    }
    pub fn secret_hash(mut self, s: impl Into<String>) -> Self {
        self.secret_hash = Some(s.into());
        self
    }

    /// Whether any side asks to save its card.
    pub fn saves_a_card(&self) -> bool {
        matches!(self.sender, Sender::Card { save: true, .. })
            || matches!(self.receiver, Receiver::Card { save: true, .. })
    }

    /// The JSON body, exactly as it goes on the wire. Building it twice for the same order
    /// gives the same bytes, which lets a server recognise a repeated request. An AFT sends
    /// only `card.sender`, an OCT only `card.receiver`.
    pub(crate) fn body(&self, terminal: &str) -> Result<serde_json::Value, serde_json::Error> {
        let sender = self.sender_side();
        let receiver = self.receiver_side();
        let order = self.order(terminal);
        match (sender, receiver) {
            (Some(sender), Some(receiver)) => serde_json::to_value(TransferRequest {
                order,
                card: Cards { sender, receiver },
            }),
            (sender, receiver) => serde_json::to_value(OneSideRequest {
                order,
                card: OneSide { sender, receiver },
            }),
        }
    }

    fn sender_side(&self) -> Option<CardSide> {
        Some(match &self.sender {
            Sender::Card {
                number,
                expiry,
                cvc,
                name,
                save,
            } => CardSide {
                save: save.then_some(true),
                transfer_type: Some("TYPEPAN".into()),
                cvc: Some(cvc.expose().to_string()),
                expire: Some(expiry.to_wire()),
                name: name.clone(),
                card_cred: number.expose().to_string(),
                phone: None,
                iin: None,
            },
            Sender::Saved(id) => saved_side(id),
            Sender::Merchant => return None,
        })
    }

    fn receiver_side(&self) -> Option<CardSide> {
        Some(match &self.receiver {
            Receiver::Card { number, save } => CardSide {
                save: save.then_some(true),
                transfer_type: Some("TYPEPAN".into()),
                cvc: None,
                expire: None,
                name: None,
                card_cred: number.expose().to_string(),
                phone: None,
                iin: None,
            },
            Receiver::Saved(id) => saved_side(id),
            Receiver::Phone(p) => CardSide {
                save: None,
                transfer_type: Some("TYPEPHONE".into()),
                cvc: None,
                expire: None,
                name: None,
                card_cred: String::new(),
                phone: Some(p.phone.clone()),
                iin: Some(p.iin.clone()),
            },
            Receiver::Merchant => return None,
        })
    }

    fn order(&self, terminal: &str) -> Order {
        Order {
            amount: self.amount.to_wire(),
            currency: self.currency.code().to_string(),
            description: self.description.clone(),
            id: self.invoice_id.as_str().to_string(),
            account_id: self.account_id.as_ref().map(|a| a.as_str().to_string()),
            sender_email: self.sender_email.clone(),
            terminal_id: Some(terminal.to_string()),
            back_link: self.back_link.clone(),
            failure_back_link: self.failure_back_link.clone(),
            post_link: self.post_link.clone(),
            failure_post_link: self.failure_post_link.clone(),
            language: None,
        }
    }
}

/// A side paid from, or to, a saved card: its id and nothing else.
fn saved_side(id: &CardId) -> CardSide {
    CardSide {
        save: None,
        transfer_type: Some("TYPECARDID".into()),
        cvc: None,
        expire: None,
        name: None,
        card_cred: id.as_str().to_string(),
        phone: None,
        iin: None,
    }
}

/// A successful transfer: the server's answer with its amounts read exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub amount: Amount,
    pub fee: Amount,
    /// The body as received (seed's "Response in an event of success").
    pub response: TransferResponse,
}

impl Receipt {
    pub(crate) fn from_response(response: TransferResponse) -> Result<Receipt, AmountError> {
        Ok(Receipt {
            amount: Amount::from_wire(&response.amount)?,
            fee: Amount::from_wire(&response.fee)?,
            response,
        })
    }

    /// `CHARGE` on a one-step terminal; `AUTH` when funds are only held (two-step).
    pub fn status(&self) -> &str {
        &self.response.status
    }

    /// The saved sender card's id, if the sender card was saved or used by id.
    pub fn sender_card_id(&self) -> Option<CardId> {
        CardId::new(self.response.sender_card_id.clone()).ok()
    }

    pub fn receiver_card_id(&self) -> Option<CardId> {
        CardId::new(self.response.receiver_card_id.clone()).ok()
    }

    /// What the sender paid in all: amount plus fee.
    pub fn total(&self) -> Option<Amount> {
        self.amount.checked_add(self.fee)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_matches_the_seed_shape() {
        let t = P2pTransfer::new(
            InvoiceId::new("8161284658529816").unwrap_or_else(|e| panic!("{e}")),
            Amount::parse("100").unwrap_or_default(),
            Sender::Card {
                number: CardNumber::parse("4405639704015096").unwrap_or_else(|e| panic!("{e}")),
                expiry: Expiry::parse("01/25").unwrap_or_else(|e| panic!("{e}")),
                cvc: Cvc::parse("815").unwrap_or_else(|e| panic!("{e}")),
                name: Some("Arman Ali".into()),
                save: true,
            },
            Receiver::Saved(
                CardId::new("fcf69516-f7e8-9b14-e053-1d1a000aef2f")
                    .unwrap_or_else(|e| panic!("{e}")),
            ),
        )
        .account_id(AccountId::new("testUser1").unwrap_or_else(|e| panic!("{e}")))
        .description("Test p2p payment");
        let v = t
            .body("40a348cb-68a3-45d5-9002-a4836d79c3b5")
            .unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({
                "order": {
                    "amount": 100, "currency": "KZT", "description": "Test p2p payment",
                    "id": "8161284658529816", "accountID": "testUser1",
                    "terminalId": "40a348cb-68a3-45d5-9002-a4836d79c3b5"
                },
                "card": {
                    "sender": {"save": true, "transferType": "TYPEPAN", "cvc": "815",
                               "expire": {"month": "01", "year": "25"}, "name": "Arman Ali",
                               "cardCred": "4405639704015096"},
                    "receiver": {"transferType": "TYPECARDID",
                                 "cardCred": "fcf69516-f7e8-9b14-e053-1d1a000aef2f"}
                }
            })
        );
        let shown = format!("{t:?}");
        assert!(!shown.contains("4405639704015096") && !shown.contains("815\""));
    }

    #[test]
    fn fund_and_payout_send_one_side_and_a_phone_its_number_and_iin() {
        let invoice = || InvoiceId::new("700000001").unwrap_or_else(|e| panic!("{e}"));
        let amount = Amount::parse("100").unwrap_or_else(|e| panic!("{e}"));
        let visa = CardNumber::parse("4405639704015096").unwrap_or_else(|e| panic!("{e}"));
        let expiry = Expiry::parse("01/25").unwrap_or_else(|e| panic!("{e}"));
        let cvc = Cvc::parse("815").unwrap_or_else(|e| panic!("{e}"));
        let fund = P2pTransfer::fund(invoice(), amount, Sender::card(visa, expiry, cvc));
        assert_eq!(fund.one_side_path(), Some("/chdebit/transfer"));
        let v = fund.body("t").unwrap_or_default();
        assert_eq!(v["card"]["sender"]["cardCred"], "4405639704015096");
        assert!(v["card"].get("receiver").is_none(), "{v}");

        let phone = Receiver::Phone(PhoneReceiver {
            phone: "77010000002".into(),
            iin: "900101300002".into(),
        });
        assert!(!format!("{phone:?}").contains("77010000002"));
        let payout = P2pTransfer::payout(invoice(), amount, phone);
        assert_eq!(payout.one_side_path(), Some("/chpayment/transfer"));
        let v = payout.body("t").unwrap_or_default();
        assert!(v["card"].get("sender").is_none(), "{v}");
        assert_eq!(
            v["card"]["receiver"],
            serde_json::json!({"transferType": "TYPEPHONE", "phone": "77010000002",
                "iin": "900101300002"})
        );
    }
}
