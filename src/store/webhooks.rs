//! The webhook tables: `webhooks` (subscriptions, with each one's delivery
//! cursor, sealed secret and failure count), `webhook_pending` (deliveries
//! waiting for a retry, held behind an earlier event of their call, or asked
//! to be replayed) and `webhook_attempts` (the attempts log, written in
//! batches). Plain rows: the `webhooks` module reads them into its types.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{get_bool, QueryContext, Store, StoreError};

/// One stored subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub uri: String,
    pub hook: String,
    pub http_verb: String,
    pub format: String,
    pub retries: i64,
    pub enabled: bool,
    pub include_subaccounts: bool,
    /// JSON object.
    pub custom_data: String,
    /// JSON `{"action": [..], "type": [..]}`.
    pub modifiers: String,
    /// Sealed.
    pub secret: String,
    pub old_secret: Option<String>,
    pub old_secret_until: Option<i64>,
    pub disabled_reason: Option<String>,
    pub failures: i64,
    pub cursor: u64,
    pub created_at: i64,
    pub modified_at: i64,
}

/// One delivery waiting in `webhook_pending`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRow {
    pub event_seq: u64,
    pub order_key: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due; `None`: after the event before it in its lane.
    pub due_at: Option<i64>,
    pub replay: bool,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttemptRow {
    pub id: String,
    pub webhook_id: String,
    pub account_id: String,
    pub event_seq: u64,
    pub event_name: String,
    pub attempt: u32,
    pub at: i64,
    /// `success` or `failure`.
    pub result: String,
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The start of the receiver's answer.
    pub response: Option<String>,
    pub retries_left: u32,
}

const COLUMNS: &str = "id, account_id, name, uri, hook, http_verb, format, retries, enabled, \
    include_subaccounts, custom_data, modifiers, secret, old_secret, old_secret_until, \
    disabled_reason, failures, cursor, created_at, modified_at";

const ATTEMPT_COLUMNS: &str = "id, webhook_id, account_id, event_seq, event_name, attempt, at, \
    result, status_code, latency_ms, error, response, retries_left";

/// Attempt rows per INSERT (13 binds each).
const ATTEMPTS_PER_STATEMENT: usize = 60;

