//! `aqsha sandbox …`: Aqsha's sandbox API from the command line (`docs/sandbox.md`), which real
//! ePay does not have. `aqsha sandbox card issue` issues a test card, optionally a scenario card
//! that answers every transfer with a chosen reason code, late, or pending for a while;
//! `aqsha sandbox fund` funds the merchant's settlement account.

use super::conn::ConnArgs;
use super::{client, print_json};
use anyhow::{anyhow, Context};
use aqsha_client::{Amount, Currency, SandboxCard};
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Test cards of the sandbox network.
    #[command(subcommand)]
    Card(CardCommand),
    /// Move money into the merchant's settlement account (what `aqsha payout` pays from)
    /// from its sandbox funding account, within the server's funding cap.
    Fund {
        #[command(flatten)]
        conn: ConnArgs,
        /// Amount in major units: 5000, 12.22.
        #[arg(long)]
        amount: String,
        #[arg(long, default_value = "KZT")]
        currency: String,
    },
}

impl SandboxCommand {
    pub(super) fn json(&self) -> bool {
        match self {
            SandboxCommand::Fund { conn, .. } => conn.json,
            SandboxCommand::Card(CardCommand::Issue(a)) => a.conn.json,
        }
    }
}

#[derive(Subcommand)]
pub enum CardCommand {
    /// Issue a test card (prints its number once), optionally with a chosen outcome.
    Issue(IssueArgs),
}

#[derive(Args)]
pub struct IssueArgs {
    #[command(flatten)]
    pub(super) conn: ConnArgs,
    /// Expiry, MM/YY.
    #[arg(long, default_value = "12/30")]
    expire: String,
    /// The card's CVC.
    #[arg(long, default_value = "123")]
    cvc: String,
    /// Opening balance in major units, funded from your merchant's funding account.
    #[arg(long)]
    balance: Option<String>,
    #[arg(long)]
    currency: Option<String>,
    /// Issue the card locked (its issuer answers 465).
    #[arg(long)]
    locked: bool,
    /// The reason code the issuer answers every transfer with (docs/sandbox.md).
    #[arg(long)]
    outcome: Option<u32>,
    /// Hold every answer back this many milliseconds (at most 25000).
    #[arg(long)]
    delay_ms: Option<u32>,
    /// For a non-final outcome: CHARGE (default) or the final code it resolves to.
    #[arg(long)]
    resolve_to: Option<String>,
    /// For a non-final outcome: how long it stays pending, in milliseconds (default 5000).
    #[arg(long)]
    resolve_after_ms: Option<u32>,
    /// Enrol the card in 3-D Secure: transfers paid with its number wait for the ACS
    /// challenge (docs/sandbox.md).
    #[arg(long)]
    secure3d: bool,
}

pub(super) async fn run(cmd: SandboxCommand) -> anyhow::Result<u8> {
    match cmd {
        SandboxCommand::Card(CardCommand::Issue(a)) => issue(a).await,
        SandboxCommand::Fund {
            conn,
            amount,
            currency,
        } => {
            let (client, json) = client(&conn)?;
            let amount = Amount::parse(&amount)?;
            let currency: Currency = currency.parse().map_err(|e: String| anyhow!(e))?;
            let balance = client.sandbox_fund(amount, currency).await?;
            if json {
                print_json(&json!({
                    "currency": currency.code(),
                    "balance": balance.to_wire(),
                }));
            } else {
                say!("settlement balance {balance} {currency}");
            }
            Ok(0)
        }
    }
}

async fn issue(a: IssueArgs) -> anyhow::Result<u8> {
    let (client, json) = client(&a.conn)?;
    let card = SandboxCard {
        expire: a.expire,
        cvc: a.cvc,
        balance: a.balance,
        currency: a.currency,
        locked: a.locked,
        outcome: a.outcome,
        delay_ms: a.delay_ms,
        resolve_to: a.resolve_to,
        resolve_after_ms: a.resolve_after_ms,
        secure3d: a.secure3d,
    };
    let issued = client
        .sandbox_issue_card(&card)
        .await
        .context("issuing a sandbox card")?;
    if json {
        print_json(&issued);
        return Ok(0);
    }
    let text = |k: &str| issued[k].as_str().unwrap_or_default().to_string();
    say!("{} {} (id {})", text("pan"), text("brand"), text("id"));
    say!(
        "expires {}, balance {} {}",
        text("expire"),
        issued["balance"],
        text("currency")
    );
    match issued.get("scenario") {
        Some(s) => say!("scenario: {s}"),
        None => say!("answers naturally"),
    }
    if issued["secure3d"] == json!(true) {
        say!("enrolled in 3-D Secure");
    }
    Ok(0)
}
