//! Repository for the `ivr_audit` table: one row per menu decision of a call
//! (the key pressed, or `timeout`, and where the call went: a node id,
//! `invalid`, or `retries exhausted`). Append-only, like CDRs.

use sqlx::Row;

use super::{QueryContext, Store, StoreError};

pub use crate::events::kept::IvrAudit;

const COLUMNS: &str = "id, account_id, call_id, flow, node, input, outcome, created_at";

impl Store {
    pub async fn insert_ivr_audit(&self, a: &IvrAudit) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await.op("store an IVR decision")?;
        insert_ivr_audit_on(&mut conn, a).await
    }

    /// A call's menu decisions, in order.
    pub async fn ivr_audit_for_call(&self, call_id: &str) -> Result<Vec<IvrAudit>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM ivr_audit WHERE call_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(&sql)
            .bind(call_id)
            .fetch_all(self.pool())
            .await
            .op("list IVR decisions")?;
        rows.iter()
            .map(|r| {
                Ok(IvrAudit {
                    id: r.try_get("id")?,
                    account_id: r.try_get("account_id")?,
                    call_id: r.try_get("call_id")?,
                    flow: r.try_get("flow")?,
                    node: r.try_get("node")?,
                    input: r.try_get("input")?,
                    outcome: r.try_get("outcome")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .op("decode an IVR decision")
    }
}

/// The insert on a connection of the caller's (the event log writer's transaction).
pub(crate) async fn insert_ivr_audit_on(
    conn: &mut sqlx::AnyConnection,
    a: &IvrAudit,
) -> Result<(), StoreError> {
    let sql = format!("INSERT INTO ivr_audit ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    sqlx::query(&sql)
        .bind(a.id.as_str())
        .bind(a.account_id.as_str())
        .bind(a.call_id.as_str())
        .bind(a.flow.as_str())
        .bind(a.node.as_str())
        .bind(a.input.as_str())
        .bind(a.outcome.as_str())
        .bind(a.created_at)
        .execute(&mut *conn)
        .await
        .op("store an IVR decision")?;
    Ok(())
}
