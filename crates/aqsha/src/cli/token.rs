//! `aqsha token`: get an access token (a transfer token bound to an invoice, or a service
//! token).

use super::{client, print_json, TokenArgs};
use aqsha_client::{Amount, InvoiceId};

pub(super) async fn token(a: TokenArgs) -> anyhow::Result<u8> {
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
