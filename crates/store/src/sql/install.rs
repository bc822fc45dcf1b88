//! Installing new records in one transaction ([`Conn::install`]): the seed, a merchant added
//! by `aqsha merchant add`, a card or terminal added through the sandbox API.

use super::{Driver, Param, SqlConn};
#[cfg(doc)]
use crate::conn::Conn;
use crate::rows;
use aqsha_core::money::Currency;
use aqsha_core::network::funding_account;
use aqsha_core::provision::{NewMerchant, NewRecords};
use aqsha_core::records::{NewNetworkCard, TerminalRecord};
use aqsha_core::store::{StoreError, StoreResult, Tx};
use aqsha_core::transfer::{external_account, settlement_account};
use chrono::Utc;

impl<D: Driver> SqlConn<D> {
    /// See [`Conn::install`]: `false` when the records' marker was installed before.
    pub(super) fn install_records(&mut self, seed: &NewRecords) -> StoreResult<bool> {
        let now = rows::rfc3339(Utc::now());
        if let Some(marker) = &seed.marker {
            let inserted = self.driver.exec(
                "INSERT INTO seed_markers (marker, applied_at) VALUES ($1, $2) ON CONFLICT (marker) DO NOTHING",
                &[Param::Text(marker), Param::Text(&now)],
            )?;
            if inserted == 0 {
                return Ok(false);
            }
        }
        for c in [Currency::Kzt, Currency::Usd] {
            self.ensure_account(&external_account(c), "external", c)?;
            self.ensure_account(&funding_account(None, c), "funding", c)?;
        }
        for m in &seed.merchants {
            self.insert_merchant(m, &now)?;
        }
        let terminals = seed.merchants.iter().flat_map(|m| m.terminals.iter());
        for t in terminals.chain(seed.terminals.iter()) {
            self.insert_terminal(t)?;
        }
        for n in &seed.cards {
            self.insert_network_card(n, &now)?;
            let funding_op = format!("funding:{}", n.card.id);
            self.fund(&n.card, n.opening_balance, seed.funding_cap, &funding_op)?;
        }
        for v in &seed.vault_cards {
            self.put_vault_card(v)?;
        }
        for p in &seed.phones {
            self.insert_phone(p, &now)?;
        }
        Ok(true)
    }

    fn insert_merchant(&mut self, m: &NewMerchant, now: &str) -> StoreResult<()> {
        let r = &m.record;
        self.driver.exec(
            "INSERT INTO merchants (id, client_id, secret_hash, name, cabinet_email,
             cabinet_password_hash, callback_secret, created_at, time_zone)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                Param::Text(&r.id),
                Param::Text(&r.client_id),
                Param::Text(&r.secret_hash),
                Param::Text(&r.name),
                Param::OptText(m.cabinet_email.as_deref()),
                Param::OptText(m.cabinet_password_hash.as_deref()),
                Param::Text(&m.callback_secret),
                Param::Text(now),
                Param::Text(
                    m.time_zone
                        .as_deref()
                        .unwrap_or(aqsha_core::cabinet::DEFAULT_TIME_ZONE),
                ),
            ],
        )?;
        Ok(())
    }

    /// A terminal, with its fee account and the merchant's settlement account in its currency
    /// if those are new (migration "settlement_accounts" says why that is `external`). A
    /// terminal without a number takes the next from the `terminal_number` counter.
    fn insert_terminal(&mut self, t: &TerminalRecord) -> StoreResult<()> {
        self.ensure_account(&t.fee_account, "fee", t.currency)?;
        let settlement = settlement_account(&t.merchant_id, t.currency);
        self.ensure_account(&settlement, "external", t.currency)?;
        let number = match t.number.as_str() {
            "" => self
                .one(
                    "UPDATE counters SET value = value + 1 WHERE name = 'terminal_number'
                     RETURNING value",
                    &[],
                    |r| r.int(0),
                )?
                .ok_or_else(|| StoreError::Invariant("no terminal_number counter".into()))?
                .to_string(),
            given => given.to_string(),
        };
        self.driver.exec(
            "INSERT INTO terminals (id, merchant_id, currency, fee_bps, fee_min, fee_account,
             number) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                Param::Text(&t.id),
                Param::Text(&t.merchant_id),
                Param::Text(t.currency.code()),
                Param::Int(t.fee.percent_bps),
                Param::Int(t.fee.min_fee.minor()),
                Param::Text(&t.fee_account),
                Param::Text(&number),
            ],
        )?;
        Ok(())
    }

    /// A network card with its (empty) account; its opening balance is funded apart.
    fn insert_network_card(&mut self, n: &NewNetworkCard, now: &str) -> StoreResult<()> {
        let c = &n.card;
        self.ensure_account(&c.account_id, "card", c.currency)?;
        self.driver.exec(
            "INSERT INTO network_cards (id, fingerprint, key_id, pan_sealed, mask, brand, exp_month,
             exp_year, cvc_check, locked, enforce_expiry, account_id, currency, created_at,
             owner_merchant_id, scenario_outcome, scenario_delay_ms, scenario_resolve_to,
             scenario_resolve_after_ms, secure3d)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
             $18, $19, $20)",
            &[
                Param::Text(&c.id),
                Param::Text(&c.fingerprint),
                Param::Text(&n.sealed.key_id),
                Param::Blob(&n.sealed.blob),
                Param::Text(&c.mask),
                Param::Text(c.brand.name()),
                Param::Int(i64::from(c.expiry.month)),
                Param::Int(i64::from(c.expiry.year)),
                Param::Text(&c.cvc_check),
                Param::Bool(c.locked),
                Param::Bool(c.enforce_expiry),
                Param::Text(&c.account_id),
                Param::Text(c.currency.code()),
                Param::Text(now),
                Param::OptText(c.owner.as_deref()),
                Param::OptInt(c.scenario.outcome.map(i64::from)),
                Param::Int(i64::from(c.scenario.delay_ms)),
                Param::Int(i64::from(c.scenario.resolve_to)),
                Param::Int(i64::from(c.scenario.resolve_after_ms)),
                Param::Bool(c.secure3d),
            ],
        )?;
        Ok(())
    }
}
