//! Repository for the `registrations` table: the durable copy of the registrar's bindings.
//!
//! The registrar keeps the live bindings in memory and a write-behind task flushes them
//! here in batches, so `upsert_registrations` is the hot path: one transaction, multi-row
//! `INSERT … ON CONFLICT DO UPDATE` statements of up to [`UPSERT_CHUNK`] rows. This file
//! must not decide expiry: callers pass `now_ms`, and only rows with `expires_at > now_ms`
//! count as live.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{QueryContext, Store, StoreError};

/// One stored binding of a contact to an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRow {
    pub account_id: String,
    pub extension: String,
    /// The full Contact URI, e.g. `sip:1001@192.0.2.10:5060;transport=udp`.
    pub contact: String,
    /// Unix milliseconds after which the binding is gone.
    pub expires_at: i64,
    pub call_id: String,
    pub cseq: i64,
    /// Where the REGISTER came from: `udp:1.2.3.4:5060` or `tcp:1.2.3.4:5060#connid`.
    pub source: String,
    pub user_agent: Option<String>,
    /// The `+sip.instance` value, when the UA sent one.
    pub instance: Option<String>,
}

/// Rows per multi-row upsert statement: 9 parameters each, far below SQLite's 32766 and
/// PostgreSQL's 65535 bind-parameter limits.
pub const UPSERT_CHUNK: usize = 256;

/// Statement sizes a batch is cut into (largest first).
const CHUNK_SIZES: [usize; 5] = [UPSERT_CHUNK, 64, 16, 4, 1];

const COLUMNS: &str =
    "account_id, extension, contact, expires_at, call_id, cseq, source, user_agent, instance";
const COLUMN_COUNT: usize = 9;

impl RegistrationRow {
    fn from_row(row: &AnyRow) -> Result<RegistrationRow, sqlx::Error> {
        Ok(RegistrationRow {
            account_id: row.try_get("account_id")?,
            extension: row.try_get("extension")?,
            contact: row.try_get("contact")?,
            expires_at: row.try_get("expires_at")?,
            call_id: row.try_get("call_id")?,
            cseq: row.try_get("cseq")?,
            source: row.try_get("source")?,
            user_agent: row.try_get("user_agent")?,
            instance: row.try_get("instance")?,
        })
    }
}

/// The SQL text of an upsert of `rows` rows (placeholders `$1 … $(9*rows)`).
fn upsert_sql(rows: usize) -> String {
    let mut sql = String::with_capacity(200 + rows * 60);
    sql.push_str("INSERT INTO registrations (");
    sql.push_str(COLUMNS);
    sql.push_str(") VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..COLUMN_COUNT {
            if c > 0 {
                sql.push(',');
            }
            sql.push('$');
            sql.push_str(&(r * COLUMN_COUNT + c + 1).to_string());
        }
        sql.push(')');
    }
    sql.push_str(
        " ON CONFLICT (account_id, extension, contact) DO UPDATE SET \
         expires_at = excluded.expires_at, call_id = excluded.call_id, cseq = excluded.cseq, \
         source = excluded.source, user_agent = excluded.user_agent, \
         instance = excluded.instance",
    );
    sql
}

/// Keeps the last row for each key, in first-seen order. PostgreSQL refuses a multi-row
/// upsert that touches the same key twice, and the last write is the one that counts.
fn dedup_last(rows: &[RegistrationRow]) -> Vec<&RegistrationRow> {
    let mut slot: HashMap<(&str, &str, &str), usize> = HashMap::with_capacity(rows.len());
    let mut out: Vec<&RegistrationRow> = Vec::with_capacity(rows.len());
    for row in rows {
        let key = (
            row.account_id.as_str(),
            row.extension.as_str(),
            row.contact.as_str(),
        );
        match slot.get(&key) {
            Some(&i) => out[i] = row,
            None => {
                slot.insert(key, out.len());
                out.push(row);
            }
        }
    }
    out
}

impl Store {
    /// Inserts or refreshes a batch of bindings in one transaction.
    pub async fn upsert_registrations(&self, rows: &[RegistrationRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = dedup_last(rows);
        let mut tx = self.pool().begin().await.op("begin a registration batch")?;
        // Only a few fixed statement sizes, so every statement text is prepared once
        // and then served from the connection's statement cache.
        let mut rest: &[&RegistrationRow] = &rows;
        while !rest.is_empty() {
            let n = CHUNK_SIZES
                .iter()
                .copied()
                .find(|&c| c <= rest.len())
                .unwrap_or(1);
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let sql = upsert_sql(n);
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query
                    .bind(row.account_id.as_str())
                    .bind(row.extension.as_str())
                    .bind(row.contact.as_str())
                    .bind(row.expires_at)
                    .bind(row.call_id.as_str())
                    .bind(row.cseq)
                    .bind(row.source.as_str())
                    .bind(row.user_agent.as_deref())
                    .bind(row.instance.as_deref());
            }
            query.execute(&mut *tx).await.op("upsert registrations")?;
        }
        tx.commit().await.op("commit a registration batch")?;
        Ok(())
    }

    /// Removes one binding. Returns whether it existed.
    pub async fn delete_registration(
        &self,
        account_id: &str,
        extension: &str,
        contact: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM registrations WHERE account_id = $1 AND extension = $2 AND contact = $3",
        )
        .bind(account_id)
        .bind(extension)
        .bind(contact)
        .execute(self.pool())
        .await
        .op("delete a registration")?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes every binding of an extension (`Contact: *`). Returns how many went.
    pub async fn delete_registrations_for(
        &self,
        account_id: &str,
        extension: &str,
    ) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM registrations WHERE account_id = $1 AND extension = $2")
                .bind(account_id)
                .bind(extension)
                .execute(self.pool())
                .await
                .op("delete an extension's registrations")?;
        Ok(done.rows_affected())
    }

    /// Every binding still live at `now_ms`, ordered by key (for the registrar's warm start).
    pub async fn load_registrations(
        &self,
        now_ms: i64,
    ) -> Result<Vec<RegistrationRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM registrations WHERE expires_at > $1 \
             ORDER BY account_id, extension, contact"
        );
        let rows = sqlx::query(&sql)
            .bind(now_ms)
            .fetch_all(self.pool())
            .await
            .op("load registrations")?;
        rows.iter()
            .map(RegistrationRow::from_row)
            .collect::<Result<_, _>>()
            .op("decode a registration")
    }

    /// Deletes every binding expired at `now_ms`. Returns how many went.
    pub async fn purge_expired_registrations(&self, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM registrations WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(self.pool())
            .await
            .op("purge expired registrations")?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn row(contact: &str, cseq: i64) -> RegistrationRow {
        RegistrationRow {
            account_id: "a".into(),
            extension: "1001".into(),
            contact: contact.into(),
            expires_at: 0,
            call_id: "c".into(),
            cseq,
            source: "udp:127.0.0.1:5060".into(),
            user_agent: None,
            instance: None,
        }
    }

    #[test]
    fn upsert_sql_numbers_every_placeholder() {
        let sql = upsert_sql(2);
        assert!(sql.contains("($1,$2,$3,$4,$5,$6,$7,$8,$9),($10,"));
        assert!(sql.contains("$18)"));
        assert!(!sql.contains("$19"));
    }

    #[test]
    fn dedup_keeps_last_write_in_first_seen_order() {
        let rows = [row("x", 1), row("y", 1), row("x", 2)];
        let out = dedup_last(&rows);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].contact.as_str(), out[0].cseq), ("x", 2));
        assert_eq!(out[1].contact, "y");
    }
}
