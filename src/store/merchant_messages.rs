//! The dispatch queue (`merchant_messages`) and each message's lifecycle
//! (`message_events`). Admission is one transaction per batch of requests
//! ([`Store::admit_batch`]): each request's Idempotency-Key claim, its usage
//! against the limit (or a credit), its queue row, its first lifecycle event
//! and the answer kept for its key commit together, so a retried or racing
//! request converges on the same message and a crash loses no accepted one.
//! Workers claim due rows under a lease (`claim_due`); a state change is a
//! compare-and-set from the states it may follow (`advance`), so a late
//! provider callback never undoes a later state.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{get_bool, Backend, QueryContext, Store, StoreError};

/// A request to admit.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub account_id: String,
    pub merchant_pk: i64,
    /// `SMS`, `VOICE`, `EMAIL`.
    pub channel: &'static str,
    pub msg_type: &'static str,
    pub recipient: String,
    /// The message itself, as JSON.
    pub payload: String,
    /// `QUEUED`, or `SCHEDULED` (for `next_at`).
    pub status: &'static str,
    pub next_at: i64,
    /// What it counts against the limit (SMS segments, voice minutes, 1 email).
    pub units: i64,
    /// The merchant's limit on the channel this period.
    pub limit: i64,
    pub period: String,
    /// (scope, key, request hash) of its Idempotency-Key.
    pub idem: Option<(String, String, String)>,
    pub now_ms: i64,
}

/// What admission found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Queued as message `id`; `used` after it, and whether a credit paid.
    Accepted { id: i64, used: i64, credit: bool },
    /// Answered before under this key: (status, body).
    Replay(u16, String),
    /// The key was used with another body.
    Mismatch,
    /// The key's first request has not answered yet.
    Running,
    /// The limit is used and no credit is left.
    LimitReached { used: i64 },
}

/// A queue row a worker holds or reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: i64,
    pub account_id: String,
    pub merchant_pk: i64,
    pub channel: String,
    pub msg_type: String,
    pub recipient: String,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub next_at: i64,
    pub provider: Option<String>,
    pub provider_ref: Option<String>,
    pub cost_micros: Option<i64>,
    pub units: i64,
    pub is_final: bool,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One lifecycle event of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEventRow {
    pub at: i64,
    pub status: String,
    pub provider: Option<String>,
    pub detail: Option<String>,
}

/// A state change (`advance`): the fields it sets besides the status.
#[derive(Debug, Clone, Default)]
pub struct Transition<'a> {
    pub status: &'a str,
    pub is_final: bool,
    pub provider: Option<&'a str>,
    pub provider_ref: Option<&'a str>,
    pub cost_micros: Option<i64>,
    pub error: Option<&'a str>,
    /// For RETRY / SCHEDULED / RECONCILING: when to look again.
    pub next_at: Option<i64>,
    /// The lifecycle event's detail.
    pub detail: Option<&'a str>,
}

/// Per channel: how many rows are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaneCounts {
    pub channel: String,
    pub by_status: Vec<(String, i64)>,
}

/// A usage report's per-channel sums.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageSums {
    pub channel: String,
    /// Handed to a provider (sent, delivered or undelivered).
    pub count: i64,
    pub units: i64,
    pub cost_micros: i64,
    /// Messages of the range without a final outcome yet.
    pub pending: i64,
    /// Of those handed off, how many lack a provider's cost.
    pub unpriced: i64,
}

pub(super) const COLUMNS: &str =
    "id, account_id, merchant_pk, channel, msg_type, recipient, payload, \
    status, attempts, next_at, provider, provider_ref, cost_micros, units, final, error, \
    created_at, updated_at";

