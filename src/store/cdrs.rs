//! Repository for the `cdrs` table: one call detail record per finished call.
//!
//! Append-only: CDRs are inserted once when a call ends and listed for reporting. This
//! file must not compute durations or classify hang-ups; the call task fills in the
//! record and this file stores it as given.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{QueryContext, Store, StoreError};

pub use crate::events::kept::{Cdr, CdrDirection};

const COLUMNS: &str = "id, call_id, account_id, caller, callee, direction, started_at, \
     answered_at, ended_at, duration_ms, billsec_ms, hangup_cause, a_leg, b_leg, answered_by";

impl Cdr {
    fn from_row(row: &AnyRow) -> Result<Cdr, StoreError> {
        let decode = |e| StoreError::Query {
            op: "decode a CDR",
            source: e,
        };
        let direction: String = row.try_get("direction").map_err(decode)?;
        Ok(Cdr {
            id: row.try_get("id").map_err(decode)?,
            call_id: row.try_get("call_id").map_err(decode)?,
            account_id: row.try_get("account_id").map_err(decode)?,
            caller: row.try_get("caller").map_err(decode)?,
            callee: row.try_get("callee").map_err(decode)?,
            direction: direction.parse().map_err(|()| StoreError::BadValue {
                table: "cdrs",
                column: "direction",
                value: direction.clone(),
            })?,
            started_at: row.try_get("started_at").map_err(decode)?,
            answered_at: row.try_get("answered_at").map_err(decode)?,
            ended_at: row.try_get("ended_at").map_err(decode)?,
            duration_ms: row.try_get("duration_ms").map_err(decode)?,
            billsec_ms: row.try_get("billsec_ms").map_err(decode)?,
            hangup_cause: row.try_get("hangup_cause").map_err(decode)?,
            a_leg: row.try_get("a_leg").map_err(decode)?,
            b_leg: row.try_get("b_leg").map_err(decode)?,
            answered_by: row.try_get("answered_by").map_err(decode)?,
        })
    }
}

impl Store {
    pub async fn insert_cdr(&self, cdr: &Cdr) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await.op("insert a CDR")?;
        insert_cdr_on(&mut conn, cdr).await
    }

    /// The record of the call whose id (the switch's, not a SIP Call-ID) is `id`, once it is over.
    pub async fn cdr(&self, id: &str) -> Result<Option<Cdr>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM cdrs WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .op("look up a CDR")?;
        row.as_ref().map(Cdr::from_row).transpose()
    }

    /// The most recent `limit` CDRs, newest first.
    pub async fn list_cdrs(&self, limit: u32) -> Result<Vec<Cdr>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM cdrs ORDER BY started_at DESC, id DESC LIMIT $1");
        let rows = sqlx::query(&sql)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .op("list CDRs")?;
        rows.iter().map(Cdr::from_row).collect()
    }

    /// The newest detail records of calls `extension` of `account` made, was
    /// called on, or answered (from a queue or a ring group).
    pub async fn list_cdrs_for(
        &self,
        account: &str,
        extension: &str,
        limit: u32,
    ) -> Result<Vec<Cdr>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM cdrs WHERE account_id = $1 \
             AND (caller = $2 OR callee = $2 OR answered_by = $2) \
             ORDER BY started_at DESC, id DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(account)
            .bind(extension)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .op("list an extension's CDRs")?;
        rows.iter().map(Cdr::from_row).collect()
    }
}

/// The insert on a connection of the caller's (the event log writer's transaction).
pub(crate) async fn insert_cdr_on(
    conn: &mut sqlx::AnyConnection,
    cdr: &Cdr,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO cdrs ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    );
    sqlx::query(&sql)
        .bind(cdr.id.as_str())
        .bind(cdr.call_id.as_str())
        .bind(cdr.account_id.as_str())
        .bind(cdr.caller.as_str())
        .bind(cdr.callee.as_str())
        .bind(cdr.direction.as_str())
        .bind(cdr.started_at)
        .bind(cdr.answered_at)
        .bind(cdr.ended_at)
        .bind(cdr.duration_ms)
        .bind(cdr.billsec_ms)
        .bind(cdr.hangup_cause.as_str())
        .bind(cdr.a_leg.as_str())
        .bind(cdr.b_leg.as_deref())
        .bind(cdr.answered_by.as_deref())
        .execute(&mut *conn)
        .await
        .op("insert a CDR")?;
    Ok(())
}
