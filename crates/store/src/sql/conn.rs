//! The store's [`Conn`] over a [`SqlConn`]: transaction control, and the seed, callback,
//! merchant, card and ledger statements outside a transfer.

use super::batch::lock_keys_of;
use super::{batch_err, Driver, Param, SqlConn};
use crate::conn::{BatchError, Conn};
use crate::rows;
use aqsha_core::limits::LimitSettings;
use aqsha_core::money::{Currency, Money};
use aqsha_core::provision::NewRecords;
use aqsha_core::records::CallbackStatus;
use aqsha_core::records::{
    CallbackAttempt, Challenge, MerchantRecord, OperationRecord, SealedRecord, SealedTable,
    VaultCard,
};
use aqsha_core::search::Search;
use aqsha_core::store::{
    CallbackView, ChallengeView, DueCallback, KeyUsage, KindTotal, LeaseOwner, LedgerReport,
    MerchantChange, MerchantSummary, NextStep, PhoneView, Reclaimed, SandboxCardView, StoreResult,
    Tx,
};
use aqsha_core::transfer::{settlement_account, LockKeys};
use aqsha_core::vault::SealedPan;
use chrono::{DateTime, Utc};

impl<D: Driver> Conn for SqlConn<D> {
    fn begin(&mut self) -> Result<(), BatchError> {
        self.reset(false);
        if std::mem::take(&mut self.begun) {
            return Ok(());
        }
        self.driver.control(D::BEGIN)
    }
    fn prepare(&mut self, keys: &[&LockKeys]) -> Result<Vec<bool>, BatchError> {
        let locks = lock_keys_of(keys);
        let locks: Vec<&str> = locks.iter().map(String::as_str).collect();
        let ready = self.lock_cards(keys, &locks).map_err(batch_err)?;
        let now: Vec<&LockKeys> = keys
            .iter()
            .zip(&ready)
            .filter(|(_, r)| **r)
            .map(|(k, _)| *k)
            .collect();
        self.read_ahead(&now).map_err(batch_err)?;
        Ok(ready)
    }
    fn flush(&mut self) -> Result<(), BatchError> {
        self.write_pending().map_err(batch_err)
    }
    fn commit(&mut self, next: bool) -> Result<(), BatchError> {
        self.flush()?;
        self.reset(false);
        if next && D::CHAIN_BEGIN {
            // One simple query, two statements: if COMMIT fails, BEGIN does not run.
            self.driver.control(&format!("COMMIT; {}", D::BEGIN))?;
            self.begun = true;
            return Ok(());
        }
        self.driver.control("COMMIT")
    }
    fn rollback(&mut self) {
        self.begun = false;
        self.reset(true);
        let _ = self.driver.control("ROLLBACK");
    }
    // Commands run in savepoints only in the careful path, each flushed before its savepoint
    // is released; so nothing is pending at a savepoint.
    fn savepoint(&mut self) -> Result<(), BatchError> {
        self.driver.control("SAVEPOINT job")
    }
    fn release_savepoint(&mut self) -> Result<(), BatchError> {
        self.driver.control("RELEASE SAVEPOINT job")
    }
    fn rollback_to_savepoint(&mut self) -> Result<(), BatchError> {
        self.pending.clear();
        if D::REFERENCES_ROLL_BACK {
            self.references.clear();
        }
        self.driver.control("ROLLBACK TO SAVEPOINT job")
    }
    fn is_broken(&self) -> bool {
        self.driver.is_broken()
    }

    fn install(&mut self, seed: &NewRecords) -> StoreResult<bool> {
        self.install_records(seed)
    }

    fn set_limit_settings(
        &mut self,
        merchant_id: &str,
        terminal_id: &str,
        settings: &LimitSettings,
    ) -> StoreResult<bool> {
        self.write_limit_settings(merchant_id, terminal_id, settings)
    }

    fn limit_settings(
        &mut self,
        merchant_id: &str,
        terminal_id: &str,
    ) -> StoreResult<Option<LimitSettings>> {
        self.read_limit_settings(merchant_id, terminal_id)
    }

