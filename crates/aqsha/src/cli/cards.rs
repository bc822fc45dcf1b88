//! `aqsha cards`: list or deactivate saved cards.

use super::{client, print_json, CardsCommand};
use anyhow::Context;
use aqsha_client::{AccountId, CardId};
use serde_json::json;

pub(super) async fn cards(c: CardsCommand) -> anyhow::Result<u8> {
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
