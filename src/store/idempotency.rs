//! The `idempotency_keys` table: what a POST with an `Idempotency-Key`
//! answered, kept 24 hours, so a retried request gets the same answer and
//! starts nothing twice. The first request claims the key (a row without a
//! response) before it acts; a racing twin finds the claim and waits for the
//! answer. Rows older than a day are dropped when a new key is claimed.

use sqlx::Row;

use super::{QueryContext, Store, StoreError};

/// How long an answer is kept.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nobody had it: this request acts, then calls `finish_idempotent`.
    Fresh,
    /// Used with another body.
    Mismatch,
    /// Claimed by a request still running.
    Running,
    /// Answered before: (HTTP status, body).
    Done(u16, String),
}

impl Store {
    /// Claims `key` in `scope` for a request whose body hashes to `hash`.
    pub async fn claim_idempotent(
        &self,
        scope: &str,
        key: &str,
        hash: &str,
        now_ms: i64,
    ) -> Result<Claim, StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(now_ms - IDEMPOTENCY_TTL_MS)
            .execute(self.pool())
            .await
            .op("expire idempotency keys")?;
        let done = sqlx::query(
            "INSERT INTO idempotency_keys (scope, idem_key, request_hash, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (scope, idem_key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(hash)
        .bind(now_ms)
        .execute(self.pool())
        .await
        .op("claim an idempotency key")?;
        if done.rows_affected() == 1 {
            return Ok(Claim::Fresh);
        }
        self.idempotent_state(scope, key, hash).await
    }

    /// Claims `key`, waiting up to `wait` while a twin holding it runs: `Fresh`
    /// (this request acts), `Mismatch`, `Done` (the twin's answer) or, when the
    /// twin is still running after `wait`, `Running`.
    pub async fn claim_idempotent_waiting(
        &self,
        scope: &str,
        key: &str,
        hash: &str,
        wait: std::time::Duration,
    ) -> Result<Claim, StoreError> {
        let started = tokio::time::Instant::now();
        let mut claim = self
            .claim_idempotent(scope, key, hash, crate::events::now_ms())
            .await?;
        while claim == Claim::Running && started.elapsed() <= wait {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            claim = self.idempotent_state(scope, key, hash).await?;
            if claim == Claim::Fresh {
                // the first one failed and let go: claim it for this one
                claim = self
                    .claim_idempotent(scope, key, hash, crate::events::now_ms())
                    .await?;
            }
        }
        Ok(claim)
    }

    /// Where a claimed key stands (for a twin that waits).
    pub async fn idempotent_state(
        &self,
        scope: &str,
        key: &str,
        hash: &str,
    ) -> Result<Claim, StoreError> {
        let row = sqlx::query(
            "SELECT request_hash, status, response FROM idempotency_keys \
             WHERE scope = $1 AND idem_key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(self.pool())
        .await
        .op("read an idempotency key")?;
        let Some(row) = row else {
            // released by a request that failed: free again
            return Ok(Claim::Fresh);
        };
        let stored: String = row
            .try_get("request_hash")
            .op("decode an idempotency key")?;
        if stored != hash {
            return Ok(Claim::Mismatch);
        }
        let status: Option<i64> = row.try_get("status").op("decode an idempotency key")?;
        let response: Option<String> = row.try_get("response").op("decode an idempotency key")?;
        Ok(match (status, response) {
            (Some(st), Some(body)) => Claim::Done(u16::try_from(st).unwrap_or(500), body),
            _ => Claim::Running,
        })
    }

    /// Keeps the answer of the request that claimed `key`.
    pub async fn finish_idempotent(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, response = $2 \
             WHERE scope = $3 AND idem_key = $4",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(scope)
        .bind(key)
        .execute(self.pool())
        .await
        .op("keep an idempotent answer")?;
        Ok(())
    }

    /// Frees `key` (its request failed in a way a retry may mend).
    pub async fn release_idempotent(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2")
            .bind(scope)
            .bind(key)
            .execute(self.pool())
            .await
            .op("release an idempotency key")?;
        Ok(())
    }
}