pub(super) fn message(r: &AnyRow) -> Result<MessageRow, StoreError> {
    let go = || -> Result<MessageRow, sqlx::Error> {
        Ok(MessageRow {
            id: r.try_get("id")?,
            account_id: r.try_get("account_id")?,
            merchant_pk: r.try_get("merchant_pk")?,
            channel: r.try_get("channel")?,
            msg_type: r.try_get("msg_type")?,
            recipient: r.try_get("recipient")?,
            payload: r.try_get("payload")?,
            status: r.try_get("status")?,
            attempts: r.try_get("attempts")?,
            next_at: r.try_get("next_at")?,
            provider: r.try_get("provider")?,
            provider_ref: r.try_get("provider_ref")?,
            cost_micros: r.try_get("cost_micros")?,
            units: r.try_get("units")?,
            is_final: get_bool(r, "final")?,
            error: r.try_get("error")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    };
    go().op("decode a message")
}

impl Store {
    /// Claims up to `max` due messages of `channel` for `owner` until `lease_until`.
    pub async fn claim_due(
        &self,
        channel: &str,
        max: i64,
        owner: &str,
        now_ms: i64,
        lease_until: i64,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE merchant_messages SET status = 'SENDING', attempts = attempts + 1, \
             lease_owner = $1, lease_until = $2, updated_at = $3 \
             WHERE id IN (SELECT id FROM merchant_messages WHERE channel = $4 \
             AND status IN ('QUEUED', 'RETRY', 'SCHEDULED') AND next_at <= $3 \
             ORDER BY next_at, id LIMIT $5{lock}) \
             AND status IN ('QUEUED', 'RETRY', 'SCHEDULED') RETURNING {COLUMNS}"
        );
        let _turn = self.write_turn().await;
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now_ms)
            .bind(channel)
            .bind(max)
            .fetch_all(self.pool())
            .await
            .op("claim due messages")?;
        let mut v = rows.iter().map(message).collect::<Result<Vec<_>, _>>()?;
        v.sort_by_key(|m| m.id);
        Ok(v)
    }

    /// Hands messages held by a worker that is gone — an earlier run of this
    /// node (`node_prefix`, not `owner`), or any whose lease ran out — to
    /// reconciliation: nobody knows whether the provider got them.
    pub async fn orphaned_to_reconcile(
        &self,
        node_prefix: &str,
        owner: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE merchant_messages SET status = 'RECONCILING', next_at = $1, updated_at = $1 \
             WHERE status = 'SENDING' AND ((lease_owner LIKE $2 AND lease_owner <> $3) \
             OR lease_until < $1)",
        )
        .bind(now_ms)
        .bind(format!("{node_prefix}%"))
        .bind(owner)
        .execute(self.pool())
        .await
        .op("reconcile orphaned messages")?;
        Ok(done.rows_affected())
    }

    /// Messages in `status` due by `now_ms` (oldest first).
    pub async fn due_in(
        &self,
        status: &str,
        now_ms: i64,
        max: i64,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM merchant_messages WHERE status = $1 AND next_at <= $2 \
             ORDER BY next_at, id LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(status)
            .bind(now_ms)
            .bind(max)
            .fetch_all(self.pool())
            .await
            .op("read due messages")?;
        rows.iter().map(message).collect()
    }

    /// Moves message `id` on to `t` if it is in one of `from`; false when it was not.
    pub async fn advance(
        &self,
        id: i64,
        from: &[&str],
        t: &Transition<'_>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let list = from
            .iter()
            .map(|s| format!("'{}'", s.replace('\'', "")))
            .collect::<Vec<_>>()
            .join(", ");
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await.op("begin a message change")?;
        let sql = format!(
            "UPDATE merchant_messages SET status = $1, final = $2, \
             provider = COALESCE($3, provider), provider_ref = COALESCE($4, provider_ref), \
             cost_micros = COALESCE($5, cost_micros), error = COALESCE($6, error), \
             next_at = COALESCE($7, next_at), lease_owner = NULL, lease_until = NULL, \
             updated_at = $8 WHERE id = $9 AND status IN ({list})"
        );
        let done = sqlx::query(&sql)
            .bind(t.status)
            .bind(t.is_final)
            .bind(t.provider)
            .bind(t.provider_ref)
            .bind(t.cost_micros)
            .bind(t.error)
            .bind(t.next_at)
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await
            .op("change a message's state")?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO message_events (message_id, at, status, provider, detail) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(now_ms)
        .bind(t.status)
        .bind(t.provider)
        .bind(t.detail.or(t.error))
        .execute(&mut *tx)
        .await
        .op("record a message event")?;
        tx.commit().await.op("commit a message change")?;
        Ok(true)
    }

    /// Records the provider's reference (its message id) while the message is being sent.
    pub async fn set_provider_ref(
        &self,
        id: i64,
        provider: &str,
        provider_ref: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE merchant_messages SET provider = $1, provider_ref = $2 WHERE id = $3")
            .bind(provider)
            .bind(provider_ref)
            .bind(id)
            .execute(self.pool())
            .await
            .op("note a provider reference")?;
        Ok(())
    }

    /// Message `id` of `account_id`.
    pub async fn merchant_message(
        &self,
        account_id: &str,
        id: i64,
    ) -> Result<Option<MessageRow>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM merchant_messages WHERE id = $1 AND account_id = $2");
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(account_id)
            .fetch_optional(self.pool())
            .await
            .op("read a message")?;
        row.as_ref().map(message).transpose()
    }

    /// The message a provider knows as `provider_ref`.
    pub async fn message_by_provider_ref(
        &self,
        provider: &str,
        provider_ref: &str,
    ) -> Result<Option<MessageRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM merchant_messages WHERE provider = $1 AND provider_ref = $2"
        );
        let row = sqlx::query(&sql)
            .bind(provider)
            .bind(provider_ref)
            .fetch_optional(self.pool())
            .await
            .op("find a message by its provider reference")?;
        row.as_ref().map(message).transpose()
    }

    /// An account's messages in `status` (one merchant's with `merchant_pk`), oldest first.
    pub async fn messages_in(
        &self,
        account_id: &str,
        status: &str,
        merchant_pk: Option<i64>,
        max: i64,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM merchant_messages WHERE account_id = $1 AND status = $2 \
             AND merchant_pk {} $3 ORDER BY next_at, id LIMIT $4",
            if merchant_pk.is_some() { "=" } else { "<>" }
        );
        let rows = sqlx::query(&sql)
            .bind(account_id)
            .bind(status)
            .bind(merchant_pk.unwrap_or(-1))
            .bind(max)
            .fetch_all(self.pool())
            .await
            .op("list messages")?;
        rows.iter().map(message).collect()
    }

    /// A message's lifecycle, oldest first.
    pub async fn message_events(&self, id: i64) -> Result<Vec<MessageEventRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, status, provider, detail FROM message_events WHERE message_id = $1 \
             ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await
        .op("read a message's events")?;
        rows.iter()
            .map(|r| {
                Ok(MessageEventRow {
                    at: r.try_get("at")?,
                    status: r.try_get("status")?,
                    provider: r.try_get("provider")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .op("decode a message's events")
    }

    /// How many messages each channel has in each state.
    pub async fn lane_counts(&self) -> Result<Vec<LaneCounts>, StoreError> {
        let rows = sqlx::query(
            "SELECT channel, status, COUNT(*) AS n FROM merchant_messages \
             GROUP BY channel, status ORDER BY channel, status",
        )
        .fetch_all(self.pool())
        .await
        .op("count the lanes")?;
        let mut out: Vec<LaneCounts> = Vec::new();
        for r in &rows {
            let channel: String = r.try_get("channel").op("decode a lane")?;
            let status: String = r.try_get("status").op("decode a lane")?;
            let n: i64 = r.try_get("n").op("decode a lane")?;
            match out.last_mut() {
                Some(l) if l.channel == channel => l.by_status.push((status, n)),
                _ => out.push(LaneCounts {
                    channel,
                    by_status: vec![(status, n)],
                }),
            }
        }
        Ok(out)
    }

    /// Per channel, an account's messages created in `[from_ms, to_ms)`.
    pub async fn usage_sums(
        &self,
        account_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<UsageSums>, StoreError> {
        let rows = sqlx::query(
            "SELECT channel, \
             CAST(SUM(CASE WHEN status IN ('SENT', 'DELIVERED', 'UNDELIVERED') THEN 1 ELSE 0 END) AS BIGINT) AS n, \
             CAST(SUM(CASE WHEN status IN ('SENT', 'DELIVERED', 'UNDELIVERED') THEN units ELSE 0 END) AS BIGINT) AS units, \
             CAST(SUM(COALESCE(cost_micros, 0)) AS BIGINT) AS cost, \
             CAST(SUM(CASE WHEN final THEN 0 ELSE 1 END) AS BIGINT) AS pending, \
             CAST(SUM(CASE WHEN status IN ('SENT', 'DELIVERED', 'UNDELIVERED') \
                 AND cost_micros IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS unpriced \
             FROM merchant_messages WHERE account_id = $1 AND created_at >= $2 AND created_at < $3 \
             GROUP BY channel ORDER BY channel",
        )
        .bind(account_id)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.pool())
        .await
        .op("sum usage")?;
        rows.iter()
            .map(|r| {
                Ok(UsageSums {
                    channel: r.try_get("channel")?,
                    count: r.try_get::<Option<i64>, _>("n")?.unwrap_or(0),
                    units: r.try_get::<Option<i64>, _>("units")?.unwrap_or(0),
                    cost_micros: r.try_get::<Option<i64>, _>("cost")?.unwrap_or(0),
                    pending: r.try_get::<Option<i64>, _>("pending")?.unwrap_or(0),
                    unpriced: r.try_get::<Option<i64>, _>("unpriced")?.unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .op("decode usage sums")
    }

    /// Records what the simulator was handed; false when it had it already.
    pub async fn simulate_handoff(
        &self,
        m: &MessageRow,
        body: &str,
        outcome: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO simulated_messages (message_id, account_id, channel, recipient, body, \
             outcome, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(m.id)
        .bind(m.account_id.as_str())
        .bind(m.channel.as_str())
        .bind(m.recipient.as_str())
        .bind(body)
        .bind(outcome)
        .bind(now_ms)
        .execute(self.pool())
        .await
        .op("hand a message to the simulator")?;
        Ok(done.rows_affected() == 1)
    }

    /// The outcome the simulator fixed for message `id`, if it was handed it.
    pub async fn simulated_outcome(&self, id: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT outcome FROM simulated_messages WHERE message_id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .op("read a simulated message")?;
        row.map(|r| r.try_get::<String, _>(0))
            .transpose()
            .op("decode a simulated message")
    }

    /// What the simulator was handed, newest first: (message id, channel,
    /// recipient, body, outcome, at); an account's alone with `account_id`.
    #[allow(clippy::type_complexity)]
    pub async fn simulated_messages(
        &self,
        account_id: Option<&str>,
        max: i64,
    ) -> Result<Vec<(i64, String, String, String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT message_id, channel, recipient, body, outcome, created_at \
             FROM simulated_messages WHERE account_id = COALESCE($1, account_id) \
             ORDER BY message_id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(max)
        .fetch_all(self.pool())
        .await
        .op("list simulated messages")?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("message_id")?,
                    r.try_get("channel")?,
                    r.try_get("recipient")?,
                    r.try_get("body")?,
                    r.try_get("outcome")?,
                    r.try_get("created_at")?,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .op("decode simulated messages")
    }
}

impl Store {
    /// The accounts with messages on `provider` in the last day (whom its alerts concern).
    pub async fn lane_accounts_using(&self, provider: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT account_id FROM merchant_messages WHERE provider = $1 \
             AND updated_at > $2",
        )
        .bind(provider)
        .bind(crate::events::now_ms() - 86_400_000)
        .fetch_all(self.pool())
        .await
        .op("find a provider's accounts")?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .op("decode accounts")
    }

    /// Takes back the attempt a claim counted (the message was only postponed).
    pub async fn uncount_attempt(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE merchant_messages SET attempts = attempts - 1 WHERE id = $1 AND attempts > 0",
        )
        .bind(id)
        .execute(self.pool())
        .await
        .op("take back an attempt")?;
        Ok(())
    }

    /// Looks at message `id` again at `next_at` (its state unchanged).
    pub async fn reschedule(&self, id: i64, next_at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE merchant_messages SET next_at = $1 WHERE id = $2")
            .bind(next_at)
            .bind(id)
            .execute(self.pool())
            .await
            .op("reschedule a message")?;
        Ok(())
    }
}

impl Store {
    /// Message `id`, whoever's it is (providers' callbacks name it).
    pub async fn message_by_id(&self, id: i64) -> Result<Option<MessageRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM merchant_messages WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .op("read a message")?;
        row.as_ref().map(message).transpose()
    }
}
