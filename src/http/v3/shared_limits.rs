//! Rate limits held across a cluster: the same GCRA as `limits.rs`, kept in
//! Redis (one key per bucket, its theoretical arrival time in milliseconds,
//! on Redis's own clock so the nodes need not agree on the time), applied by
//! one Lua script so every node's request counts against the same allowance.
//! When Redis cannot be reached a node counts on its own (in-process) until it
//! can again, rather than refusing everyone.

use redis::aio::ConnectionManager;
use redis::Script;

use super::limits::{Allowance, Bucket};

/// GCRA: KEYS[1] the bucket; ARGV[1] ms between requests at the steady rate,
/// ARGV[2] the burst (the limit). Returns {allowed, remaining, reset_ms, retry_ms}.
const GCRA: &str = r"
local t = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local window = t * limit
local next_tat = tat + t
if next_tat - now > window then
  return {0, 0, tat - now, next_tat - window - now}
end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(next_tat - now) + 1000)
return {1, math.floor((window - (next_tat - now)) / t), next_tat - now, 0}
";

pub struct SharedLimits {
    conn: ConnectionManager,
    script: Script,
    prefix: String,
}

impl SharedLimits {
    /// Connects to Redis at `url`; bucket keys start with `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> redis::RedisResult<SharedLimits> {
        let client = redis::Client::open(url)?;
        let conn = client.get_connection_manager().await?;
        Ok(SharedLimits {
            conn,
            script: Script::new(GCRA),
            prefix: prefix.to_string(),
        })
    }

    /// Counts one request against `bucket`, allowed `limit` a minute.
    pub async fn check(&self, bucket: &Bucket, limit: u32) -> redis::RedisResult<Allowance> {
        let limit = limit.max(1);
        let key = match bucket {
            Bucket::Key(id) => format!("{}key:{id}", self.prefix),
            Bucket::Ip(ip) => format!("{}ip:{ip}", self.prefix),
        };
        let per_ms = 60_000.0 / f64::from(limit);
        let mut conn = self.conn.clone();
        let (allowed, remaining, reset_ms, retry_ms): (i64, i64, i64, i64) = self
            .script
            .key(key)
            .arg(per_ms)
            .arg(limit)
            .invoke_async(&mut conn)
            .await?;
        let secs = |ms: i64| (ms.max(0) as u64).div_ceil(1000);
        Ok(Allowance {
            limit,
            remaining: remaining.clamp(0, i64::from(limit)) as u32,
            reset_secs: secs(reset_ms),
            retry_after_secs: (allowed == 0).then(|| secs(retry_ms).max(1)),
        })
    }
}
