//! A terminal's limit settings as the sandbox API reads and replaces them (the transfer reads
//! them in its batch: `sql/batch.rs`, `sql/tx.rs`).

use super::{limit_settings_of, Driver, Param, SqlConn};
use aqsha_core::limits::LimitSettings;
use aqsha_core::store::StoreResult;

impl<D: Driver> SqlConn<D> {
    /// The merchant's terminal's own settings; `None` when it has no such terminal.
    pub(crate) fn read_limit_settings(
        &mut self,
        merchant_id: &str,
        terminal_id: &str,
    ) -> StoreResult<Option<LimitSettings>> {
        let sql = concat!(
            "SELECT ",
            limit_settings_text!(),
            " FROM terminals WHERE id = $1 AND merchant_id = $2"
        );
        let found = self.one(
            sql,
            &[Param::Text(terminal_id), Param::Text(merchant_id)],
            |r| r.text(0),
        )?;
        Ok(found.as_deref().map(limit_settings_of))
    }

    /// Replaces the merchant's terminal's settings; `false` when it has no such terminal.
    pub(crate) fn write_limit_settings(
        &mut self,
        merchant_id: &str,
        terminal_id: &str,
        s: &LimitSettings,
    ) -> StoreResult<bool> {
        let n = self.driver.exec(
            "UPDATE terminals SET limit_per_transfer = $3, limit_sender_daily = $4,
             limit_receiver_daily = $5, limit_terminal_daily = $6, limit_terminal_total = $7
             WHERE id = $1 AND merchant_id = $2",
            &[
                Param::Text(terminal_id),
                Param::Text(merchant_id),
                Param::OptInt(s.per_transfer.map(|m| m.minor())),
                Param::OptInt(s.sender_daily_transfers),
                Param::OptInt(s.receiver_daily.map(|m| m.minor())),
                Param::OptInt(s.terminal_daily.map(|m| m.minor())),
                Param::OptInt(s.terminal_total.map(|m| m.minor())),
            ],
        )?;
        Ok(n == 1)
    }
}