impl Store {
    pub async fn insert_webhook(&self, w: &WebhookRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO webhooks ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
        ))
        .bind(w.id.as_str())
        .bind(w.account_id.as_str())
        .bind(w.name.as_str())
        .bind(w.uri.as_str())
        .bind(w.hook.as_str())
        .bind(w.http_verb.as_str())
        .bind(w.format.as_str())
        .bind(w.retries)
        .bind(w.enabled)
        .bind(w.include_subaccounts)
        .bind(w.custom_data.as_str())
        .bind(w.modifiers.as_str())
        .bind(w.secret.as_str())
        .bind(w.old_secret.as_deref())
        .bind(w.old_secret_until)
        .bind(w.disabled_reason.as_deref())
        .bind(w.failures)
        .bind(w.cursor as i64)
        .bind(w.created_at)
        .bind(w.modified_at)
        .execute(self.pool())
        .await
        .op("store a webhook")?;
        Ok(())
    }

    /// One of `account_id`'s subscriptions (`None` for another account's id).
    pub async fn webhook(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<Option<WebhookRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webhooks WHERE account_id = $1 AND id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .op("read a webhook")?;
        row.map(|r| decode(&r)).transpose()
    }

    /// An account's subscriptions, oldest first; every account's with `None`.
    pub async fn webhooks(&self, account_id: Option<&str>) -> Result<Vec<WebhookRow>, StoreError> {
        let rows = match account_id {
            Some(a) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM webhooks WHERE account_id = $1 ORDER BY created_at, id"
                ))
                .bind(a)
                .fetch_all(self.pool())
                .await
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM webhooks ORDER BY created_at, id"
                ))
                .fetch_all(self.pool())
                .await
            }
        }
        .op("list webhooks")?;
        rows.iter().map(decode).collect()
    }

    /// Replaces what an account sets on a subscription (and its disabled
    /// state); false when there is no such subscription of that account.
    pub async fn update_webhook(&self, w: &WebhookRow) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhooks SET name = $1, uri = $2, hook = $3, http_verb = $4, format = $5, \
             retries = $6, enabled = $7, include_subaccounts = $8, custom_data = $9, modifiers = $10, \
             disabled_reason = $11, failures = $12, modified_at = $13 WHERE id = $14 AND account_id = $15",
        )
        .bind(w.name.as_str())
        .bind(w.uri.as_str())
        .bind(w.hook.as_str())
        .bind(w.http_verb.as_str())
        .bind(w.format.as_str())
        .bind(w.retries)
        .bind(w.enabled)
        .bind(w.include_subaccounts)
        .bind(w.custom_data.as_str())
        .bind(w.modifiers.as_str())
        .bind(w.disabled_reason.as_deref())
        .bind(w.failures)
        .bind(w.modified_at)
        .bind(w.id.as_str())
        .bind(w.account_id.as_str())
        .execute(self.pool())
        .await
        .op("update a webhook")?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a subscription with its pending deliveries and attempts.
    pub async fn delete_webhook(&self, account_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await.op("begin deleting a webhook")?;
        let done = sqlx::query("DELETE FROM webhooks WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .op("delete a webhook")?;
        if done.rows_affected() == 1 {
            for table in ["webhook_pending", "webhook_attempts"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE webhook_id = $1"))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .op("delete a webhook's deliveries")?;
            }
        }
        tx.commit().await.op("commit deleting a webhook")?;
        Ok(done.rows_affected() == 1)
    }

    /// A new sealed secret; the previous one keeps signing until `old_until`.
    pub async fn rotate_webhook_secret(
        &self,
        id: &str,
        secret: &str,
        old: Option<&str>,
        old_until: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhooks SET secret = $1, old_secret = $2, old_secret_until = $3 WHERE id = $4",
        )
        .bind(secret)
        .bind(old)
        .bind(old_until)
        .bind(id)
        .execute(self.pool())
        .await
        .op("rotate a webhook secret")?;
        Ok(())
    }

    /// Moves a subscription's cursor forward (never back).
    pub async fn set_webhook_cursor(&self, id: &str, cursor: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE webhooks SET cursor = $1 WHERE id = $2 AND cursor < $1")
            .bind(cursor as i64)
            .bind(id)
            .execute(self.pool())
            .await
            .op("move a webhook cursor")?;
        Ok(())
    }

    /// Records the count of failed deliveries in a row, and disables the
    /// subscription with `disable` as its reason when given.
    pub async fn set_webhook_failures(
        &self,
        id: &str,
        failures: i64,
        disable: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        match disable {
            None => sqlx::query("UPDATE webhooks SET failures = $1 WHERE id = $2")
                .bind(failures)
                .bind(id)
                .execute(self.pool())
                .await,
            Some(reason) => sqlx::query(
                "UPDATE webhooks SET failures = $1, enabled = $2, disabled_reason = $3, modified_at = $4 \
                 WHERE id = $5",
            )
            .bind(failures)
            .bind(false)
            .bind(reason)
            .bind(now_ms)
            .bind(id)
            .execute(self.pool())
            .await,
        }
        .op("record webhook failures")?;
        Ok(())
    }

    /// Adds or replaces a pending delivery.
    pub async fn put_pending(&self, webhook_id: &str, p: &PendingRow) -> Result<(), StoreError> {
        self.put_pendings(webhook_id, std::slice::from_ref(p)).await
    }

    /// Adds or replaces pending deliveries, in one transaction.
    pub async fn put_pendings(
        &self,
        webhook_id: &str,
        rows: &[PendingRow],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.op("begin pending deliveries")?;
        for p in rows {
            sqlx::query(
                "INSERT INTO webhook_pending (webhook_id, event_seq, order_key, attempts, due_at, replay) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (webhook_id, event_seq, replay) \
                 DO UPDATE SET order_key = excluded.order_key, attempts = excluded.attempts, \
                 due_at = excluded.due_at",
            )
            .bind(webhook_id)
            .bind(p.event_seq as i64)
            .bind(p.order_key.as_str())
            .bind(i64::from(p.attempts))
            .bind(p.due_at)
            .bind(p.replay)
            .execute(&mut *tx)
            .await
            .op("store a pending delivery")?;
        }
        tx.commit().await.op("commit pending deliveries")?;
        Ok(())
    }

    pub async fn delete_pending(
        &self,
        webhook_id: &str,
        seq: u64,
        replay: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM webhook_pending WHERE webhook_id = $1 AND event_seq = $2 AND replay = $3",
        )
        .bind(webhook_id)
        .bind(seq as i64)
        .bind(replay)
        .execute(self.pool())
        .await
        .op("remove a pending delivery")?;
        Ok(())
    }

    /// A subscription's pending deliveries, in event order.
    pub async fn pending(&self, webhook_id: &str) -> Result<Vec<PendingRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT event_seq, order_key, attempts, due_at, replay FROM webhook_pending \
             WHERE webhook_id = $1 ORDER BY event_seq",
        )
        .bind(webhook_id)
        .fetch_all(self.pool())
        .await
        .op("read pending deliveries")?;
        rows.iter()
            .map(|r| {
                Ok(PendingRow {
                    event_seq: r.try_get::<i64, _>("event_seq")?.max(0) as u64,
                    order_key: r.try_get("order_key")?,
                    attempts: r
                        .try_get::<i64, _>("attempts")?
                        .clamp(0, i64::from(u32::MAX)) as u32,
                    due_at: r.try_get("due_at")?,
                    replay: get_bool(r, "replay")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .op("decode a pending delivery")
    }

    /// Writes attempts in one transaction.
    pub async fn insert_attempts(&self, rows: &[AttemptRow]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.op("begin an attempts batch")?;
        for chunk in rows.chunks(ATTEMPTS_PER_STATEMENT) {
            let mut sql = format!("INSERT INTO webhook_attempts ({ATTEMPT_COLUMNS}) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                let b = i * 13;
                // positional on SQLite (it resolves `$n` by name: quadratic here)
                let sqlite = self.backend() == super::Backend::Sqlite;
                let marks: Vec<String> = (1..=13)
                    .map(|n| {
                        if sqlite {
                            "?".into()
                        } else {
                            format!("${}", b + n)
                        }
                    })
                    .collect();
                sql.push('(');
                sql.push_str(&marks.join(", "));
                sql.push(')');
            }
            let mut q = sqlx::query(&sql);
            for a in chunk {
                q = q
                    .bind(a.id.as_str())
                    .bind(a.webhook_id.as_str())
                    .bind(a.account_id.as_str())
                    .bind(a.event_seq as i64)
                    .bind(a.event_name.as_str())
                    .bind(i64::from(a.attempt))
                    .bind(a.at)
                    .bind(a.result.as_str())
                    .bind(a.status_code.map(i64::from))
                    .bind(a.latency_ms)
                    .bind(a.error.as_deref())
                    .bind(a.response.as_deref())
                    .bind(i64::from(a.retries_left));
            }
            q.execute(&mut *tx).await.op("store attempts")?;
        }
        tx.commit().await.op("commit an attempts batch")?;
        Ok(())
    }

    /// Attempts of an account's subscriptions, newest first: of one
    /// subscription, or of all of them; `before` (time, attempt id: the last
    /// one of the previous page) pages back.
    pub async fn attempts(
        &self,
        account_id: &str,
        webhook_id: Option<&str>,
        before: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<Vec<AttemptRow>, StoreError> {
        let (at, id) = before.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE account_id = $1 \
             AND ($2 IS NULL OR webhook_id = $2) AND (at < $3 OR (at = $3 AND id < $4)) \
             ORDER BY at DESC, id DESC LIMIT $5"
        ))
        .bind(account_id)
        .bind(webhook_id)
        .bind(at)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .op("list attempts")?;
        rows.iter()
            .map(decode_attempt)
            .collect::<Result<_, sqlx::Error>>()
            .op("decode an attempt")
    }

    /// One attempt of one of an account's subscriptions.
    pub async fn attempt(
        &self,
        account_id: &str,
        webhook_id: &str,
        id: &str,
    ) -> Result<Option<AttemptRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE account_id = $1 AND webhook_id = $2 AND id = $3"
        ))
        .bind(account_id)
        .bind(webhook_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .op("read an attempt")?;
        row.map(|r| decode_attempt(&r))
            .transpose()
            .op("decode an attempt")
    }

    /// Deletes attempts older than `before_ms` (at most `max`).
    pub async fn purge_attempts_before(&self, before_ms: i64, max: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM webhook_attempts WHERE id IN \
             (SELECT id FROM webhook_attempts WHERE at < $1 ORDER BY at LIMIT $2)",
        )
        .bind(before_ms)
        .bind(i64::from(max))
        .execute(self.pool())
        .await
        .op("purge old attempts")?;
        Ok(done.rows_affected())
    }
}

