//! The transfer's unit of work on SQLite, and the row mappings shared with the readers.

use crate::sqlite::db_err;
use aqsha_core::card::{Brand, Expiry};
use aqsha_core::fee::FeeSchedule;
use aqsha_core::money::{Currency, Money};
use aqsha_core::sandbox::PreparedSeed;
use aqsha_core::store::{
    CallbackEvent, MerchantRecord, NetworkCard, NewToken, OperationRecord, Posting, SideRecord,
    StoreError, StoreResult, StoredResponse, TerminalRecord, TokenRecord, Tx, VaultCard,
};
use aqsha_core::transfer::external_account;
use aqsha_core::vault::SealedPan;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

pub struct SqliteTx<'c> {
    pub conn: &'c Connection,
}

pub const MERCHANT_COLUMNS: &str = "id, client_id, secret_hash, name";
pub const TERMINAL_COLUMNS: &str = "id, merchant_id, currency, fee_bps, fee_min, fee_account";
pub const TOKEN_COLUMNS: &str = "merchant_id, scope, invoice_id, amount, currency, terminal_id, post_link, failure_post_link, secret_hash, expires_at, spent_by";
pub const NETWORK_CARD_COLUMNS: &str = "id, fingerprint, mask, brand, exp_month, exp_year, cvc_check, locked, enforce_expiry, account_id, currency";
pub const VAULT_CARD_COLUMNS: &str = "id, merchant_id, account_id, fingerprint, key_id, pan_sealed, mask, brand, payer_name, active, created_at, transaction_id, reference, int_reference, terminal_id";
pub const OPERATION_COLUMNS: &str = "id, merchant_id, terminal_id, invoice_id, account_id, amount, fee, currency, description, email, status, reason_code, reason, reference, int_reference, sender_card_id, sender_mask, sender_brand, sender_type, receiver_card_id, receiver_mask, receiver_brand, receiver_type, token_hash, request_digest, http_status, response_body, created_at, post_link, failure_post_link, secret_hash";

fn currency(text: String) -> Currency {
    // Only the store writes these columns, always from a parsed currency.
    Currency::parse(&text).unwrap_or(Currency::Kzt)
}

fn time(text: String) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

pub fn merchant_from_row(r: &Row) -> rusqlite::Result<MerchantRecord> {
    Ok(MerchantRecord {
        id: r.get(0)?,
        client_id: r.get(1)?,
        secret_hash: r.get(2)?,
        name: r.get(3)?,
    })
}

pub fn terminal_from_row(r: &Row) -> rusqlite::Result<TerminalRecord> {
    Ok(TerminalRecord {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        currency: currency(r.get(2)?),
        fee: FeeSchedule {
            percent_bps: r.get(3)?,
            min_fee: Money::from_minor(r.get(4)?),
        },
        fee_account: r.get(5)?,
    })
}

pub fn token_from_row(r: &Row) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        merchant_id: r.get(0)?,
        scope: r.get(1)?,
        invoice_id: r.get(2)?,
        amount: r.get::<_, Option<i64>>(3)?.map(Money::from_minor),
        currency: r.get::<_, Option<String>>(4)?.map(currency),
        terminal_id: r.get(5)?,
        post_link: r.get(6)?,
        failure_post_link: r.get(7)?,
        secret_hash: r.get(8)?,
        expires_at: DateTime::from_timestamp(r.get(9)?, 0).unwrap_or_default(),
        spent_by: r.get(10)?,
    })
}

fn network_card_from_row(r: &Row) -> rusqlite::Result<NetworkCard> {
    let brand: String = r.get(3)?;
    Ok(NetworkCard {
        id: r.get(0)?,
        fingerprint: r.get(1)?,
        mask: r.get(2)?,
        brand: Brand::from_name(&brand),
        expiry: Expiry {
            month: r.get(4)?,
            year: r.get(5)?,
        },
        cvc_check: r.get(6)?,
        locked: r.get(7)?,
        enforce_expiry: r.get(8)?,
        account_id: r.get(9)?,
        currency: currency(r.get(10)?),
    })
}

pub fn vault_card_from_row(r: &Row) -> rusqlite::Result<VaultCard> {
    let brand: String = r.get(7)?;
    Ok(VaultCard {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        account_id: r.get(2)?,
        fingerprint: r.get(3)?,
        sealed: SealedPan {
            key_id: r.get(4)?,
            blob: r.get(5)?,
        },
        mask: r.get(6)?,
        brand: Brand::from_name(&brand),
        payer_name: r.get(8)?,
        active: r.get(9)?,
        created_at: time(r.get(10)?),
        transaction_id: r.get(11)?,
        reference: r.get(12)?,
        int_reference: r.get(13)?,
        terminal_id: r.get(14)?,
    })
}

