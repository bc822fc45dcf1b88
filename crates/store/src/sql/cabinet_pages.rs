//! The rows the cabinet's pages read and change beyond the API's (issue 16, items 4–8): an
//! operation's postings, the merchant's terminals and saved cards, and the lock of one of its
//! sandbox cards. Every query is scoped by the merchant's id.

use super::{Driver, Param, SqlConn};
use crate::conn::CabinetPagesConn;
use crate::rows;
use aqsha_core::records::{MerchantRecord, VaultCard};
use aqsha_core::store::{PostingView, StoreResult, TerminalView};
use chrono::{DateTime, Utc};

impl<D: Driver> CabinetPagesConn for SqlConn<D> {
    fn merchant_by_id(&mut self, merchant_id: &str) -> StoreResult<Option<MerchantRecord>> {
        let sql = format!(
            "SELECT {} FROM merchants WHERE id = $1",
            rows::MERCHANT_COLUMNS
        );
        self.one(&sql, &[Param::Text(merchant_id)], rows::merchant)
    }

    fn operation_postings(
        &mut self,
        merchant_id: &str,
        operation_id: &str,
    ) -> StoreResult<Vec<PostingView>> {
        // Through the operation, so another merchant's operation id finds nothing.
        self.all(
            "SELECT p.account_id, a.kind, a.currency, p.amount FROM postings p
             JOIN operations o ON o.id = p.operation_id
             JOIN accounts a ON a.id = p.account_id
             WHERE p.operation_id = $1 AND o.merchant_id = $2 ORDER BY p.id",
            &[Param::Text(operation_id), Param::Text(merchant_id)],
            |r| {
                Ok(PostingView {
                    account_id: r.text(0)?,
                    kind: r.text(1)?,
                    currency: r.text(2)?,
                    amount_minor: r.int(3)?,
                })
            },
        )
    }

    fn pending_due(
        &mut self,
        merchant_id: &str,
        operation_id: &str,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let due = self.one(
            "SELECT due_at FROM pending_resolutions WHERE operation_id = $1 AND merchant_id = $2",
            &[Param::Text(operation_id), Param::Text(merchant_id)],
            |r| r.int(0),
        )?;
        Ok(due.map(rows::millis))
    }

    fn merchant_terminals(&mut self, merchant_id: &str) -> StoreResult<Vec<TerminalView>> {
        let columns = rows::TERMINAL_COLUMNS
            .split(", ")
            .map(|c| format!("t.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns},
               (SELECT COUNT(*) FROM vault_cards v
                WHERE v.terminal_id = t.id AND v.merchant_id = t.merchant_id AND v.active = $2)
             FROM terminals t WHERE t.merchant_id = $1 ORDER BY t.id"
        );
        self.all(&sql, &[Param::Text(merchant_id), Param::Bool(true)], |r| {
            Ok(TerminalView {
                terminal: rows::terminal(r)?,
                saved_cards: u64::try_from(r.int(7)?).unwrap_or(0),
            })
        })
    }

    fn merchant_saved_cards(
        &mut self,
        merchant_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<VaultCard>> {
        let sql = format!(
            "SELECT {} FROM vault_cards WHERE merchant_id = $1 AND active = $2
             ORDER BY account_id, created_at, id LIMIT $3",
            rows::VAULT_CARD_COLUMNS
        );
        self.all(
            &sql,
            &[
                Param::Text(merchant_id),
                Param::Bool(true),
                Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
            ],
            rows::vault_card,
        )
    }

    fn set_sandbox_card_locked(
        &mut self,
        merchant_id: &str,
        card_id: &str,
        locked: bool,
    ) -> StoreResult<bool> {
        let n = self.driver.exec(
            "UPDATE network_cards SET locked = $3 WHERE id = $1 AND owner_merchant_id = $2",
            &[
                Param::Text(card_id),
                Param::Text(merchant_id),
                Param::Bool(locked),
            ],
        )?;
        // This runs on the writer, whose transfers read cards through this cache: they see
        // the change from the next batch on.
        self.cards.clear();
        Ok(n == 1)
    }
}
