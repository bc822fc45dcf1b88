//! The client subcommands of `aqsha`: `token`, `transfer`, `status`, `cards`, `listen`,
//! `batch` and `sandbox`, built on the `aqsha-client` crate. They work against real ePay (test or
//! production) and against any Aqsha server.
//!
//! Output is text by default and JSON with `--json`. Exit codes: 0 success, 1 failure
//! (declined, refused, bad input, unreachable), 2 bad usage, 3 outcome unknown (a transfer may
//! have happened: check its status, do not resend it), 4 waiting for 3-D Secure (nothing moved
//! yet: the cardholder's browser must pass the challenge; do not resend it), 130 interrupted.

/// `println!` that never panics: a closed stdout (`aqsha status X | head -1`) is ignored.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `eprintln!` that never panics.
macro_rules! note {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

mod batch;
mod cards;
mod conn;
mod listen;
mod operations;
mod sandbox;
mod status;
mod token;
mod transfer;

use anyhow::anyhow;
use aqsha_client::{
    CardId, CardNumber, Client, Cvc, Error, Expiry, PhoneReceiver, Receiver, Sender, TerminalId,
};
use clap::{Args, Subcommand};
use conn::ConnArgs;
use serde_json::{json, Value};
use std::process::ExitCode;

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_UNKNOWN: u8 = 3;
/// A transfer waits for its sender's 3-D Secure challenge: not failed, not done.
pub const EXIT_SECURE3D: u8 = 4;
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Get an access token (a transfer token bound to an invoice, or a service token).
    Token(TokenArgs),
    /// Make one P2P transfer; resolves an unknown outcome by status, never by resending.
    Transfer(TransferArgs),
    /// Fund the merchant from a card (AFT, /chdebit/transfer): --from only.
    Fund(TransferArgs),
    /// Pay out from the merchant's settlement account to a card or phone (OCT,
    /// /chpayment/transfer): --to or --to-phone only.
    Payout(TransferArgs),
    /// Show an invoice's status.
    Status(StatusArgs),
    /// List or deactivate saved cards.
    #[command(subcommand)]
    Cards(CardsCommand),
    /// Receive callbacks locally, verify and print them, optionally forward them.
    Listen(listen::ListenArgs),
    /// Make many transfers from a CSV file, resumably.
    Batch(batch::BatchArgs),
    /// Aqsha's sandbox API: issue test cards, including scenario cards, and fund the
    /// merchant's settlement account (docs/sandbox.md).
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// List the merchant's operations (POST /p2p/operations), with its cabinet login.
    Operations(OperationsArgs),
}

#[derive(Args)]
pub struct OperationsArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The merchant's cabinet login (an e-mail address).
    #[arg(long, env = "AQSHA_LOGIN")]
    login: Option<String>,
    /// The cabinet password.
    #[arg(long, env = "AQSHA_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// From when: RFC 3339, YYYY-MM-DD, or an age back from now (30m, 24h, 7d).
    #[arg(long, default_value = "1d")]
    since: String,
    /// Until when, in the same forms (default: now).
    #[arg(long)]
    until: Option<String>,
    /// Only these statuses (CHARGE, FAILED); repeat for more.
    #[arg(long)]
    status: Vec<String>,
    /// Only these invoices; repeat for more.
    #[arg(long)]
    invoice: Vec<String>,
    /// Only these terminals; repeat for more.
    #[arg(long = "on-terminal")]
    terminal_id: Vec<String>,
    /// Only these customers (accountID); repeat for more.
    #[arg(long)]
    account: Vec<String>,
    /// The page, from 0.
    #[arg(long, default_value_t = 0)]
    page: u32,
    /// Operations per page (at most 100).
    #[arg(long, default_value_t = 20)]
    size: u32,
    /// Oldest first (default: newest first).
    #[arg(long)]
    oldest_first: bool,
}

