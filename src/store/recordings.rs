//! Repository for the `recordings` table: one row per WAV file the switch wrote for a call.
//!
//! Append-only, like CDRs: the recorder inserts a row once the file is closed, and callers
//! list a call's recordings. Must not touch the files themselves (writing, measuring or
//! deleting them is the media layer's job); it stores what it is given.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{narrow, QueryContext, Store, StoreError};

pub use crate::events::kept::Recording;

const COLUMNS: &str =
    "id, account_id, call_id, channel_id, path, duration_ms, size_bytes, rate, created_at";

impl Recording {
    fn from_row(row: &AnyRow) -> Result<Recording, StoreError> {
        let decode = |source| StoreError::Query {
            op: "decode a recording",
            source,
        };
        let rate: i64 = row.try_get("rate").map_err(decode)?;
        Ok(Recording {
            id: row.try_get("id").map_err(decode)?,
            account_id: row.try_get("account_id").map_err(decode)?,
            call_id: row.try_get("call_id").map_err(decode)?,
            channel_id: row.try_get("channel_id").map_err(decode)?,
            path: row.try_get("path").map_err(decode)?,
            duration_ms: row.try_get("duration_ms").map_err(decode)?,
            size_bytes: row.try_get("size_bytes").map_err(decode)?,
            rate: narrow(rate, "recordings", "rate")?,
            created_at: row.try_get("created_at").map_err(decode)?,
        })
    }
}

impl Store {
    pub async fn insert_recording(&self, recording: &Recording) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await.op("insert a recording")?;
        insert_recording_on(&mut conn, recording).await
    }

    /// The recordings of one call, oldest first.
    pub async fn recordings_for_call(&self, call_id: &str) -> Result<Vec<Recording>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM recordings WHERE call_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(&sql)
            .bind(call_id)
            .fetch_all(self.pool())
            .await
            .op("list a call's recordings")?;
        rows.iter().map(Recording::from_row).collect()
    }
}

/// The insert on a connection of the caller's (the event log writer's transaction).
pub(crate) async fn insert_recording_on(
    conn: &mut sqlx::AnyConnection,
    recording: &Recording,
) -> Result<(), StoreError> {
    let rate = i32::try_from(recording.rate).map_err(|_| StoreError::BadValue {
        table: "recordings",
        column: "rate",
        value: recording.rate.to_string(),
    })?;
    let sql =
        format!("INSERT INTO recordings ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    sqlx::query(&sql)
        .bind(recording.id.as_str())
        .bind(recording.account_id.as_str())
        .bind(recording.call_id.as_str())
        .bind(recording.channel_id.as_str())
        .bind(recording.path.as_str())
        .bind(recording.duration_ms)
        .bind(recording.size_bytes)
        .bind(rate)
        .bind(recording.created_at)
        .execute(&mut *conn)
        .await
        .op("insert a recording")?;
    Ok(())
}
