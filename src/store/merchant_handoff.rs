//! The simulator's side of the dispatch queue, set-based: a lane's claimed
//! batch is re-checked with one consent read per merchant, handed to the
//! simulator and marked SENT in one transaction (its record and the state
//! change commit together, so reconciliation finds either both or neither),
//! and the outcomes it fixed are revealed once due, a sweep at a time — a
//! handful of statements per batch instead of a dozen per message.

use std::collections::HashMap;

use sqlx::Row;

use super::merchant_admit::{values, CHUNK};
use super::merchant_messages::{message, COLUMNS};
use super::{MessageRow, QueryContext, Store, StoreError};

/// One message of a batch handed to the simulator: what was "sent" and the
/// outcome fixed there and then (`DELIVERED` or `UNDELIVERED`).
pub struct SimHandoff<'a> {
    pub message: &'a MessageRow,
    pub body: String,
    pub outcome: &'static str,
}

/// Why the simulator left a message undelivered.
pub const SIM_FAILURE: &str = "the simulator's configured failure rate";

/// `1, 2, 3` for an IN list of ids (integers from the store: nothing to
/// escape). Statements with such lists are one-offs, so they are not kept
/// among a connection's prepared statements (`persistent(false)`).
fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// The current consent status (its latest change) of each of `contacts`
    /// with merchant `merchant_pk` on `channel`; contacts never asked are absent.
    pub async fn current_consents(
        &self,
        merchant_pk: i64,
        channel: &str,
        contacts: &[&str],
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut latest: HashMap<String, (i64, String)> = HashMap::new();
        for chunk in contacts.chunks(CHUNK) {
            let list = (0..chunk.len())
                .map(|i| format!("${}", i + 3))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT id, contact, status FROM consents \
                 WHERE merchant_pk = $1 AND channel = $2 AND contact IN ({list})"
            );
            let mut q = sqlx::query(&sql).bind(merchant_pk).bind(channel);
            for c in chunk {
                q = q.bind(*c);
            }
            let rows = q.fetch_all(self.pool()).await.op("read consents")?;
            for r in rows {
                let (id, contact, status): (i64, String, String) = (|| {
                    Ok::<_, sqlx::Error>((
                        r.try_get("id")?,
                        r.try_get("contact")?,
                        r.try_get("status")?,
                    ))
                })()
                .op("decode a consent")?;
                match latest.get(&contact) {
                    Some((seen, _)) if *seen > id => {}
                    _ => {
                        latest.insert(contact, (id, status));
                    }
                }
            }
        }
        Ok(latest.into_iter().map(|(c, (_, s))| (c, s)).collect())
    }

    /// Moves those of `items` still being sent (or reconciled) to SENT,
    /// looked at again at `reveal_at`, and hands them to the simulator, in one
    /// transaction; returns the ids that moved. A message the simulator had
    /// already (an earlier attempt) keeps its first record.
    pub async fn simulate_batch(
        &self,
        items: &[SimHandoff<'_>],
        reveal_at: i64,
        now_ms: i64,
    ) -> Result<Vec<i64>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await.op("begin a simulator hand-off")?;
        let ids: Vec<i64> = items.iter().map(|it| it.message.id).collect();
        let moved = update_ids(
            &mut tx,
            &ids,
            |list| {
                format!(
                    "UPDATE merchant_messages SET status = 'SENT', provider = 'simulator', \
                     provider_ref = 'sim-' || CAST(id AS TEXT), next_at = $1, \
                     lease_owner = NULL, lease_until = NULL, updated_at = $2 \
                     WHERE id IN ({list}) AND status IN ('SENDING', 'RECONCILING') RETURNING id"
                )
            },
            |q| q.bind(reveal_at).bind(now_ms),
            "mark messages sent",
        )
        .await?;
        // the simulator records only what it was really handed
        let sent: std::collections::HashSet<i64> = moved.iter().copied().collect();
        let handed: Vec<&SimHandoff> = items
            .iter()
            .filter(|it| sent.contains(&it.message.id))
            .collect();
        for chunk in handed.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO simulated_messages (message_id, account_id, channel, recipient, \
                 body, outcome, created_at) VALUES {} ON CONFLICT (message_id) DO NOTHING",
                values(self.backend(), chunk.len(), 7)
            );
            let mut q = sqlx::query(&sql);
            for it in chunk {
                let m = it.message;
                q = q
                    .bind(m.id)
                    .bind(m.account_id.as_str())
                    .bind(m.channel.as_str())
                    .bind(m.recipient.as_str())
                    .bind(it.body.as_str())
                    .bind(it.outcome)
                    .bind(now_ms);
            }
            q.execute(&mut *tx)
                .await
                .op("hand messages to the simulator")?;
        }
        insert_events(&mut tx, &moved, now_ms, "SENT", None).await?;
        tx.commit().await.op("commit a simulator hand-off")?;
        Ok(moved)
    }

    /// Reveals up to `max` simulator outcomes due by `now_ms`: each SENT
    /// message the simulator holds becomes DELIVERED or UNDELIVERED (final),
    /// in one transaction. Returns the messages that moved, as they were
    /// before, with the status they took.
    pub async fn reveal_simulated(
        &self,
        now_ms: i64,
        max: i64,
    ) -> Result<Vec<(MessageRow, &'static str)>, StoreError> {
        let cols = COLUMNS
            .split(',')
            .map(|c| format!("m.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols}, s.outcome AS sim_outcome FROM merchant_messages m \
             JOIN simulated_messages s ON s.message_id = m.id \
             WHERE m.status = 'SENT' AND m.next_at <= $1 AND m.provider = 'simulator' \
             ORDER BY m.next_at, m.id LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(now_ms)
            .bind(max)
            .fetch_all(self.pool())
            .await
            .op("read due simulator outcomes")?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut due: HashMap<i64, (MessageRow, &'static str)> = HashMap::new();
        for r in &rows {
            let m = message(r)?;
            let outcome: String = r.try_get("sim_outcome").op("decode an outcome")?;
            let status = if outcome == "DELIVERED" {
                "DELIVERED"
            } else {
                "UNDELIVERED"
            };
            due.insert(m.id, (m, status));
        }
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await.op("begin revealing outcomes")?;
        let mut moved = Vec::with_capacity(due.len());
        for (status, error) in [("DELIVERED", None), ("UNDELIVERED", Some(SIM_FAILURE))] {
            let ids: Vec<i64> = due
                .values()
                .filter(|(_, s)| *s == status)
                .map(|(m, _)| m.id)
                .collect();
            let changed = update_ids(
                &mut tx,
                &ids,
                |list| {
                    format!(
                        "UPDATE merchant_messages SET status = '{status}', final = $1, \
                         error = COALESCE($2, error), updated_at = $3 \
                         WHERE id IN ({list}) AND status = 'SENT' RETURNING id"
                    )
                },
                |q| q.bind(true).bind(error).bind(now_ms),
                "reveal simulator outcomes",
            )
            .await?;
            insert_events(&mut tx, &changed, now_ms, status, error).await?;
            moved.extend(changed);
        }
        tx.commit().await.op("commit revealed outcomes")?;
        let mut out: Vec<(MessageRow, &'static str)> =
            moved.iter().filter_map(|id| due.remove(id)).collect();
        out.sort_by_key(|(m, _)| m.id);
        Ok(out)
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Runs `sql(list)` — an UPDATE … WHERE id IN (list) … RETURNING id with the
/// parameters `bind` adds — over `ids` a chunk at a time; the ids it changed.
async fn update_ids(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ids: &[i64],
    sql: impl Fn(&str) -> String,
    bind: impl for<'q> Fn(AnyQuery<'q>) -> AnyQuery<'q>,
    op: &'static str,
) -> Result<Vec<i64>, StoreError> {
    let mut changed = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK * 4) {
        let text = sql(&id_list(chunk));
        let rows = bind(sqlx::query(&text).persistent(false))
            .fetch_all(&mut **tx)
            .await
            .op(op)?;
        for r in rows {
            changed.push(r.try_get::<i64, _>("id").op("decode a message id")?);
        }
    }
    Ok(changed)
}

/// One lifecycle row per message of `ids`, all with `status` from the simulator.
async fn insert_events(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ids: &[i64],
    now_ms: i64,
    status: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    for chunk in ids.chunks(CHUNK * 4) {
        let rows = chunk
            .iter()
            .map(|id| format!("({id}, $1, $2, 'simulator', $3)"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO message_events (message_id, at, status, provider, detail) VALUES {rows}"
        );
        sqlx::query(&sql)
            .persistent(false)
            .bind(now_ms)
            .bind(status)
            .bind(detail)
            .execute(&mut **tx)
            .await
            .op("record message events")?;
    }
    Ok(())
}