#[derive(Args)]
pub struct TokenArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Scope; default `transfer` when --invoice is given, else the service scope.
    #[arg(long)]
    scope: Option<String>,
    /// Ask for a service token (status, saved cards) even if --invoice is given.
    #[arg(long, conflicts_with = "scope")]
    service: bool,
    /// Invoice the token is bound to.
    #[arg(long)]
    invoice: Option<String>,
    /// Amount the token is bound to, in major units (e.g. 100 or 12.22).
    #[arg(long)]
    amount: Option<String>,
    /// Currency the token is bound to.
    #[arg(long)]
    currency: Option<String>,
    /// Success callback URL.
    #[arg(long)]
    post_link: Option<String>,
    /// Failure callback URL.
    #[arg(long)]
    failure_post_link: Option<String>,
    /// A string echoed in the callback body.
    #[arg(long)]
    secret_hash: Option<String>,
    /// Issue the token for this customer (`accountId`): needed to pay from the customer's
    /// saved cards or to manage them with a non-service token.
    #[arg(long)]
    account_id: Option<String>,
}

#[derive(Args)]
pub struct TransferArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Sender: a card number, or a saved card's id (not for `payout`: the merchant pays).
    #[arg(long)]
    from: Option<String>,
    /// Receiver: a card number, or a saved card's id (not for `fund`: the merchant receives).
    #[arg(long, conflicts_with = "to_phone")]
    to: Option<String>,
    /// Receiver by phone number, 7XXXXXXXXXX (TYPEPHONE); needs --iin.
    #[arg(long, requires = "iin")]
    to_phone: Option<String>,
    /// The phone's holder's IIN, 12 digits (with --to-phone).
    #[arg(
        long,
        requires = "to_phone",
        env = "AQSHA_RECEIVER_IIN",
        hide_env_values = true
    )]
    iin: Option<String>,
    /// Amount in major units: 100, 12.22.
    #[arg(long)]
    amount: String,
    #[arg(long, default_value = "KZT")]
    currency: String,
    /// Invoice id (6-16 digits); generated when absent.
    #[arg(long)]
    invoice: Option<String>,
    /// Sender card expiry, MM/YY (card numbers only).
    #[arg(long, env = "AQSHA_CARD_EXPIRY")]
    expiry: Option<String>,
    /// Sender card CVC (card numbers only).
    #[arg(long, env = "AQSHA_CARD_CVC", hide_env_values = true)]
    cvc: Option<String>,
    /// Cardholder name.
    #[arg(long)]
    name: Option<String>,
    /// Save the sender card (needs --account-id).
    #[arg(long)]
    save: bool,
    /// Save the receiver card (needs --account-id).
    #[arg(long)]
    save_receiver: bool,
    /// The shop's customer id (accountID).
    #[arg(long)]
    account_id: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    post_link: Option<String>,
    #[arg(long)]
    failure_post_link: Option<String>,
    #[arg(long)]
    secret_hash: Option<String>,
    /// Where the cardholder's browser returns after 3-D Secure, with `reference=` added.
    #[arg(long)]
    back_link: Option<String>,
    /// Where it returns when 3-D Secure or the transfer fails, with `errorCode=` added.
    #[arg(long)]
    failure_back_link: Option<String>,
    /// POST to /p2p/transfer instead of /payments/cards/auth.
    #[arg(long)]
    p2p_path: bool,
    /// When the outcome is unknown, do not wait for the final status; exit 3 at once.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for a final status when the outcome is unknown, in seconds.
    #[arg(long, default_value_t = 120)]
    wait_timeout: u64,
}

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The invoice id.
    invoice: String,
    /// Ask /check-status/payment/transaction/ instead of /check-status/p2p/transaction/.
    #[arg(long)]
    payment_path: bool,
    /// Poll until the outcome is final.
    #[arg(long)]
    wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    wait_timeout: u64,
}

#[derive(Subcommand)]
pub enum CardsCommand {
    /// List a customer's saved cards.
    List {
        #[command(flatten)]
        conn: ConnArgs,
        /// The customer's account id.
        account_id: String,
    },
    /// Deactivate a saved card.
    Deactivate {
        #[command(flatten)]
        conn: ConnArgs,
        /// The saved card's id.
        card_id: String,
    },
}

