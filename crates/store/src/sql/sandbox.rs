//! The sandbox's merchant-side reads and writes (issue 14): settlement balances, read with
//! their shards, and the phone directory. Funding a settlement account is `Conn::fund_settlement`.

use super::{Driver, Param, SqlConn};
use crate::rows;
use aqsha_core::money::{Currency, Money};
use aqsha_core::provision::{NewPhone, PhoneCard};
use aqsha_core::store::{PhoneView, StoreError, StoreResult};
use aqsha_core::transfer::settlement_account;

impl<D: Driver> SqlConn<D> {
    /// The merchant's settlement accounts with their balances (own column plus shards).
    pub(super) fn merchant_settlement_balances(
        &mut self,
        merchant_id: &str,
    ) -> StoreResult<Vec<(Currency, Money)>> {
        let ids = [Currency::Kzt, Currency::Usd].map(|c| settlement_account(merchant_id, c));
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.all(
            "SELECT a.currency, CAST(a.balance + COALESCE((SELECT SUM(s.balance)
             FROM balance_shards s WHERE s.account_id = a.id), 0) AS BIGINT)
             FROM accounts a WHERE a.id = ANY($1) ORDER BY a.currency",
            &[Param::List(&ids)],
            |r| Ok((rows::currency(r.text(0)?)?, Money::from_minor(r.int(1)?))),
        )
    }

    /// The public entries and the merchant's own, public first.
    pub(super) fn phone_views(&mut self, merchant_id: &str) -> StoreResult<Vec<PhoneView>> {
        self.all(
            "SELECT p.phone_mask, p.owner_merchant_id, n.id, n.mask
             FROM phone_directory p JOIN network_cards n ON n.id = p.card_id
             WHERE p.owner_merchant_id IN ($1, '')
             ORDER BY p.owner_merchant_id, p.created_at, p.phone_mask",
            &[Param::Text(merchant_id)],
            |r| {
                Ok(PhoneView {
                    phone_mask: r.text(0)?,
                    public: r.text(1)?.is_empty(),
                    card_id: r.text(2)?,
                    card_mask: r.text(3)?,
                })
            },
        )
    }

    /// A phone entry, bound to a card its owner may use (its own or a public one); refused
    /// when there is no such card.
    pub(super) fn insert_phone(&mut self, p: &NewPhone, now: &str) -> StoreResult<()> {
        let owner = p.owner.as_deref().unwrap_or("");
        let (column, card) = match &p.card {
            PhoneCard::Id(id) => ("id", id),
            PhoneCard::Fingerprint(f) => ("fingerprint", f),
        };
        let sql = format!(
            "INSERT INTO phone_directory (phone_key, owner_merchant_id, phone_mask, iin_check,
             card_id, created_at)
             SELECT $1, $2, $3, $4, n.id, $6 FROM network_cards n
             WHERE n.{column} = $5 AND (n.owner_merchant_id IS NULL OR n.owner_merchant_id = $2)"
        );
        let inserted = self.driver.exec(
            &sql,
            &[
                Param::Text(&p.phone_key),
                Param::Text(owner),
                Param::Text(&p.phone_mask),
                Param::Text(&p.iin_check),
                Param::Text(card),
                Param::Text(now),
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::Refused(
                "no card with this id among the public test cards and yours".into(),
            ));
        }
        Ok(())
    }
}
