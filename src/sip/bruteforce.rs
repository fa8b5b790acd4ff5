//! Failed-authentication limiter per source IP: counts digest failures in a window and
//! blocks an address for a cool-down once it reaches the limit. It only decides; it must
//! not do IO, read a clock, log or touch metrics. Callers pass `now`, reject blocked
//! sources before verifying credentials, and log or count when a block starts.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Default cap on tracked addresses.
pub const DEFAULT_MAX_TRACKED: usize = 100_000;
/// Cool-downs are clamped to this, so `now + cooldown` cannot overflow.
const MAX_COOLDOWN: Duration = Duration::from_secs(365 * 24 * 3600);

#[derive(Debug, Clone, Copy)]
struct Record {
    /// When the current counting window started (the first failure counted in it).
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

impl Record {
    fn blocked(&self, now: Instant) -> bool {
        self.blocked_until.is_some_and(|until| now < until)
    }
}

/// Thread-safe limiter; every method takes `&self`.
///
/// The window is fixed and starts at the first failure after a quiet period: when it has
/// passed, counting starts again from zero. `max_failures` failures inside one window
/// block the address for `cooldown`; failures while blocked are not counted.
#[derive(Debug)]
pub struct AuthLimiter {
    max_failures: u32,
    window: Duration,
    cooldown: Duration,
    max_tracked: usize,
    records: DashMap<IpAddr, Record>,
}

impl AuthLimiter {
    /// Block after `max_failures` (at least 1) failures within `window`, for `cooldown`.
    pub fn new(max_failures: u32, window: Duration, cooldown: Duration) -> Self {
        AuthLimiter {
            max_failures: max_failures.max(1),
            window,
            cooldown: cooldown.min(MAX_COOLDOWN),
            max_tracked: DEFAULT_MAX_TRACKED,
            records: DashMap::new(),
        }
    }

    /// Cap the number of tracked addresses (at least 1).
    pub fn with_max_tracked(mut self, max: usize) -> Self {
        self.max_tracked = max.max(1);
        self
    }

    /// Is `ip` inside a cool-down at `now`?
    pub fn is_blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.records.get(&ip).is_some_and(|r| r.blocked(now))
    }

    /// Count a failed authentication from `ip`. Returns true when this failure starts a
    /// block (the caller logs it and bumps a metric); false otherwise, including while
    /// already blocked and when the table is full of addresses that cannot be dropped.
    pub fn record_failure(&self, ip: IpAddr, now: Instant) -> bool {
        if !self.records.contains_key(&ip) && self.records.len() >= self.max_tracked {
            self.make_room(now);
            if self.records.len() >= self.max_tracked {
                return false;
            }
        }
        let fresh = Record {
            window_start: now,
            failures: 0,
            blocked_until: None,
        };
        let mut record = self.records.entry(ip).or_insert(fresh);
        if record.blocked(now) {
            return false;
        }
        let expired = now.saturating_duration_since(record.window_start) >= self.window;
        if expired || record.blocked_until.is_some() {
            *record = fresh;
        }
        record.failures += 1;
        if record.failures < self.max_failures {
            return false;
        }
        record.failures = 0;
        record.blocked_until = Some(now + self.cooldown);
        true
    }

    /// A successful authentication from `ip` forgets its failures (not an active block).
    pub fn record_success(&self, ip: IpAddr) {
        self.records
            .remove_if(&ip, |_, r| r.blocked_until.is_none());
    }

    /// Number of addresses blocked at `now`.
    pub fn blocked_count(&self, now: Instant) -> usize {
        self.records.iter().filter(|r| r.blocked(now)).count()
    }

    /// Number of tracked addresses.
    pub fn tracked(&self) -> usize {
        self.records.len()
    }

    /// Drop records that no longer matter at `now`: not blocked, and window passed.
    pub fn purge(&self, now: Instant) {
        self.records
            .retain(|_, r| r.blocked(now) || self.counting(r, now));
    }

    fn counting(&self, r: &Record, now: Instant) -> bool {
        r.blocked_until.is_none() && now.saturating_duration_since(r.window_start) < self.window
    }