fn decode(r: &AnyRow) -> Result<WebhookRow, StoreError> {
    let get = || -> Result<WebhookRow, sqlx::Error> {
        Ok(WebhookRow {
            id: r.try_get("id")?,
            account_id: r.try_get("account_id")?,
            name: r.try_get("name")?,
            uri: r.try_get("uri")?,
            hook: r.try_get("hook")?,
            http_verb: r.try_get("http_verb")?,
            format: r.try_get("format")?,
            retries: r.try_get("retries")?,
            enabled: get_bool(r, "enabled")?,
            include_subaccounts: get_bool(r, "include_subaccounts")?,
            custom_data: r
                .try_get::<Option<String>, _>("custom_data")?
                .unwrap_or_default(),
            modifiers: r
                .try_get::<Option<String>, _>("modifiers")?
                .unwrap_or_default(),
            secret: r.try_get("secret")?,
            old_secret: r.try_get("old_secret")?,
            old_secret_until: r.try_get("old_secret_until")?,
            disabled_reason: r.try_get("disabled_reason")?,
            failures: r.try_get("failures")?,
            cursor: r.try_get::<i64, _>("cursor")?.max(0) as u64,
            created_at: r.try_get("created_at")?,
            modified_at: r.try_get("modified_at")?,
        })
    };
    get().op("decode a webhook")
}

fn decode_attempt(r: &AnyRow) -> Result<AttemptRow, sqlx::Error> {
    Ok(AttemptRow {
        id: r.try_get("id")?,
        webhook_id: r.try_get("webhook_id")?,
        account_id: r.try_get("account_id")?,
        event_seq: r.try_get::<i64, _>("event_seq")?.max(0) as u64,
        event_name: r.try_get("event_name")?,
        attempt: r
            .try_get::<i64, _>("attempt")?
            .clamp(0, i64::from(u32::MAX)) as u32,
        at: r.try_get("at")?,
        result: r.try_get("result")?,
        status_code: r
            .try_get::<Option<i64>, _>("status_code")?
            .and_then(|c| u16::try_from(c).ok()),
        latency_ms: r.try_get("latency_ms")?,
        error: r.try_get("error")?,
        response: r.try_get("response")?,
        retries_left: r
            .try_get::<i64, _>("retries_left")?
            .clamp(0, i64::from(u32::MAX)) as u32,
    })
}
