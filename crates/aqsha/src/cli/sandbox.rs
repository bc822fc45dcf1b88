//! `aqsha sandbox …`: Aqsha's sandbox API, which real ePay does not have.

use super::conn::ConnArgs;
use super::{client, print_json};
use anyhow::anyhow;
use aqsha_client::{Amount, Currency};
use clap::Subcommand;
use serde_json::json;

#[derive(Subcommand)]
pub enum SandboxCommand {
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
        }
    }
}

pub(super) async fn run(c: SandboxCommand) -> anyhow::Result<u8> {
    match c {
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