impl ClientCommand {
    fn json(&self) -> bool {
        match self {
            ClientCommand::Token(a) => a.conn.json,
            ClientCommand::Transfer(a) | ClientCommand::Fund(a) | ClientCommand::Payout(a) => {
                a.conn.json
            }
            ClientCommand::Sandbox(c) => c.json(),
            ClientCommand::Status(a) => a.conn.json,
            ClientCommand::Cards(CardsCommand::List { conn, .. })
            | ClientCommand::Cards(CardsCommand::Deactivate { conn, .. }) => conn.json,
            ClientCommand::Listen(a) => a.conn.json,
            ClientCommand::Batch(a) => a.conn.json,
            ClientCommand::Operations(a) => a.conn.json,
        }
    }
}

/// Runs one client subcommand and turns its outcome into an exit code.
pub async fn run(cmd: ClientCommand) -> ExitCode {
    let json = cmd.json();
    let moves_money = matches!(
        cmd,
        ClientCommand::Transfer(_) | ClientCommand::Fund(_) | ClientCommand::Payout(_)
    );
    let result = match cmd {
        ClientCommand::Token(a) => token::token(a).await,
        ClientCommand::Transfer(a) => transfer::transfer(a, transfer::Kind::P2p).await,
        ClientCommand::Fund(a) => transfer::transfer(a, transfer::Kind::Fund).await,
        ClientCommand::Payout(a) => transfer::transfer(a, transfer::Kind::Payout).await,
        ClientCommand::Sandbox(c) => sandbox::run(c).await,
        ClientCommand::Status(a) => status::status(a).await,
        ClientCommand::Cards(c) => cards::cards(c).await,
        ClientCommand::Listen(a) => listen::run(a).await,
        ClientCommand::Batch(a) => batch::run(a).await,
        ClientCommand::Operations(a) => operations::operations(a).await,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => ExitCode::from(report_error(&e, json, moves_money)),
    }
}

fn client(conn: &ConnArgs) -> anyhow::Result<(Client, bool)> {
    let r = conn.resolve()?;
    Ok((Client::new(r.config)?, r.json))
}

pub fn print_json(v: &Value) {
    say!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

// ---- errors -------------------------------------------------------------------------------

/// The JSON description of an error: kind, message, and for coded errors the code, its
/// meaning and whether it is final.
pub fn error_json(e: &anyhow::Error, moves_money: bool) -> Value {
    let Some(ce) = e.downcast_ref::<Error>() else {
        return json!({"kind": "error", "message": format!("{e:#}"), "final": true});
    };
    let kind = match ce {
        Error::InvalidInput(_) => "invalid_input",
        Error::Config(_) => "config",
        Error::OAuth { .. } => "token_refused",
        Error::Api(_) if moves_money => "declined",
        Error::Api(_) => "refused",
        Error::OutcomeUnknown { .. } => "outcome_unknown",
        Error::Status { .. } => "status_error",
        Error::StillPending { .. } => "still_pending",
        Error::Transport { .. } => "transport",
        Error::UnexpectedResponse { .. } => "unexpected_response",
        Error::Callback(_) => "callback",
    };
    let mut v = json!({"kind": kind, "message": ce.to_string(), "final": ce.is_final()});
    if let Some(code) = ce.reason_code() {
        v["code"] = json!(code);
        v["meaning"] = json!(meaning_of(ce));
    }
    match ce {
        Error::OutcomeUnknown { invoice_id, .. } | Error::StillPending { invoice_id, .. } => {
            v["invoiceId"] = json!(invoice_id);
        }
        Error::Api(f) => {
            v["invoiceId"] = json!(f.body.invoice_id);
            v["httpStatus"] = json!(f.http_status);
            v["serverMessage"] = json!(f.message());
        }
        Error::OAuth {
            error, description, ..
        } => {
            v["error"] = json!(error);
            v["errorDescription"] = json!(description);
        }
        _ => {}
    }
    v
}

fn meaning_of(e: &Error) -> String {
    match e {
        Error::Api(f) => f.meaning().to_string(),
        _ => e
            .reason()
            .map(|r| r.message.to_string())
            .unwrap_or_default(),
    }
}

/// Prints an error (stderr as text; stdout as `{"error": ...}` with `--json`) and returns the
/// exit code for it. `moves_money` words a coded refusal as a decline of a transfer.
pub fn report_error(e: &anyhow::Error, json: bool, moves_money: bool) -> u8 {
    let ce = e.downcast_ref::<Error>();
    let code = if ce.is_some_and(Error::is_outcome_unknown) {
        EXIT_UNKNOWN
    } else {
        EXIT_FAILURE
    };
    if json {
        print_json(&json!({"error": error_json(e, moves_money)}));
        return code;
    }
    match ce {
        Some(Error::Api(f)) => {
            note!(
                "error: {}: code {} {} ({})",
                if moves_money { "declined" } else { "refused" },
                f.code(),
                f.meaning(),
                finality(f.is_final(), moves_money)
            );
            note!("  message: {}", f.message());
            if !f.body.invoice_id.is_empty() {
                note!("  invoice: {}", f.body.invoice_id);
            }
        }
        Some(
            ce @ Error::OutcomeUnknown {
                invoice_id, cause, ..
            },
        ) => {
            note!("error: outcome unknown for invoice {invoice_id}: {cause}");
            if let Some(code) = ce.reason_code() {
                note!(
                    "  code {code} {} (not final: query the status)",
                    meaning_of(ce)
                );
            }
            note!(
                "  the transfer may have happened; do not send it again. Check: aqsha status {invoice_id} --wait"
            );
        }
        Some(Error::StillPending { invoice_id, .. }) => {
            note!("error: {}", ce.map(|c| c.to_string()).unwrap_or_default());
            note!("  not final; check later: aqsha status {invoice_id} --wait");
        }
        Some(other) => note!("error: {other}"),
        None => note!("error: {e:#}"),
    }
    code
}

fn finality(is_final: bool, moves_money: bool) -> &'static str {
    match (is_final, moves_money) {
        (true, true) => "final: nothing moved, and sending it again will not change that",
        (true, false) => "final: sending the same request again will not change that",
        (false, _) => "not final: query the status, do not resend",
    }
}

