//! The client subcommands of `aqsha`: `token`, `transfer`, `status`, `cards`, `listen` and
//! `batch`, built on the `aqsha-client` crate. They work against real ePay (test or
//! production) and against any Aqsha server.
//!
//! Output is text by default and JSON with `--json`. Exit codes: 0 success, 1 failure
//! (declined, refused, bad input, unreachable), 2 bad usage, 3 outcome unknown (a transfer may
//! have happened: check its status, do not resend it), 130 interrupted.

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
mod conn;
mod listen;

use anyhow::{anyhow, Context};
use aqsha_client::{
    AccountId, Amount, CardId, CardNumber, Client, Currency, Cvc, Error, Expiry, InvoiceId,
    P2pTransfer, Receipt, Receiver, Sender, StatusPath, TerminalId, TransactionStatus,
    TransferPath, TransferState, WaitOptions,
};
use clap::{Args, Subcommand};
use conn::ConnArgs;
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::Duration;

pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_UNKNOWN: u8 = 3;
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Get an access token (a transfer token bound to an invoice, or a service token).
    Token(TokenArgs),
    /// Make one P2P transfer; resolves an unknown outcome by status, never by resending.
    Transfer(TransferArgs),
    /// Show an invoice's status.
    Status(StatusArgs),
    /// List or deactivate saved cards.
    #[command(subcommand)]
    Cards(CardsCommand),
    /// Receive callbacks locally, verify and print them, optionally forward them.
    Listen(listen::ListenArgs),
    /// Make many transfers from a CSV file, resumably.
    Batch(batch::BatchArgs),
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
    /// Sender: a card number, or a saved card's id.
    #[arg(long)]
    from: String,
    /// Receiver: a card number, or a saved card's id.
    #[arg(long)]
    to: String,
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
            ClientCommand::Transfer(a) => a.conn.json,
            ClientCommand::Status(a) => a.conn.json,
            ClientCommand::Cards(CardsCommand::List { conn, .. })
            | ClientCommand::Cards(CardsCommand::Deactivate { conn, .. }) => conn.json,
            ClientCommand::Listen(a) => a.conn.json,
            ClientCommand::Batch(a) => a.conn.json,
        }
    }
}

