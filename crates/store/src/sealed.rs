//! Key rotation's queries: which keys seal the stored card numbers, and re-sealing them.
//!
//! Card rows are walked in id order from a cursor (`id > $2`), so a pass over a large table
//! reads each row once through the primary key, needs no index on `key_id`, and can stop and
//! start again anywhere: rows already under the active key are simply not selected again.

use crate::sql::{Driver, Param, SqlConn};
use aqsha_core::records::{SealedRecord, SealedTable};
use aqsha_core::store::{KeyUsage, StoreError, StoreResult};
use aqsha_core::vault::SealedPan;

pub fn key_usage<D: Driver>(c: &mut SqlConn<D>) -> StoreResult<Vec<KeyUsage>> {
    let mut out = Vec::new();
    for table in SealedTable::ALL {
        let sql = format!(
            "SELECT key_id, COUNT(*) FROM {} GROUP BY key_id ORDER BY key_id",
            table.name()
        );
        c.driver.query(&sql, &[], &mut |r| {
            let records =
                u64::try_from(r.int(1)?).map_err(|_| StoreError::Db("negative count".into()))?;
            out.push(KeyUsage {
                table,
                key_id: r.text(0)?,
                records,
            });
            Ok(())
        })?;
    }
    Ok(out)
}

pub fn sealed_not_under<D: Driver>(
    c: &mut SqlConn<D>,
    table: SealedTable,
    key_id: &str,
    after_id: &str,
    limit: usize,
) -> StoreResult<Vec<SealedRecord>> {
    let sql = format!(
        "SELECT id, key_id, pan_sealed FROM {} WHERE key_id <> $1 AND id > $2 ORDER BY id LIMIT $3",
        table.name()
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    c.driver.query(
        &sql,
        &[
            Param::Text(key_id),
            Param::Text(after_id),
            Param::Int(limit),
        ],
        &mut |r| {
            out.push(SealedRecord {
                id: r.text(0)?,
                sealed: SealedPan {
                    key_id: r.text(1)?,
                    blob: r.blob(2)?,
                },
            });
            Ok(())
        },
    )?;
    Ok(out)
}

pub fn reseal<D: Driver>(
    c: &mut SqlConn<D>,
    table: SealedTable,
    changes: &[(SealedRecord, SealedPan)],
) -> StoreResult<u64> {
    let sql = format!(
        "UPDATE {} SET key_id = $1, pan_sealed = $2
         WHERE id = $3 AND key_id = $4 AND pan_sealed = $5",
        table.name()
    );
    let mut n = 0;
    for (old, new) in changes {
        n += c.driver.exec(
            &sql,
            &[
                Param::Text(&new.key_id),
                Param::Blob(&new.blob),
                Param::Text(&old.id),
                Param::Text(&old.sealed.key_id),
                Param::Blob(&old.sealed.blob),
            ],
        )?;
    }
    Ok(n)
}
