//! `aqsha transfer`, `aqsha fund` (AFT) and `aqsha payout` (OCT): one transfer; an unknown
//! outcome is resolved by status, never by resending.

use super::status::{print_status, status_exit};
use super::{
    parse_phone_receiver, parse_receiver, parse_sender, print_json, TransferArgs, EXIT_SECURE3D,
};
use anyhow::anyhow;
use aqsha_client::wire::transfer::TransferResponse;
use aqsha_client::{
    AccountId, Amount, Client, Currency, InvoiceId, P2pTransfer, Receipt, Receiver,
    Secure3dRequired, Sender, TransferOutcome, TransferPath, WaitOptions,
};
use serde_json::Value;
use std::time::Duration;

fn opt<T>(v: Option<String>, f: impl FnOnce(String) -> T) -> Option<T> {
    v.filter(|s| !s.trim().is_empty()).map(f)
}

/// Which command: which sides the merchant's own account takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    P2p,
    /// AFT: the merchant receives.
    Fund,
    /// OCT: the merchant pays.
    Payout,
}

/// The two sides as the command line gives them, each checked against the command. A side
/// missing or given where the command takes none is a usage error, like a missing flag: it
/// exits 2 before anything is sent.
fn sides(a: &TransferArgs, kind: Kind) -> anyhow::Result<(Sender, Receiver)> {
    let usage = |msg: &str| -> ! {
        clap::Error::raw(
            clap::error::ErrorKind::MissingRequiredArgument,
            format!("{msg}\n"),
        )
        .exit()
    };
    let sender = match (kind, &a.from) {
        (Kind::Payout, Some(_)) => usage("a payout takes no --from: the merchant pays"),
        (Kind::Payout, None) => Sender::Merchant,
        (_, None) => usage("the following required argument was not provided: --from"),
        (_, Some(from)) => parse_sender(
            from,
            a.expiry.as_deref(),
            a.cvc.as_deref(),
            a.name.as_deref(),
            a.save,
        )?,
    };
    let receiver = match (kind, &a.to, &a.to_phone) {
        (Kind::Fund, None, None) => Receiver::Merchant,
        (Kind::Fund, _, _) => usage("funding takes no --to or --to-phone: the merchant receives"),
        (_, Some(to), None) => parse_receiver(to, a.save_receiver)?,
        (_, None, Some(phone)) => parse_phone_receiver(phone, a.iin.as_deref().unwrap_or(""))?,
        _ => usage("the following required argument was not provided: --to (or --to-phone)"),
    };
    Ok((sender, receiver))
}

pub(super) async fn transfer(a: TransferArgs, kind: Kind) -> anyhow::Result<u8> {
    let r = a.conn.resolve()?;
    let json = r.json;
    let mut config = r.config;
    if a.p2p_path {
        config.transfer_path = TransferPath::P2pTransfer;
    }
    let client = Client::new(config)?;
    let invoice = match &a.invoice {
        Some(i) => InvoiceId::new(i.as_str())?,
        None => InvoiceId::generate(),
    };
    let amount = Amount::parse(&a.amount)?;
    let currency: Currency = a.currency.parse().map_err(|e: String| anyhow!(e))?;
    let (sender, receiver) = sides(&a, kind)?;
    let mut t = P2pTransfer::new(invoice.clone(), amount, sender, receiver).currency(currency);
    t.account_id = a.account_id.map(AccountId::new).transpose()?;
    t.sender_email = opt(a.email, |s| s);
    t.description = opt(a.description, |s| s);
    t.post_link = opt(a.post_link, |s| s);
    t.failure_post_link = opt(a.failure_post_link, |s| s);
    t.secret_hash = opt(a.secret_hash, |s| s);
    t.back_link = opt(a.back_link, |s| s);
    t.failure_back_link = opt(a.failure_back_link, |s| s);
    if !json {
        note!(
            "transfer {amount} {currency} from {} to {}, invoice {invoice}",
            side_label_sender(&t.sender),
            side_label_receiver(&t.receiver)
        );
    }
    match client.transfer(&t).await {
        Ok(TransferOutcome::Completed(receipt)) => {
            print_receipt(&receipt, json);
            Ok(0)
        }
        Ok(TransferOutcome::Secure3d(s)) => {
            print_secure3d(&s, json);
            Ok(EXIT_SECURE3D)
        }
        Err(e) if e.is_outcome_unknown() && !a.no_wait => {
            if !json {
                note!("outcome unknown ({e}); not resending, waiting for the final status…");
            }
            let options = WaitOptions {
                deadline: Duration::from_secs(a.wait_timeout),
                ..WaitOptions::default()
            };
            let st = client
                .wait_for_final_with(t.terminal.as_ref(), &invoice, options)
                .await?;
            print_status(&st, json, true);
            Ok(status_exit(&st))
        }
        Err(e) => Err(e.into()),
    }
}

