//! Admission of a batch of merchant messages in one transaction, set-based
//! so a batch costs a handful of statements whatever its size: the
//! Idempotency-Key claims in one insert (twins in the batch, and keys
//! answered before, get the first answer), each merchant's usage and credits
//! read once (locked on PostgreSQL), the requests that fit counted in order,
//! their queue rows in one insert, and the answers their keys keep in one
//! update. A request is Accepted, LimitReached, a Replay, a Mismatch, or
//! Running (its key's first request is still being admitted elsewhere).

use std::collections::HashMap;

use sqlx::Row;

use super::merchant_messages::{Admit, NewMessage};
use super::merchants::channel_columns;
use super::{Backend, QueryContext, Store, StoreError, IDEMPOTENCY_TTL_MS};

/// When admission last dropped expired Idempotency-Keys (unix ms).
static LAST_EXPIRY: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Rows per multi-row statement.
pub(super) const CHUNK: usize = 64;

/// `($1, $2, …), (…)` for `rows` rows of `cols` parameters, the only
/// parameters of their statement. On SQLite positional `?` instead: SQLite
/// resolves each `$n` by name, which is quadratic in a statement of hundreds.
pub(super) fn values(backend: Backend, rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let ps: Vec<String> = (0..cols)
                .map(|c| match backend {
                    Backend::Sqlite => "?".to_string(),
                    Backend::Postgres => format!("${}", 1 + r * cols + c),
                })
                .collect();
            format!("({})", ps.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Admits a batch in one transaction. `answer` renders what a request's
    /// Idempotency-Key keeps for its outcome (status, body).
    pub async fn admit_batch(
        &self,
        items: &[NewMessage],
        answer: &(dyn Fn(&NewMessage, &Admit) -> (u16, String) + Sync),
    ) -> Result<Vec<Admit>, StoreError> {
        let mut out: Vec<Option<Admit>> = vec![None; items.len()];
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let pg = self.backend() == Backend::Postgres;
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await.op("begin admitting messages")?;
        let now = items.iter().map(|i| i.now_ms).min().unwrap_or_default();
        let last = LAST_EXPIRY.load(std::sync::atomic::Ordering::Relaxed);
        if now - last > 60_000
            && LAST_EXPIRY
                .compare_exchange(
                    last,
                    now,
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                )
                .is_ok()
        {
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(now - IDEMPOTENCY_TTL_MS)
                .execute(&mut *tx)
                .await
                .op("expire idempotency keys")?;
        }

        // 1. keys: the first request of each key in the batch claims it; later ones are its twins
        let mut first_of: HashMap<(&str, &str), usize> = HashMap::new();
        let mut twins: Vec<(usize, usize)> = Vec::new();
        let mut claiming: Vec<usize> = Vec::new();
        for (i, it) in items.iter().enumerate() {
            if let Some((scope, key, _)) = &it.idem {
                match first_of.get(&(scope.as_str(), key.as_str())) {
                    Some(&f) => twins.push((i, f)),
                    None => {
                        first_of.insert((scope.as_str(), key.as_str()), i);
                        claiming.push(i);
                    }
                }
            }
        }
        if !claiming.is_empty() {
            let mut claimed = std::collections::HashSet::new();
            // in chunks: parameters bind by name, so a very long statement costs more per row
            for chunk in claiming.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO idempotency_keys (scope, idem_key, request_hash, created_at) \
                     VALUES {} ON CONFLICT (scope, idem_key) DO NOTHING RETURNING scope, idem_key",
                    values(self.backend(), chunk.len(), 4)
                );
                let mut q = sqlx::query(&sql);
                for &i in chunk {
                    let (scope, key, hash) = items[i].idem.as_ref().expect("keyed");
                    q = q
                        .bind(scope.as_str())
                        .bind(key.as_str())
                        .bind(hash.as_str())
                        .bind(items[i].now_ms);
                }
                for r in &q.fetch_all(&mut *tx).await.op("claim idempotency keys")? {
                    let scope: String = r.try_get(0).op("decode a key")?;
                    let key: String = r.try_get(1).op("decode a key")?;
                    claimed.insert((scope, key));
                }
            }
            for &i in &claiming {
                let (scope, key, hash) = items[i].idem.as_ref().expect("keyed");
                if claimed.contains(&(scope.clone(), key.clone())) {
                    continue;
                }
                // used before (or being admitted by another node right now)
                let row = sqlx::query(
                    "SELECT request_hash, status, response FROM idempotency_keys \
                     WHERE scope = $1 AND idem_key = $2",
                )
                .bind(scope.as_str())
                .bind(key.as_str())
                .fetch_optional(&mut *tx)
                .await
                .op("read an idempotency key")?;
                out[i] = Some(match row {
                    None => Admit::Running,
                    Some(row) => {
                        let stored: String = row.try_get("request_hash").op("decode a key")?;
                        let status: Option<i64> = row.try_get("status").op("decode a key")?;
                        let body: Option<String> = row.try_get("response").op("decode a key")?;
                        match (stored == *hash, status, body) {
                            (false, _, _) => Admit::Mismatch,
                            (true, Some(st), Some(b)) => {
                                Admit::Replay(u16::try_from(st).unwrap_or(500), b)
                            }
                            _ => Admit::Running,
                        }
                    }
                });
            }
        }
        let twin_set: std::collections::HashSet<usize> = twins.iter().map(|(t, _)| *t).collect();

        // 2. usage and credits, per merchant, period and channel, in the batch's order
        let mut groups: Vec<((i64, String, &'static str), Vec<usize>)> = Vec::new();
        for (i, it) in items.iter().enumerate() {
            if out[i].is_some() || twin_set.contains(&i) {
                continue;
            }
            let g = (it.merchant_pk, it.period.clone(), it.channel);
            match groups.iter_mut().find(|(k, _)| *k == g) {
                Some((_, v)) => v.push(i),
                None => groups.push((g, vec![i])),
            }
        }
        let lock = if pg { " FOR UPDATE" } else { "" };
        for ((pk, period, channel), members) in &groups {
            let Some((used_col, credit_col)) = channel_columns(channel) else {
                for &i in members {
                    out[i] = Some(Admit::LimitReached { used: 0 });
                }
                continue;
            };
            sqlx::query(
                "INSERT INTO merchant_usage (merchant_pk, period) VALUES ($1, $2) \
                 ON CONFLICT (merchant_pk, period) DO NOTHING",
            )
            .bind(pk)
            .bind(period.as_str())
            .execute(&mut *tx)
            .await
            .op("open a usage period")?;
            let mut used: i64 = sqlx::query(&format!(
                "SELECT {used_col} FROM merchant_usage WHERE merchant_pk = $1 AND period = $2{lock}"
            ))
            .bind(pk)
            .bind(period.as_str())
            .fetch_one(&mut *tx)
            .await
            .op("read usage")?
            .try_get(0)
            .op("decode usage")?;
            let mut credits: i64 = sqlx::query(&format!(
                "SELECT {credit_col} FROM merchants WHERE pk = $1{lock}"
            ))
            .bind(pk)
            .fetch_optional(&mut *tx)
            .await
            .op("read credits")?
            .map(|r| r.try_get(0))
            .transpose()
            .op("decode credits")?
            .unwrap_or(0);
            let (used0, credits0) = (used, credits);
            for &i in members {
                let it = &items[i];
                out[i] = Some(if used + it.units <= it.limit {
                    used += it.units;
                    Admit::Accepted {
                        id: 0,
                        used,
                        credit: false,
                    }
                } else if credits >= it.units {
                    credits -= it.units;
                    used += it.units;
                    Admit::Accepted {
                        id: 0,
                        used,
                        credit: true,
                    }
                } else {
                    Admit::LimitReached { used }
                });
            }
            if used != used0 {
                sqlx::query(&format!(
                    "UPDATE merchant_usage SET {used_col} = $1 WHERE merchant_pk = $2 AND period = $3"
                ))
                .bind(used)
                .bind(pk)
                .bind(period.as_str())
                .execute(&mut *tx)
                .await
                .op("count usage")?;
            }
            if credits != credits0 {
                sqlx::query(&format!(
                    "UPDATE merchants SET {credit_col} = $1 WHERE pk = $2"
                ))
                .bind(credits)
                .bind(pk)
                .execute(&mut *tx)
                .await
                .op("spend credits")?;
            }
        }

        // 3. the queue rows of the accepted, in one insert
        let accepted: Vec<usize> = (0..items.len())
            .filter(|&i| matches!(out[i], Some(Admit::Accepted { .. })))
            .collect();
        for accepted in accepted.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO merchant_messages (account_id, merchant_pk, channel, msg_type, \
                 recipient, payload, status, next_at, units, created_at, updated_at, batch_index) \
                 VALUES {} RETURNING id, batch_index",
                values(self.backend(), accepted.len(), 12)
            );
            let mut q = sqlx::query(&sql);
            for &i in accepted {
                let it = &items[i];
                q = q
                    .bind(it.account_id.as_str())
                    .bind(it.merchant_pk)
                    .bind(it.channel)
                    .bind(it.msg_type)
                    .bind(it.recipient.as_str())
                    .bind(it.payload.as_str())
                    .bind(it.status)
                    .bind(it.next_at)
                    .bind(it.units)
                    .bind(it.now_ms)
                    .bind(it.now_ms)
                    .bind(i as i64);
            }
            for r in q.fetch_all(&mut *tx).await.op("queue messages")? {
                let id: i64 = r.try_get(0).op("decode a message id")?;
                let at: i64 = r
                    .try_get::<Option<i64>, _>(1)
                    .op("decode a message id")?
                    .unwrap_or(-1);
                if let Some(Some(Admit::Accepted { id: slot, .. })) =
                    usize::try_from(at).ok().and_then(|i| out.get_mut(i))
                {
                    *slot = id;
                }
            }
        }

        // their first lifecycle event, in one insert
        let accepted: Vec<usize> = (0..items.len())
            .filter(|&i| matches!(out[i], Some(Admit::Accepted { .. })))
            .collect();
        let ids: Vec<(i64, bool)> = accepted
            .iter()
            .filter_map(|&i| match out[i] {
                Some(Admit::Accepted { id, credit, .. }) if id > 0 => Some((id, credit)),
                _ => None,
            })
            .collect();
        if !ids.is_empty() {
            let list = |f: &dyn Fn(&(i64, bool)) -> bool| {
                let v: Vec<String> = ids
                    .iter()
                    .filter(|x| f(x))
                    .map(|(id, _)| id.to_string())
                    .collect();
                if v.is_empty() {
                    "-1".to_string()
                } else {
                    v.join(", ")
                }
            };
            let sql = format!(
                "INSERT INTO message_events (message_id, at, status, detail)                  SELECT id, created_at, status, CASE WHEN id IN ({}) THEN 'paid with a credit' END                  FROM merchant_messages WHERE id IN ({}) ORDER BY id",
                list(&|x| x.1),
                list(&|_| true)
            );
            // its id lists make it a one-off: not kept among the prepared statements
            sqlx::query(&sql)
                .persistent(false)
                .execute(&mut *tx)
                .await
                .op("record message events")?;
        }

        // 4. the answers the claimed keys keep, in one update
        let mut kept: Vec<(String, String, i64, String)> = Vec::new();
        for &i in &claiming {
            if let (Some(a), Some((scope, key, _))) = (&out[i], &items[i].idem) {
                if matches!(a, Admit::Accepted { .. } | Admit::LimitReached { .. }) {
                    let (st, body) = answer(&items[i], a);
                    kept.push((scope.clone(), key.clone(), i64::from(st), body));
                }
            }
        }
        for chunk in kept.chunks(CHUNK) {
            let selects: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let p = |c: usize| match self.backend() {
                        Backend::Sqlite => "?".to_string(),
                        Backend::Postgres => format!("${}", r * 4 + c),
                    };
                    format!(
                        "SELECT CAST({} AS TEXT) AS s, CAST({} AS TEXT) AS k, CAST({} AS BIGINT) AS st, CAST({} AS TEXT) AS body",
                        p(1),
                        p(2),
                        p(3),
                        p(4)
                    )
                })
                .collect();
            let sql = format!(
                "UPDATE idempotency_keys SET status = v.st, response = v.body FROM ({}) AS v \
                 WHERE idempotency_keys.scope = v.s AND idempotency_keys.idem_key = v.k",
                selects.join(" UNION ALL ")
            );
            let mut q = sqlx::query(&sql);
            for (scope, key, st, body) in chunk {
                q = q
                    .bind(scope.as_str())
                    .bind(key.as_str())
                    .bind(*st)
                    .bind(body.as_str());
            }
            q.execute(&mut *tx).await.op("keep idempotent answers")?;
        }
        tx.commit().await.op("commit admitted messages")?;

        // 5. twins get their first's answer (or a conflict for another body)
        for (t, f) in twins {
            let same = items[t].idem.as_ref().map(|x| &x.2) == items[f].idem.as_ref().map(|x| &x.2);
            out[t] = Some(if !same {
                Admit::Mismatch
            } else {
                match &out[f] {
                    Some(a @ (Admit::Accepted { .. } | Admit::LimitReached { .. })) => {
                        let (st, body) = answer(&items[f], a);
                        Admit::Replay(st, body)
                    }
                    Some(other) => other.clone(),
                    None => Admit::Running,
                }
            });
        }
        Ok(out
            .into_iter()
            .map(|a| a.unwrap_or(Admit::Running))
            .collect())
    }
}