pub fn operation_from_row(r: &Row) -> rusqlite::Result<OperationRecord> {
    Ok(OperationRecord {
        id: r.get(0)?,
        merchant_id: r.get(1)?,
        terminal_id: r.get(2)?,
        invoice_id: r.get(3)?,
        account_id: r.get(4)?,
        amount: Money::from_minor(r.get(5)?),
        fee: Money::from_minor(r.get(6)?),
        currency: r.get(7)?,
        description: r.get(8)?,
        email: r.get(9)?,
        status: r.get(10)?,
        reason_code: r.get(11)?,
        reason: r.get(12)?,
        reference: r.get(13)?,
        int_reference: r.get(14)?,
        sender: SideRecord {
            card_id: r.get(15)?,
            mask: r.get(16)?,
            brand: r.get(17)?,
            transfer_type: r.get(18)?,
        },
        receiver: SideRecord {
            card_id: r.get(19)?,
            mask: r.get(20)?,
            brand: r.get(21)?,
            transfer_type: r.get(22)?,
        },
        token_hash: r.get(23)?,
        request_digest: r.get(24)?,
        http_status: r.get(25)?,
        response_body: r.get(26)?,
        created_at: time(r.get(27)?),
        post_link: r.get(28)?,
        failure_post_link: r.get(29)?,
        secret_hash: r.get(30)?,
    })
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl SqliteTx<'_> {
    pub fn insert_token(&mut self, t: &NewToken) -> StoreResult<()> {
        let r = &t.record;
        self.conn
            .prepare_cached(
                "INSERT INTO tokens (hash, merchant_id, scope, invoice_id, amount, currency, terminal_id,
                 post_link, failure_post_link, secret_hash, expires_at, spent_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL)",
            )
            .map_err(db_err)?
            .execute(params![
                t.hash,
                r.merchant_id,
                r.scope,
                r.invoice_id,
                r.amount.map(Money::minor),
                r.currency.map(Currency::code),
                r.terminal_id,
                r.post_link,
                r.failure_post_link,
                r.secret_hash,
                r.expires_at.timestamp(),
            ])
            .map_err(db_err)?;
        Ok(())
    }

    fn ensure_account(&mut self, id: &str, kind: &str, currency: Currency) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO accounts (id, kind, currency, balance) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (id) DO NOTHING",
            )
            .map_err(db_err)?
            .execute(params![id, kind, currency.code()])
            .map_err(db_err)?;
        Ok(())
    }

    /// See [`aqsha_core::store::Store::install`].
    pub fn install(&mut self, seed: &PreparedSeed) -> StoreResult<bool> {
        let now = rfc3339(Utc::now());
        if let Some(marker) = &seed.marker {
            let inserted = self
                .conn
                .execute(
                    "INSERT INTO seed_markers (marker, applied_at) VALUES (?1, ?2) ON CONFLICT (marker) DO NOTHING",
                    params![marker, now],
                )
                .map_err(db_err)?;
            if inserted == 0 {
                return Ok(false);
            }
        }
        for c in [Currency::Kzt, Currency::Usd] {
            self.ensure_account(&external_account(c), "external", c)?;
            self.ensure_account(&funding_account(c), "funding", c)?;
        }
        for m in &seed.merchants {
            let r = &m.record;
            self.conn
                .execute(
                    "INSERT INTO merchants (id, client_id, secret_hash, name, cabinet_email,
                     cabinet_password_hash, callback_secret, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        r.id,
                        r.client_id,
                        r.secret_hash,
                        r.name,
                        m.cabinet_email,
                        m.cabinet_password_hash,
                        m.callback_secret,
                        now
                    ],
                )
                .map_err(db_err)?;
            for t in &m.terminals {
                self.ensure_account(&t.fee_account, "fee", t.currency)?;
                self.conn
                    .execute(
                        "INSERT INTO terminals (id, merchant_id, currency, fee_bps, fee_min, fee_account)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![t.id, t.merchant_id, t.currency.code(), t.fee.percent_bps,
                            t.fee.min_fee.minor(), t.fee_account],
                    )
                    .map_err(db_err)?;
            }
        }
        for n in &seed.cards {
            let c = &n.card;
            self.ensure_account(&c.account_id, "card", c.currency)?;
            self.conn
                .execute(
                    "INSERT INTO network_cards (id, fingerprint, key_id, pan_sealed, mask, brand, exp_month,
                     exp_year, cvc_check, locked, enforce_expiry, account_id, currency, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                    params![c.id, c.fingerprint, n.sealed.key_id, n.sealed.blob, c.mask, c.brand.name(),
                        c.expiry.month, c.expiry.year, c.cvc_check, c.locked, c.enforce_expiry,
                        c.account_id, c.currency.code(), now],
                )
                .map_err(db_err)?;
            if n.opening_balance > Money::ZERO {
                // Money enters the sandbox through the funding account, as a balanced operation.
                let op = format!("funding:{}", c.id);
                let postings = [
                    Posting {
                        account_id: funding_account(c.currency),
                        amount: Money::from_minor(-n.opening_balance.minor()),
                    },
                    Posting {
                        account_id: c.account_id.clone(),
                        amount: n.opening_balance,
                    },
                ];
                self.post(&op, &postings)?;
            }
        }
        for v in &seed.vault_cards {
            self.put_vault_card(v)?;
        }
        Ok(true)
    }
}