    /// When full: purge, then drop addresses that are counting but not blocked, so an
    /// attacker spraying sources cannot unblock the ones already in cool-down.
    fn make_room(&self, now: Instant) {
        self.purge(now);
        if self.records.len() >= self.max_tracked {
            self.records.retain(|_, r| r.blocked(now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// 5 failures within 60 s block for 300 s.
    fn limiter() -> AuthLimiter {
        AuthLimiter::new(5, secs(60), secs(300))
    }

    #[test]
    fn nth_failure_blocks_until_cooldown_ends() {
        let (l, t0) = (limiter(), Instant::now());
        for i in 0..4 {
            assert!(!l.record_failure(A, t0 + secs(i)), "failure {i}");
            assert!(!l.is_blocked(A, t0 + secs(i)));
        }
        assert!(
            l.record_failure(A, t0 + secs(4)),
            "5th failure starts the block"
        );
        assert!(l.is_blocked(A, t0 + secs(4)));
        assert!(!l.is_blocked(B, t0 + secs(4)), "other addresses unaffected");
        assert_eq!(l.blocked_count(t0 + secs(5)), 1);
        // Failures during the block neither extend it nor start a new one.
        assert!(!l.record_failure(A, t0 + secs(100)));
        assert!(l.is_blocked(A, t0 + secs(303)));
        assert!(!l.is_blocked(A, t0 + secs(304)), "cool-down over");
        assert_eq!(l.blocked_count(t0 + secs(304)), 0);
        // After the cool-down counting starts from zero.
        for i in 0..4 {
            assert!(!l.record_failure(A, t0 + secs(310 + i)));
        }
        assert!(l.record_failure(A, t0 + secs(314)));
    }

    #[test]
    fn window_passing_resets_the_count() {
        let (l, t0) = (limiter(), Instant::now());
        for i in 0..4 {
            l.record_failure(A, t0 + secs(i));
        }
        // The 5th failure comes after the 60 s window: it is failure 1 of a new window.
        assert!(!l.record_failure(A, t0 + secs(61)));
        for i in 0..3 {
            assert!(!l.record_failure(A, t0 + secs(62 + i)));
        }
        assert!(!l.is_blocked(A, t0 + secs(65)));
        assert!(
            l.record_failure(A, t0 + secs(66)),
            "5 failures in the new window"
        );
    }

    #[test]
    fn success_resets_but_does_not_lift_a_block() {
        let (l, t0) = (limiter(), Instant::now());
        for i in 0..4 {
            l.record_failure(A, t0 + secs(i));
        }
        l.record_success(A);
        assert_eq!(l.tracked(), 0);
        assert!(!l.record_failure(A, t0 + secs(5)), "count restarted");
        for i in 0..4 {
            l.record_failure(B, t0 + secs(i));
        }
        assert!(l.record_failure(B, t0 + secs(4)));
        l.record_success(B);
        assert!(l.is_blocked(B, t0 + secs(5)));
    }

    #[test]
    fn purge_and_cap_bound_memory() {
        let l = AuthLimiter::new(2, secs(60), secs(300)).with_max_tracked(10);
        let t0 = Instant::now();
        let ip = |i: u8| IpAddr::V4(Ipv4Addr::new(198, 51, 100, i));
        for i in 0..3 {
            l.record_failure(ip(i), t0);
            assert!(l.record_failure(ip(i), t0), "blocked {i}");
        }
        for i in 3..10 {
            l.record_failure(ip(i), t0);
        }
        assert_eq!(l.tracked(), 10);
        // Full: a new source evicts the counting ones, never the blocked ones.
        assert!(!l.record_failure(ip(200), t0 + secs(1)));
        assert_eq!((l.tracked(), l.blocked_count(t0 + secs(1))), (4, 3));
        // A flood of new sources cannot exceed the cap or unblock anyone.
        for i in 0..=255 {
            l.record_failure(IpAddr::V4(Ipv4Addr::new(203, 0, 113, i)), t0 + secs(2));
            assert!(l.tracked() <= 10);
        }
        assert_eq!(l.blocked_count(t0 + secs(2)), 3);
        // Purge keeps blocks until they end, and drops windows that have passed.
        l.purge(t0 + secs(100));
        assert_eq!(l.tracked(), 3);
        l.purge(t0 + secs(301));
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn full_of_blocks_refuses_new_sources() {
        let l = AuthLimiter::new(1, secs(60), secs(300)).with_max_tracked(2);
        let t0 = Instant::now();
        assert!(l.record_failure(A, t0) && l.record_failure(B, t0));
        let c = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!(!l.record_failure(c, t0));
        assert_eq!((l.tracked(), l.is_blocked(c, t0)), (2, false));
        assert!(
            l.record_failure(c, t0 + secs(301)),
            "room again once blocks end"
        );
    }

    #[test]
    fn extreme_settings_do_not_panic() {
        let l = AuthLimiter::new(0, Duration::ZERO, Duration::MAX);
        let t0 = Instant::now();
        assert!(l.record_failure(A, t0), "max_failures 0 behaves as 1");
        assert!(l.is_blocked(A, t0 + secs(1_000_000)));
        // A clock that goes backwards does not panic.
        let l = limiter();
        l.record_failure(A, t0 + secs(10));
        assert!(!l.record_failure(A, t0));
        l.purge(t0);
    }
}