    fn top_up(
        &mut self,
        merchant_id: &str,
        card_id: &str,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreResult<Option<Money>> {
        let sql = format!(
            "SELECT {} FROM network_cards WHERE id = $1 AND owner_merchant_id = $2",
            rows::NETWORK_CARD_COLUMNS
        );
        let Some(card) = self.one(
            &sql,
            &[Param::Text(card_id), Param::Text(merchant_id)],
            rows::network_card,
        )?
        else {
            return Ok(None);
        };
        let op = format!("topup:{}", uuid::Uuid::now_v7());
        self.fund(&card, amount, cap, &op)?;
        // The new balance: the locked balance plus this batch's pending change.
        Ok(Some(self.balance(&card.account_id)?))
    }

    fn fund_settlement(
        &mut self,
        merchant_id: &str,
        currency: Currency,
        amount: Money,
        cap: Option<Money>,
    ) -> StoreResult<Money> {
        let account = settlement_account(merchant_id, currency);
        // A merchant without a terminal in this currency has no account yet.
        self.ensure_account(&account, "external", currency)?;
        let op = format!("settlement-funding:{}", uuid::Uuid::now_v7());
        self.fund_account(Some(merchant_id), currency, &account, amount, cap, &op)?;
        // The locked balance plus this batch's pending change.
        self.balance(&account)
    }

    fn settlement_balances(&mut self, merchant_id: &str) -> StoreResult<Vec<(Currency, Money)>> {
        self.merchant_settlement_balances(merchant_id)
    }

    fn phones(&mut self, merchant_id: &str) -> StoreResult<Vec<PhoneView>> {
        self.phone_views(merchant_id)
    }

    fn public_card_keys(&mut self) -> StoreResult<Vec<String>> {
        self.all(
            "SELECT fingerprint FROM network_cards WHERE owner_merchant_id IS NULL",
            &[],
            |r| r.text(0),
        )
    }

    fn deactivate_card(
        &mut self,
        merchant_id: &str,
        card_id: &str,
        account_id: Option<&str>,
    ) -> StoreResult<bool> {
        let n = self.driver.exec(
            "UPDATE vault_cards SET active = $3 WHERE id = $1 AND merchant_id = $2 AND active = $4
             AND (CAST($5 AS TEXT) IS NULL OR account_id = $5)",
            &[
                Param::Text(card_id),
                Param::Text(merchant_id),
                Param::Bool(false),
                Param::Bool(true),
                Param::OptText(account_id),
            ],
        )?;
        Ok(n == 1)
    }

    fn claim_callbacks(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
        lease_ms: i64,
        owner: &LeaseOwner,
        per_merchant: usize,
        skip: &[String],
    ) -> StoreResult<Vec<DueCallback>> {
        let now_ms = now.timestamp_millis();
        let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
        // Each merchant's earliest due events, at most `per_merchant` of them, found by an
        // index seek per merchant (migration "merchant_admin"), so that a merchant at its cap
        // costs nothing however many of its events are due; then the earliest of those.
        let sql = format!(
            "UPDATE callback_events SET lease_until = $2, attempts = attempts + 1,
                lease_instance = $6, lease_boot = $7
             WHERE id IN (
                SELECT c.id FROM {}
                WHERE NOT (m.id = ANY($4))
                ORDER BY c.next_attempt_at LIMIT $3)
             RETURNING {}, attempts,
                (SELECT m.callback_secret FROM merchants m WHERE m.id = callback_events.merchant_id)",
            D::CLAIM_DUE,
            rows::EVENT_COLUMNS
        );
        self.all(
            &sql,
            &[
                Param::Int(now_ms),
                Param::Int(now_ms + lease_ms),
                Param::Int(limit as i64),
                Param::List(&skip),
                Param::Int(per_merchant as i64),
                Param::Text(&owner.instance),
                Param::Text(&owner.boot),
            ],
            |r| {
                Ok(DueCallback {
                    event: rows::event(r)?,
                    attempt: u32::try_from(r.int(8)?).unwrap_or(u32::MAX),
                    secret: r.text(9)?,
                })
            },
        )
    }

    fn update_merchant(&mut self, client_id: &str, change: &MerchantChange) -> StoreResult<bool> {
        self.merchant_update(client_id, change)
    }

    fn claim_resolutions(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
        lease_ms: i64,
        owner: &LeaseOwner,
    ) -> StoreResult<Vec<aqsha_core::outcomes::DueResolution>> {
        self.claim_due_resolutions(now, limit, lease_ms, owner)
    }

    fn reclaim_leases(&mut self, owner: &LeaseOwner) -> StoreResult<Reclaimed> {
        self.release_earlier_boots(owner)
    }

    fn foreign_boots(
        &mut self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<String>> {
        self.boots_sharing_instance(owner, now)
    }

    fn finish_callback(
        &mut self,
        event_id: &str,
        a: &CallbackAttempt,
        next: NextStep,
    ) -> StoreResult<()> {
        self.driver.exec(
            "INSERT INTO callback_attempts (event_id, attempt, at, http_status, error, duration_ms,
               response_excerpt, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id, attempt) DO NOTHING",
            &[
                Param::Text(event_id),
                Param::Int(i64::from(a.attempt)),
                Param::Int(a.at.timestamp_millis()),
                Param::OptInt(a.http_status.map(i64::from)),
                Param::OptText(a.error.as_deref()),
                Param::Int(i64::try_from(a.duration_ms).unwrap_or(i64::MAX)),
                Param::OptText(a.response_excerpt.as_deref()),
                Param::OptInt(match next {
                    NextStep::RetryAt(t) => Some(t.timestamp_millis()),
                    _ => None,
                }),
            ],
        )?;
        let (status, next_at, delivered_at) = match next {
            NextStep::Delivered => (
                CallbackStatus::Delivered,
                None,
                Some(a.at.timestamp_millis()),
            ),
            NextStep::RetryAt(t) => (CallbackStatus::Pending, Some(t.timestamp_millis()), None),
            NextStep::Failed => (CallbackStatus::Failed, None, None),
        };
        self.driver.exec(
            "UPDATE callback_events SET status = $2, lease_until = 0,
             next_attempt_at = COALESCE($3, next_attempt_at), delivered_at = COALESCE($4, delivered_at)
             WHERE id = $1",
            &[Param::Text(event_id), Param::Text(status.as_str()), Param::OptInt(next_at), Param::OptInt(delivered_at)],
        )?;
        Ok(())
    }

    fn resend_callback(
        &mut self,
        merchant_id: &str,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let n = self.driver.exec(
            "UPDATE callback_events SET status = 'pending', next_attempt_at = $3, lease_until = 0
             WHERE id = $1 AND merchant_id = $2",
            &[
                Param::Text(event_id),
                Param::Text(merchant_id),
                Param::Int(now.timestamp_millis()),
            ],
        )?;
        Ok(n == 1)
    }

    fn ping(&mut self) -> StoreResult<()> {
        self.one("SELECT 1", &[], |_| Ok(()))?;
        Ok(())
    }

    fn merchant_by_client_id(&mut self, client_id: &str) -> StoreResult<Option<MerchantRecord>> {
        let sql = format!(
            "SELECT {} FROM merchants WHERE client_id = $1",
            rows::MERCHANT_COLUMNS
        );
        self.one(&sql, &[Param::Text(client_id)], rows::merchant)
    }

    fn search_operations(
        &mut self,
        merchant_id: &str,
        search: &Search,
    ) -> StoreResult<Vec<OperationRecord>> {
        self.find_operations(merchant_id, search)
    }

    fn count_operations(
        &mut self,
        merchant_id: &str,
        search: &Search,
        cap: u64,
    ) -> StoreResult<u64> {
        self.count_matching(merchant_id, search, cap)
    }

    fn merchant_by_login(&mut self, login: &str) -> StoreResult<Option<(MerchantRecord, String)>> {
        self.merchant_login(login)
    }

    fn challenge_only(&mut self, operation_id: &str) -> StoreResult<Option<Challenge>> {
        self.challenge_row(operation_id, false)
    }

    fn challenge_view(&mut self, operation_id: &str) -> StoreResult<Option<ChallengeView>> {
        self.challenge_view_rows(operation_id)
    }

    fn merchant_active(&mut self, merchant_id: &str) -> StoreResult<bool> {
        self.merchant_active_row(merchant_id)
    }

    fn merchant_name(&mut self, merchant_id: &str) -> StoreResult<Option<String>> {
        self.one(
            "SELECT name FROM merchants WHERE id = $1",
            &[Param::Text(merchant_id)],
            |r| r.text(0),
        )
    }

    fn merchants(&mut self) -> StoreResult<Vec<MerchantSummary>> {
        self.merchant_list()
    }

    fn invoice_status(
        &mut self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<OperationRecord>> {
        let sql = format!(
            "SELECT {} FROM operations WHERE merchant_id = $1 AND invoice_id = $2
             ORDER BY (status = 'CHARGE') DESC, created_at DESC LIMIT 1",
            rows::OPERATION_COLUMNS
        );
        self.one(
            &sql,
            &[Param::Text(merchant_id), Param::Text(invoice_id)],
            rows::operation,
        )
    }

    fn saved_cards(&mut self, merchant_id: &str, account_id: &str) -> StoreResult<Vec<VaultCard>> {
        let sql = format!(
            "SELECT {} FROM vault_cards WHERE merchant_id = $1 AND account_id = $2 AND active = $3
             ORDER BY created_at",
            rows::VAULT_CARD_COLUMNS
        );
        self.all(
            &sql,
            &[
                Param::Text(merchant_id),
                Param::Text(account_id),
                Param::Bool(true),
            ],
            rows::vault_card,
        )
    }

    fn sandbox_cards(&mut self, merchant_id: &str) -> StoreResult<Vec<SandboxCardView>> {
        self.all(
            rows::SANDBOX_CARD_SELECT,
            &[Param::Text(merchant_id)],
            rows::sandbox_card,
        )
    }

    fn callbacks(
        &mut self,
        merchant_id: &str,
        invoice_id: Option<&str>,
    ) -> StoreResult<Vec<CallbackView>> {
        let sql = format!(
            "SELECT {}, status, next_attempt_at, delivered_at FROM callback_events
             WHERE merchant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR invoice_id = $2)
             ORDER BY created_at DESC, id LIMIT 500",
            rows::EVENT_COLUMNS
        );
        let mut views = self.all(
            &sql,
            &[Param::Text(merchant_id), Param::OptText(invoice_id)],
            |r| {
                let status = rows::callback_status(&r.text(8)?)?;
                let next = r.int(9)?;
                Ok(CallbackView {
                    event: rows::event(r)?,
                    next_attempt_at: (status == CallbackStatus::Pending)
                        .then(|| rows::millis(next)),
                    status,
                    delivered_at: r.opt_int(10)?.map(rows::millis),
                    attempts: Vec::new(),
                })
            },
        )?;
        let sql = format!(
            "SELECT {} FROM callback_attempts WHERE event_id = $1 ORDER BY attempt",
            rows::ATTEMPT_COLUMNS
        );
        for v in views.iter_mut() {
            v.attempts = self.all(&sql, &[Param::Text(&v.event.id)], rows::attempt)?;
        }
        Ok(views)
    }

    fn callback_secret(&mut self, merchant_id: &str) -> StoreResult<Option<String>> {
        self.one(
            "SELECT callback_secret FROM merchants WHERE id = $1",
            &[Param::Text(merchant_id)],
            |r| r.text(0),
        )
    }

    fn oldest_due_callback(&mut self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>> {
        self.oldest_due(now)
    }

    fn key_usage(&mut self) -> StoreResult<Vec<KeyUsage>> {
        crate::sealed::key_usage(self)
    }

    fn sealed_not_under(
        &mut self,
        table: SealedTable,
        key_id: &str,
        after_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<SealedRecord>> {
        crate::sealed::sealed_not_under(self, table, key_id, after_id, limit)
    }

    fn reseal(
        &mut self,
        table: SealedTable,
        changes: &[(SealedRecord, SealedPan)],
    ) -> StoreResult<u64> {
        crate::sealed::reseal(self, table, changes)
    }

    fn ledger_report(&mut self) -> StoreResult<LedgerReport> {
        // A shared account's balance is its own column plus its shard rows.
        let total_minor = self.count(
            "SELECT CAST(SUM(b) AS BIGINT) FROM (SELECT balance AS b FROM accounts
             UNION ALL SELECT balance FROM balance_shards) AS t",
        )?;
        let unbalanced = self.count(
            "SELECT COUNT(*) FROM (SELECT operation_id FROM postings GROUP BY operation_id
             HAVING SUM(amount) <> 0) AS u",
        )?;
        // One pass over the postings: a per-account sub-query would scan them once per account.
        let drifted = self.count(
            "SELECT COUNT(*) FROM accounts a
             LEFT JOIN (SELECT account_id, CAST(SUM(amount) AS BIGINT) AS total FROM postings
                GROUP BY account_id) p ON p.account_id = a.id
             LEFT JOIN (SELECT account_id, CAST(SUM(balance) AS BIGINT) AS total
                FROM balance_shards GROUP BY account_id) s ON s.account_id = a.id
             WHERE a.balance + COALESCE(s.total, 0) <> COALESCE(p.total, 0)",
        )?;
        let negative =
            self.count("SELECT COUNT(*) FROM accounts WHERE kind = 'card' AND balance < 0")?;
        // PostgreSQL has no foreign key from postings to accounts (migration 0008); this
        // checks after the fact what the batch's row count checks as it writes.
        let orphans = self.count(
            "SELECT COUNT(*) FROM postings p
             WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = p.account_id)",
        )?;
        let accounts = self.count("SELECT COUNT(*) FROM accounts")?;
        let postings = self.count("SELECT COUNT(*) FROM postings")?;
        let totals = self.all(
            "SELECT a.kind, a.currency, CAST(SUM(a.balance + COALESCE(s.total, 0)) AS BIGINT)
             FROM accounts a
             LEFT JOIN (SELECT account_id, CAST(SUM(balance) AS BIGINT) AS total
                FROM balance_shards GROUP BY account_id) s ON s.account_id = a.id
             GROUP BY a.kind, a.currency ORDER BY a.kind, a.currency",
            &[],
            |r| {
                Ok(KindTotal {
                    kind: r.text(0)?,
                    currency: r.text(1)?,
                    balance_minor: r.int(2)?,
                })
            },
        )?;
        Ok(LedgerReport {
            balanced: total_minor == 0
                && unbalanced == 0
                && drifted == 0
                && negative == 0
                && orphans == 0,
            total_minor,
            unbalanced_operations: unbalanced as u64,
            drifted_accounts: drifted as u64,
            negative_cards: negative as u64,
            orphan_postings: orphans as u64,
            accounts: accounts as u64,
            postings: postings as u64,
            totals,
        })
    }
}