fn side_label_sender(s: &Sender) -> String {
    match s {
        Sender::Card { number, .. } => number.mask(),
        Sender::Saved(id) => format!("card id {id}"),
        Sender::Merchant => "the merchant".into(),
    }
}

fn side_label_receiver(r: &Receiver) -> String {
    match r {
        Receiver::Card { number, .. } => number.mask(),
        Receiver::Saved(id) => format!("card id {id}"),
        Receiver::Phone(_) => "a phone number".into(),
        Receiver::Merchant => "the merchant".into(),
    }
}

/// The body as received, with `--json`; else the first line of the text form. Whether the
/// caller goes on printing text.
fn headline(w: &TransferResponse, state: &str, amounts: (Amount, Amount), json: bool) -> bool {
    if json {
        print_json(&serde_json::to_value(w).unwrap_or(Value::Null));
        return false;
    }
    let (amount, fee) = amounts;
    let c = &w.currency;
    say!(
        "{state}  invoice {}  amount {amount} {c}  fee {fee} {c}",
        w.order_id
    );
    true
}

/// A transfer waiting for 3-D Secure: the body as received in JSON; in text, what the
/// cardholder's browser must post where, and how to follow the outcome.
fn print_secure3d(s: &Secure3dRequired, json: bool) {
    let w = &s.response;
    if !headline(w, "3-D SECURE", (s.amount, s.fee), json) {
        return;
    }
    say!("  nothing has moved yet");
    say!("  id            {}", w.id);
    say!(
        "  sender        {} {}",
        w.sender_card_pan,
        w.sender_card_type
    );
    say!("  ACS           {}", s.acs_url());
    for (name, value) in s.form_fields() {
        say!("  {name:<13} {value}");
    }
    note!("the sender's card is enrolled in 3-D Secure: the cardholder's browser must form-post");
    note!("MD, PaReq and TermUrl to the ACS URL and pass its challenge; the transfer completes");
    note!("or fails then, and its callback is sent. Do not send it again. Follow it with:");
    note!("  aqsha status {} --wait", w.order_id);
}

fn print_receipt(r: &Receipt, json: bool) {
    let w = &r.response;
    if !headline(w, &w.status, (r.amount, r.fee), json) {
        return;
    }
    say!("  id            {}", w.id);
    say!("  reference     {}", w.reference);
    say!("  intReference  {}", w.int_reference);
    say!("  terminal      {}", w.terminal_id);
    say!(
        "  sender        {} {} {}{}",
        w.sender_card_pan,
        w.sender_card_type,
        w.sender_transfer_type,
        if w.sender_card_id.is_empty() {
            String::new()
        } else {
            format!("  card id {}", w.sender_card_id)
        }
    );
    say!(
        "  receiver      {} {} {}{}",
        w.receiver_card_pan,
        w.receiver_card_type,
        w.receiver_transfer_type,
        if w.receiver_card_id.is_empty() {
            String::new()
        } else {
            format!("  card id {}", w.receiver_card_id)
        }
    );
}
