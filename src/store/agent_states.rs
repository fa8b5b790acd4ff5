//! The `agent_states` table: what queue agents chose themselves (a dynamic
//! login, a static member's logout, a pause and its reason), kept so that a
//! restart — or a crash — does not log every agent back to the dialplan's
//! defaults. The queue driver replaces an agent's rows after each change.

use sqlx::Row;

use super::{QueryContext, Store, StoreError};

/// One agent's choices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentState {
    pub account_id: String,
    pub extension: String,
    /// Queues it logged in to (as a dynamic member).
    pub logged_in: Vec<String>,
    /// Queues it is a dialplan member of but logged out from.
    pub logged_out: Vec<String>,
    /// Paused, with its reason ("" when none was given).
    pub paused: Option<String>,
}

impl Store {
    /// Replaces the agent's stored choices with `s` (nothing stored when it
    /// chose nothing), in one transaction.
    pub async fn save_agent_state(&self, s: &AgentState, now_ms: i64) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.op("begin an agent state write")?;
        sqlx::query("DELETE FROM agent_states WHERE account_id = $1 AND extension = $2")
            .bind(s.account_id.as_str())
            .bind(s.extension.as_str())
            .execute(&mut *tx)
            .await
            .op("clear an agent's state")?;
        let rows = s
            .logged_in
            .iter()
            .map(|q| (q.as_str(), "in", None))
            .chain(s.logged_out.iter().map(|q| (q.as_str(), "out", None)))
            .chain(s.paused.as_deref().map(|r| ("", "paused", Some(r))));
        for (queue, state, reason) in rows {
            sqlx::query(
                "INSERT INTO agent_states (account_id, extension, queue_id, state, reason, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(s.account_id.as_str())
            .bind(s.extension.as_str())
            .bind(queue)
            .bind(state)
            .bind(reason)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .op("store an agent's state")?;
        }
        tx.commit().await.op("commit an agent state write")?;
        Ok(())
    }

    /// Every agent's stored choices, by account and extension.
    pub async fn agent_states(&self) -> Result<Vec<AgentState>, StoreError> {
        let rows = sqlx::query(
            "SELECT account_id, extension, queue_id, state, reason FROM agent_states \
             ORDER BY account_id, extension, queue_id",
        )
        .fetch_all(self.pool())
        .await
        .op("list agent states")?;
        let mut out: Vec<AgentState> = Vec::new();
        for r in rows {
            let (account_id, extension): (String, String) = (
                r.try_get("account_id").op("decode an agent state")?,
                r.try_get("extension").op("decode an agent state")?,
            );
            let queue: String = r.try_get("queue_id").op("decode an agent state")?;
            let state: String = r.try_get("state").op("decode an agent state")?;
            let reason: Option<String> = r.try_get("reason").op("decode an agent state")?;
            let same = out
                .last()
                .is_some_and(|a| a.account_id == account_id && a.extension == extension);
            if !same {
                out.push(AgentState {
                    account_id,
                    extension,
                    ..AgentState::default()
                });
            }
            let a = out.last_mut().expect("pushed");
            match state.as_str() {
                "in" => a.logged_in.push(queue),
                "out" => a.logged_out.push(queue),
                "paused" => a.paused = Some(reason.unwrap_or_default()),
                other => tracing::warn!(state = other, "unknown agent state ignored"),
            }
        }
        Ok(out)
    }
}
