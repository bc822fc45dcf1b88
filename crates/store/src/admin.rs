//! Merchant administration: the queries behind `aqsha merchant list`, `disable`, `enable`,
//! `rotate-secret` and `rotate-callback-secret`, and the active-merchant check that every
//! bearer call makes (through the store's short cache, [`crate::group`]).

use crate::sql::{Driver, Param, SqlConn};
use aqsha_core::money::Currency;
use aqsha_core::store::{MerchantChange, MerchantSummary, StoreError, StoreResult};

impl<D: Driver> SqlConn<D> {
    /// `true` when the merchant exists and is not disabled.
    pub(crate) fn merchant_active_row(&mut self, merchant_id: &str) -> StoreResult<bool> {
        let mut disabled = None;
        self.driver.query(
            "SELECT disabled FROM merchants WHERE id = $1",
            &[Param::Text(merchant_id)],
            &mut |r| {
                disabled = Some(r.boolean(0)?);
                Ok(())
            },
        )?;
        Ok(disabled == Some(false))
    }

    pub(crate) fn merchant_list(&mut self) -> StoreResult<Vec<MerchantSummary>> {
        let mut out: Vec<MerchantSummary> = Vec::new();
        self.driver.query(
            "SELECT m.client_id, m.name, m.disabled, t.id, t.currency
             FROM merchants m LEFT JOIN terminals t ON t.merchant_id = m.id
             ORDER BY m.client_id, t.id",
            &[],
            &mut |r| {
                let client_id = r.text(0)?;
                if out.last().map(|m| &m.client_id) != Some(&client_id) {
                    out.push(MerchantSummary {
                        client_id,
                        name: r.text(1)?,
                        disabled: r.boolean(2)?,
                        terminals: Vec::new(),
                    });
                }
                if let (Some(id), Some(code), Some(m)) =
                    (r.opt_text(3)?, r.opt_text(4)?, out.last_mut())
                {
                    let currency = Currency::parse(&code).ok_or_else(|| {
                        StoreError::Db(format!("unknown currency {code:?} in database"))
                    })?;
                    m.terminals.push((id, currency));
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    pub(crate) fn merchant_update(
        &mut self,
        client_id: &str,
        change: &MerchantChange,
    ) -> StoreResult<bool> {
        let changed = match change {
            MerchantChange::Disabled(d) => self.driver.exec(
                "UPDATE merchants SET disabled = $2 WHERE client_id = $1",
                &[Param::Text(client_id), Param::Bool(*d)],
            )?,
            MerchantChange::SecretHash(h) => self.driver.exec(
                "UPDATE merchants SET secret_hash = $2 WHERE client_id = $1",
                &[Param::Text(client_id), Param::Text(h)],
            )?,
            MerchantChange::CallbackSecret(s) => self.driver.exec(
                "UPDATE merchants SET callback_secret = $2 WHERE client_id = $1",
                &[Param::Text(client_id), Param::Text(s)],
            )?,
        };
        Ok(changed == 1)
    }
}
