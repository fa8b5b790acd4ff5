//! Repository for the `voicemails` table: the messages left in an extension's
//! box (the WAV file's path, who left it, how long it is, whether the owner
//! has heard it). Written by the call that recorded the message; read and
//! marked heard when the owner listens (`*97`).

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{get_bool, QueryContext, Store, StoreError};

pub use crate::events::kept::Voicemail;

const COLUMNS: &str = "id, account_id, box, caller, call_id, path, duration_ms, heard, created_at";

fn decode(row: &AnyRow) -> Result<Voicemail, sqlx::Error> {
    Ok(Voicemail {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        r#box: row.try_get("box")?,
        caller: row.try_get("caller")?,
        call_id: row.try_get("call_id")?,
        path: row.try_get("path")?,
        duration_ms: row.try_get("duration_ms")?,
        heard: get_bool(row, "heard")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn insert_voicemail(&self, v: &Voicemail) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await.op("store a voicemail")?;
        insert_voicemail_on(&mut conn, v).await
    }

    /// The box's messages, oldest first (unheard ones only when `unheard`).
    pub async fn voicemails(
        &self,
        account_id: &str,
        r#box: &str,
        unheard: bool,
    ) -> Result<Vec<Voicemail>, StoreError> {
        let filter = if unheard { " AND heard = $3" } else { "" };
        let sql = format!(
            "SELECT {COLUMNS} FROM voicemails WHERE account_id = $1 AND box = $2{filter} ORDER BY created_at, id"
        );
        let mut q = sqlx::query(&sql).bind(account_id).bind(r#box);
        if unheard {
            q = q.bind(false);
        }
        let rows = q.fetch_all(self.pool()).await.op("list voicemails")?;
        rows.iter()
            .map(decode)
            .collect::<Result<_, _>>()
            .op("decode a voicemail")
    }

    /// One message of `account`'s box, by id.
    pub async fn voicemail(
        &self,
        account_id: &str,
        r#box: &str,
        id: &str,
    ) -> Result<Option<Voicemail>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM voicemails WHERE account_id = $1 AND box = $2 AND id = $3"
        );
        let row = sqlx::query(&sql)
            .bind(account_id)
            .bind(r#box)
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .op("read a voicemail")?;
        row.as_ref()
            .map(decode)
            .transpose()
            .op("decode a voicemail")
    }

    /// Removes a message's row; whether there was one. (Its file is the caller's business.)
    pub async fn delete_voicemail(
        &self,
        account_id: &str,
        r#box: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM voicemails WHERE account_id = $1 AND box = $2 AND id = $3")
                .bind(account_id)
                .bind(r#box)
                .bind(id)
                .execute(self.pool())
                .await
                .op("delete a voicemail")?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn mark_voicemail_heard(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE voicemails SET heard = $1 WHERE id = $2")
            .bind(true)
            .bind(id)
            .execute(self.pool())
            .await
            .op("mark a voicemail heard")?;
        Ok(())
    }
}

/// The insert on a connection of the caller's (the event log writer's transaction).
pub(crate) async fn insert_voicemail_on(
    conn: &mut sqlx::AnyConnection,
    v: &Voicemail,
) -> Result<(), StoreError> {
    let sql =
        format!("INSERT INTO voicemails ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    sqlx::query(&sql)
        .bind(v.id.as_str())
        .bind(v.account_id.as_str())
        .bind(v.r#box.as_str())
        .bind(v.caller.as_str())
        .bind(v.call_id.as_str())
        .bind(v.path.as_str())
        .bind(v.duration_ms)
        .bind(v.heard)
        .bind(v.created_at)
        .execute(&mut *conn)
        .await
        .op("store a voicemail")?;
    Ok(())
}