/// Runs one client subcommand and turns its outcome into an exit code.
pub async fn run(cmd: ClientCommand) -> ExitCode {
    let json = cmd.json();
    let moves_money = matches!(cmd, ClientCommand::Transfer(_));
    let result = match cmd {
        ClientCommand::Token(a) => token(a).await,
        ClientCommand::Transfer(a) => transfer(a).await,
        ClientCommand::Status(a) => status(a).await,
        ClientCommand::Cards(c) => cards(c).await,
        ClientCommand::Listen(a) => listen::run(a).await,
        ClientCommand::Batch(a) => batch::run(a).await,
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

// ---- token --------------------------------------------------------------------------------

async fn token(a: TokenArgs) -> anyhow::Result<u8> {
    let (client, json) = client(&a.conn)?;
    let scope = match (&a.scope, a.service, &a.invoice) {
        (Some(s), _, _) => s.clone(),
        (None, false, Some(_)) => aqsha_client::token::TRANSFER_SCOPE.to_string(),
        _ => aqsha_client::token::SERVICE_SCOPE.to_string(),
    };
    if let Some(inv) = &a.invoice {
        InvoiceId::new(inv.as_str())?;
    }
    if let Some(am) = &a.amount {
        Amount::parse(am)?;
    }
    let binding = aqsha_client::token::TokenBinding {
        invoice_id: a.invoice.clone(),
        amount: a.amount.clone(),
        currency: a.currency.clone(),
        terminal: client.config().terminal.as_ref().map(|t| t.to_string()),
        post_link: a.post_link.clone(),
        failure_post_link: a.failure_post_link.clone(),
        secret_hash: a.secret_hash.clone(),
        account_id: a.account_id.clone(),
        ..Default::default()
    };
    let t = client.token(&scope, &binding).await?;
    if json {
        print_json(&serde_json::to_value(&t.response)?);
    } else {
        say!("access_token  {}", t.secret());
        say!("token_type    {}", t.response.token_type);
        say!("scope         {}", t.response.scope);
        say!("expires_in    {} s", t.expires_in);
        if let Some(term) = &binding.terminal {
            say!("terminal      {term}");
        }
        if let Some(inv) = &binding.invoice_id {
            say!("invoice       {inv}");
        }
    }
    Ok(0)
}

// ---- transfer -----------------------------------------------------------------------------

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

fn opt<T>(v: Option<String>, f: impl FnOnce(String) -> T) -> Option<T> {
    v.filter(|s| !s.trim().is_empty()).map(f)
}

async fn transfer(a: TransferArgs) -> anyhow::Result<u8> {
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
    let sender = parse_sender(
        &a.from,
        a.expiry.as_deref(),
        a.cvc.as_deref(),
        a.name.as_deref(),
        a.save,
    )?;
    let receiver = parse_receiver(&a.to, a.save_receiver)?;
    let mut t = P2pTransfer::new(invoice.clone(), amount, sender, receiver).currency(currency);
    t.account_id = a.account_id.map(AccountId::new).transpose()?;
    t.sender_email = opt(a.email, |s| s);
    t.description = opt(a.description, |s| s);
    t.post_link = opt(a.post_link, |s| s);
    t.failure_post_link = opt(a.failure_post_link, |s| s);
    t.secret_hash = opt(a.secret_hash, |s| s);
    if !json {
        note!(
            "transfer {amount} {currency} from {} to {}, invoice {invoice}",
            side_label_sender(&t.sender),
            side_label_receiver(&t.receiver)
        );
    }
    match client.transfer(&t).await {
        Ok(receipt) => {
            print_receipt(&receipt, json);
            Ok(0)
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
    }
}

fn side_label_receiver(r: &Receiver) -> String {
    match r {
        Receiver::Card { number, .. } => number.mask(),
        Receiver::Saved(id) => format!("card id {id}"),
    }
}

fn print_receipt(r: &Receipt, json: bool) {
    let w = &r.response;
    if json {
        print_json(&serde_json::to_value(w).unwrap_or(Value::Null));
        return;
    }
    say!(
        "{}  invoice {}  amount {} {}  fee {} {}",
        w.status,
        w.order_id,
        r.amount,
        w.currency,
        r.fee,
        w.currency
    );
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

// ---- status -------------------------------------------------------------------------------

/// Exit code for a status: 0 for charged / authorised / other final states, 1 declined or not
/// found, 3 still pending.
fn status_exit(st: &TransactionStatus) -> u8 {
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

fn print_status(st: &TransactionStatus, json: bool, resolved: bool) {
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

async fn status(a: StatusArgs) -> anyhow::Result<u8> {
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

// ---- cards --------------------------------------------------------------------------------

async fn cards(c: CardsCommand) -> anyhow::Result<u8> {
    match c {
        CardsCommand::List { conn, account_id } => {
            let (client, json) = client(&conn)?;
            let account = AccountId::new(account_id)?;
            let cards = client.saved_cards(&account).await?;
            if json {
                print_json(&serde_json::to_value(&cards)?);
            } else if cards.is_empty() {
                say!("no saved cards for account {account}");
            } else {
                say!(
                    "{:<38} {:<15} {:<20} {:<6} created",
                    "id",
                    "mask",
                    "payer",
                    "active"
                );
                for c in &cards {
                    say!(
                        "{:<38} {:<15} {:<20} {:<6} {}",
                        c.id,
                        c.card_mask,
                        c.payer_name,
                        c.payment_available,
                        c.created_date
                    );
                }
            }
            Ok(0)
        }
        CardsCommand::Deactivate { conn, card_id } => {
            let (client, json) = client(&conn)?;
            let id = CardId::new(card_id)?;
            let r = client
                .deactivate_card(&id)
                .await
                .with_context(|| format!("deactivating card {id}"))?;
            if json {
                print_json(&json!({"cardId": id.as_str(), "status": r.status}));
            } else {
                say!("{id}: {}", r.status);
            }
            Ok(0)
        }
    }
}

/// A terminal id from a text, if not empty.
pub fn terminal_opt(t: Option<&str>) -> anyhow::Result<Option<TerminalId>> {
    Ok(match t.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => Some(TerminalId::new(t)?),
        None => None,
    })
}
