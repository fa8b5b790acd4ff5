//! Request rate limits of the voice API (governor's keyed GCRA limiters):
//! keyed requests per API key (default 1,000 a minute), requests without a
//! key — and with a key that is not one — per client IP (default 100 a
//! minute). Every answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`
//! and `X-RateLimit-Reset` (seconds until the allowance is whole again); a
//! refusal is 429 RATE_LIMITED with `Retry-After`. In-process: each node
//! counts its own requests, unless the limits are shared through Redis
//! (`shared_limits.rs`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// What a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// An API key, by its id.
    Key(String),
    /// A client without a (valid) key.
    Ip(IpAddr),
}

/// The verdict on one request, for its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the allowance is whole again.
    pub reset_secs: u64,
    /// Refused: come back after this many seconds.
    pub retry_after_secs: Option<u64>,
}

pub struct Limits {
    keyed: Keyed<String>,
    public: Keyed<IpAddr>,
    key_limit: u32,
    public_limit: u32,
    checks: AtomicU64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::per_minute(1000, 100)
    }
}

impl Limits {
    /// `keyed` requests a minute per key, `public` a minute per IP (each at least 1).
    pub fn per_minute(keyed: u32, public: u32) -> Limits {
        let k = NonZeroU32::new(keyed.max(1)).unwrap_or(NonZeroU32::MIN);
        let p = NonZeroU32::new(public.max(1)).unwrap_or(NonZeroU32::MIN);
        Limits {
            keyed: RateLimiter::keyed(Quota::per_minute(k))
                .with_middleware::<StateInformationMiddleware>(),
            public: RateLimiter::keyed(Quota::per_minute(p))
                .with_middleware::<StateInformationMiddleware>(),
            key_limit: k.get(),
            public_limit: p.get(),
            checks: AtomicU64::new(0),
        }
    }

    /// The allowance a minute of `bucket`.
    pub fn limit_for(&self, bucket: &Bucket) -> u32 {
        match bucket {
            Bucket::Key(_) => self.key_limit,
            Bucket::Ip(_) => self.public_limit,
        }
    }

    /// Counts one request against `bucket`.
    pub fn check(&self, bucket: &Bucket) -> Allowance {
        if self.checks.fetch_add(1, Relaxed) % 8192 == 8191 {
            // forget buckets that are whole again (idle keys and clients)
            self.keyed.retain_recent();
            self.public.retain_recent();
        }
        let (limit, outcome) = match bucket {
            Bucket::Key(id) => (self.key_limit, self.keyed.check_key(id)),
            Bucket::Ip(ip) => (self.public_limit, self.public.check_key(ip)),
        };
        let per_cell = Duration::from_secs(60) / limit;
        match outcome {
            Ok(snap) => {
                let remaining = snap.remaining_burst_capacity();
                let missing = limit.saturating_sub(remaining);
                Allowance {
                    limit,
                    remaining,
                    reset_secs: (per_cell * missing).as_secs_f64().ceil() as u64,
                    retry_after_secs: None,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Allowance {
                    limit,
                    remaining: 0,
                    reset_secs: (per_cell * limit).as_secs(),
                    retry_after_secs: Some(wait.as_secs_f64().ceil().max(1.0) as u64),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_runs_out_and_others_do_not() {
        let l = Limits::per_minute(3, 2);
        let k = Bucket::Key("a".into());
        let seen: Vec<u32> = (0..3).map(|_| l.check(&k).remaining).collect();
        assert_eq!(seen, vec![2, 1, 0]);
        let refused = l.check(&k);
        assert_eq!(refused.remaining, 0);
        assert!(refused
            .retry_after_secs
            .is_some_and(|s| (1..=20).contains(&s)));
        // another key and the public buckets are untouched
        assert_eq!(l.check(&Bucket::Key("b".into())).remaining, 2);
        let ip = Bucket::Ip([127, 0, 0, 1].into());
        assert_eq!(l.check(&ip).limit, 2);
        assert_eq!(l.check(&ip).remaining, 0);
        assert!(l.check(&ip).retry_after_secs.is_some());
        assert!(l
            .check(&Bucket::Ip([127, 0, 0, 2].into()))
            .retry_after_secs
            .is_none());
    }
}