/// A card number, or a saved card's id: anything that is not 12-19 digits is an id.
pub fn parse_sender(
    from: &str,
    expiry: Option<&str>,
    cvc: Option<&str>,
    name: Option<&str>,
    save: bool,
) -> anyhow::Result<Sender> {
    if CardNumber::looks_like(from) {
        let number = CardNumber::parse(from)?;
        let expiry =
            Expiry::parse(expiry.ok_or_else(|| {
                anyhow!("a sender card number needs its expiry (--expiry MM/YY)")
            })?)?;
        let cvc =
            Cvc::parse(cvc.ok_or_else(|| anyhow!("a sender card number needs its CVC (--cvc)"))?)?;
        Ok(Sender::Card {
            number,
            expiry,
            cvc,
            name: name.map(str::to_string).filter(|n| !n.is_empty()),
            save,
        })
    } else {
        if save {
            return Err(anyhow!("a saved card (card id) cannot be saved again"));
        }
        Ok(Sender::Saved(CardId::new(from)?))
    }
}

/// A receiver by phone number and IIN (`TYPEPHONE`), checked for form here so that a typo is
/// caught before a token is spent.
pub fn parse_phone_receiver(phone: &str, iin: &str) -> anyhow::Result<Receiver> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(phone, 11) && phone.starts_with('7')) {
        return Err(anyhow!(
            "--to-phone must be 11 digits starting with 7 (7XXXXXXXXXX)"
        ));
    }
    if !digits(iin, 12) {
        return Err(anyhow!("--iin must be 12 digits"));
    }
    Ok(Receiver::Phone(PhoneReceiver {
        phone: phone.to_string(),
        iin: iin.to_string(),
    }))
}

pub fn parse_receiver(to: &str, save: bool) -> anyhow::Result<Receiver> {
    if CardNumber::looks_like(to) {
        Ok(Receiver::Card {
            number: CardNumber::parse(to)?,
            save,
        })
    } else {
        if save {
            return Err(anyhow!("a saved card (card id) cannot be saved again"));
        }
        Ok(Receiver::Saved(CardId::new(to)?))
    }
}

/// A terminal id from a text, if not empty.
pub fn terminal_opt(t: Option<&str>) -> anyhow::Result<Option<TerminalId>> {
    Ok(match t.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Some(TerminalId::new(t)?),
        None => None,
    })
}
