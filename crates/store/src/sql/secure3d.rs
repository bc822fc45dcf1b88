//! 3-D Secure challenges (`transfer::secure3d`): the rows of `secure3d_challenges`, and what
//! the ACS page reads of one.

use super::{Driver, Param, SqlConn};
use crate::rows;
use aqsha_core::records::Challenge;
use aqsha_core::store::{ChallengeView, StoreError, StoreResult, Tx};

impl<D: Driver> SqlConn<D> {
    pub(super) fn insert_challenge_row(&mut self, c: &Challenge) -> StoreResult<()> {
        self.driver.exec(
            "INSERT INTO secure3d_challenges (operation_id, merchant_id, pa_req, wrong_codes,
             result, expires_at, back_link, failure_back_link)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                Param::Text(&c.operation_id),
                Param::Text(&c.merchant_id),
                Param::Text(&c.pa_req),
                Param::Int(i64::from(c.wrong_codes)),
                Param::OptInt(c.result.map(i64::from)),
                Param::Int(c.expires_at.timestamp_millis()),
                Param::Text(&c.back_link),
                Param::Text(&c.failure_back_link),
            ],
        )?;
        Ok(())
    }

    /// The challenge, locked for the transaction on PostgreSQL (`lock`), so that answers to
    /// it on two instances are counted one after the other.
    pub(super) fn challenge_row(
        &mut self,
        operation_id: &str,
        lock: bool,
    ) -> StoreResult<Option<Challenge>> {
        let sql = format!(
            "SELECT {} FROM secure3d_challenges WHERE operation_id = $1{}",
            rows::CHALLENGE_COLUMNS,
            if lock { D::FOR_UPDATE } else { "" }
        );
        self.one(&sql, &[Param::Text(operation_id)], rows::challenge)
    }

    pub(super) fn update_challenge_row(&mut self, c: &Challenge) -> StoreResult<()> {
        let n = self.driver.exec(
            "UPDATE secure3d_challenges SET wrong_codes = $2, result = $3 WHERE operation_id = $1",
            &[
                Param::Text(&c.operation_id),
                Param::Int(i64::from(c.wrong_codes)),
                Param::OptInt(c.result.map(i64::from)),
            ],
        )?;
        if n != 1 {
            return Err(StoreError::Invariant(format!(
                "no challenge for operation {}",
                c.operation_id
            )));
        }
        Ok(())
    }

    /// A challenge with its operation and its merchant's name, for the ACS page.
    pub(super) fn challenge_view_rows(
        &mut self,
        operation_id: &str,
    ) -> StoreResult<Option<ChallengeView>> {
        let Some(challenge) = self.challenge_row(operation_id, false)? else {
            return Ok(None);
        };
        let Some(operation) = self.operation(operation_id)? else {
            return Ok(None);
        };
        let merchant_name = self
            .one(
                "SELECT name FROM merchants WHERE id = $1",
                &[Param::Text(&challenge.merchant_id)],
                |r| r.text(0),
            )?
            .unwrap_or_default();
        Ok(Some(ChallengeView {
            challenge,
            operation,
            merchant_name,
        }))
    }
}