pub fn funding_account(c: Currency) -> String {
    format!("funding:{}", c.code())
}

impl Tx for SqliteTx<'_> {
    fn token(&mut self, hash: &str) -> StoreResult<Option<TokenRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1"
            ))
            .map_err(db_err)?
            .query_row([hash], token_from_row)
            .optional()
            .map_err(db_err)
    }

    fn spend_token(&mut self, hash: &str, operation_id: &str) -> StoreResult<()> {
        let n = self
            .conn
            .prepare_cached("UPDATE tokens SET spent_by = ?2 WHERE hash = ?1 AND spent_by IS NULL")
            .map_err(db_err)?
            .execute([hash, operation_id])
            .map_err(db_err)?;
        if n != 1 {
            return Err(StoreError::Invariant("token was spent concurrently".into()));
        }
        Ok(())
    }

    fn terminal(&mut self, id: &str) -> StoreResult<Option<TerminalRecord>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {TERMINAL_COLUMNS} FROM terminals WHERE id = ?1"
            ))
            .map_err(db_err)?
            .query_row([id], terminal_from_row)
            .optional()
            .map_err(db_err)
    }

    fn network_card(&mut self, fingerprint: &str) -> StoreResult<Option<NetworkCard>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {NETWORK_CARD_COLUMNS} FROM network_cards WHERE fingerprint = ?1"
            ))
            .map_err(db_err)?
            .query_row([fingerprint], network_card_from_row)
            .optional()
            .map_err(db_err)
    }

    fn vault_card(&mut self, id: &str) -> StoreResult<Option<VaultCard>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {VAULT_CARD_COLUMNS} FROM vault_cards WHERE id = ?1"
            ))
            .map_err(db_err)?
            .query_row([id], vault_card_from_row)
            .optional()
            .map_err(db_err)
    }

    fn vault_card_for(
        &mut self,
        merchant_id: &str,
        account_id: &str,
        fingerprint: &str,
    ) -> StoreResult<Option<VaultCard>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {VAULT_CARD_COLUMNS} FROM vault_cards
                 WHERE merchant_id = ?1 AND account_id = ?2 AND fingerprint = ?3"
            ))
            .map_err(db_err)?
            .query_row([merchant_id, account_id, fingerprint], vault_card_from_row)
            .optional()
            .map_err(db_err)
    }

    fn put_vault_card(&mut self, c: &VaultCard) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO vault_cards (id, merchant_id, account_id, fingerprint, key_id, pan_sealed, mask,
                 brand, payer_name, active, created_at, transaction_id, reference, int_reference, terminal_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (id) DO UPDATE SET active = excluded.active, payer_name = excluded.payer_name,
                 key_id = excluded.key_id, pan_sealed = excluded.pan_sealed,
                 transaction_id = excluded.transaction_id, reference = excluded.reference,
                 int_reference = excluded.int_reference, terminal_id = excluded.terminal_id",
            )
            .map_err(db_err)?
            .execute(params![
                c.id,
                c.merchant_id,
                c.account_id,
                c.fingerprint,
                c.sealed.key_id,
                c.sealed.blob,
                c.mask,
                c.brand.name(),
                c.payer_name,
                c.active,
                rfc3339(c.created_at),
                c.transaction_id,
                c.reference,
                c.int_reference,
                c.terminal_id,
            ])
            .map_err(db_err)?;
        Ok(())
    }

    fn operation_response(
        &mut self,
        operation_id: &str,
    ) -> StoreResult<Option<(String, StoredResponse)>> {
        self.conn
            .prepare_cached(
                "SELECT request_digest, http_status, response_body FROM operations WHERE id = ?1",
            )
            .map_err(db_err)?
            .query_row([operation_id], |r| {
                Ok((
                    r.get(0)?,
                    StoredResponse {
                        http_status: r.get(1)?,
                        body: r.get(2)?,
                    },
                ))
            })
            .optional()
            .map_err(db_err)
    }

    fn charged_operation(
        &mut self,
        merchant_id: &str,
        invoice_id: &str,
    ) -> StoreResult<Option<(String, String, StoredResponse)>> {
        self.conn
            .prepare_cached(
                "SELECT id, request_digest, http_status, response_body FROM operations
                 WHERE merchant_id = ?1 AND invoice_id = ?2 AND status = 'CHARGE'",
            )
            .map_err(db_err)?
            .query_row([merchant_id, invoice_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    StoredResponse {
                        http_status: r.get(2)?,
                        body: r.get(3)?,
                    },
                ))
            })
            .optional()
            .map_err(db_err)
    }

    fn invoice_tail_taken(
        &mut self,
        terminal_id: &str,
        day: &str,
        tail: &str,
        invoice_id: &str,
    ) -> StoreResult<bool> {
        self.conn
            .prepare_cached(
                "SELECT 1 FROM operations WHERE terminal_id = ?1 AND day = ?2 AND invoice_tail = ?3
                 AND status = 'CHARGE' AND invoice_id <> ?4 LIMIT 1",
            )
            .map_err(db_err)?
            .query_row([terminal_id, day, tail, invoice_id], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(db_err)
    }

    fn balance(&mut self, account_id: &str) -> StoreResult<Money> {
        self.conn
            .prepare_cached("SELECT balance FROM accounts WHERE id = ?1")
            .map_err(db_err)?
            .query_row([account_id], |r| r.get::<_, i64>(0))
            .optional()
            .map_err(db_err)?
            .map(Money::from_minor)
            .ok_or_else(|| StoreError::Invariant(format!("no ledger account {account_id}")))
    }

    fn post(&mut self, operation_id: &str, postings: &[Posting]) -> StoreResult<()> {
        let sum: i64 = postings.iter().map(|p| p.amount.minor()).sum();
        if sum != 0 {
            return Err(StoreError::Invariant(format!(
                "postings of {operation_id} sum to {sum}, not zero"
            )));
        }
        for p in postings {
            let n = self
                .conn
                .prepare_cached("UPDATE accounts SET balance = balance + ?2 WHERE id = ?1")
                .map_err(db_err)?
                .execute(params![p.account_id, p.amount.minor()])
                .map_err(db_err)?;
            if n != 1 {
                return Err(StoreError::Invariant(format!(
                    "no ledger account {}",
                    p.account_id
                )));
            }
            self.conn
                .prepare_cached(
                    "INSERT INTO postings (operation_id, account_id, amount) VALUES (?1, ?2, ?3)",
                )
                .map_err(db_err)?
                .execute(params![operation_id, p.account_id, p.amount.minor()])
                .map_err(db_err)?;
        }
        Ok(())
    }

    fn insert_operation(&mut self, op: &OperationRecord) -> StoreResult<()> {
        let tail = op
            .invoice_id
            .get(op.invoice_id.len().saturating_sub(6)..)
            .unwrap_or("")
            .to_string();
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO operations ({OPERATION_COLUMNS}, day, invoice_tail) VALUES
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                  ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33)"
            ))
            .map_err(db_err)?
            .execute(params![
                op.id,
                op.merchant_id,
                op.terminal_id,
                op.invoice_id,
                op.account_id,
                op.amount.minor(),
                op.fee.minor(),
                op.currency,
                op.description,
                op.email,
                op.status,
                op.reason_code,
                op.reason,
                op.reference,
                op.int_reference,
                op.sender.card_id,
                op.sender.mask,
                op.sender.brand,
                op.sender.transfer_type,
                op.receiver.card_id,
                op.receiver.mask,
                op.receiver.brand,
                op.receiver.transfer_type,
                op.token_hash,
                op.request_digest,
                op.http_status,
                op.response_body,
                rfc3339(op.created_at),
                op.post_link,
                op.failure_post_link,
                op.secret_hash,
                op.created_at.format("%Y-%m-%d").to_string(),
                tail,
            ])
            .map_err(db_err)?;
        Ok(())
    }

    fn insert_callback(&mut self, e: &CallbackEvent) -> StoreResult<()> {
        let at = e.created_at.timestamp_millis();
        self.conn
            .prepare_cached(
                "INSERT INTO callback_events (id, merchant_id, operation_id, invoice_id, url, kind, body,
                 status, attempts, created_at, next_attempt_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8, ?8)",
            )
            .map_err(db_err)?
            .execute(params![e.id, e.merchant_id, e.operation_id, e.invoice_id, e.url, e.kind, e.body, at])
            .map_err(db_err)?;
        Ok(())
    }

    fn next_reference(&mut self) -> StoreResult<String> {
        let v: i64 = self
            .conn
            .prepare_cached(
                "UPDATE counters SET value = value + 1 WHERE name = 'reference' RETURNING value",
            )
            .map_err(db_err)?
            .query_row([], |r| r.get(0))
            .map_err(db_err)?;
        Ok(format!("{v:012}"))
    }
}
