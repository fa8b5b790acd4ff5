//! The time delivery runs on: the system's, or a hand-driven one for tests
//! (a retry schedule of hours passes in a step). Only retry waits and attempt
//! timestamps follow it; HTTP timeouts are real time.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

pub trait Clock: Send + Sync + 'static {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
    /// Resolves once `now_ms() >= at_ms`.
    fn sleep_until(&self, at_ms: i64) -> Sleep;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::events::now_ms()
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let wait = (at_ms - self.now_ms()).max(0) as u64;
        Box::pin(tokio::time::sleep(Duration::from_millis(wait)))
    }
}

/// A clock that moves only when told to.
pub struct ManualClock {
    now: AtomicI64,
    tick: watch::Sender<i64>,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> ManualClock {
        ManualClock {
            now: AtomicI64::new(start_ms),
            tick: watch::channel(start_ms).0,
        }
    }

    pub fn advance(&self, by: Duration) {
        let now =
            self.now.fetch_add(by.as_millis() as i64, Ordering::AcqRel) + by.as_millis() as i64;
        self.tick.send_replace(now);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::Acquire)
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let mut rx = self.tick.subscribe();
        Box::pin(async move {
            let _ = rx.wait_for(|now| *now >= at_ms).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleep_ends_when_the_clock_passes_it() {
        let c = std::sync::Arc::new(ManualClock::new(1_000));
        let mut s = c.sleep_until(6_000);
        assert!(tokio::time::timeout(Duration::from_millis(20), &mut s)
            .await
            .is_err());
        c.advance(Duration::from_secs(4));
        assert!(tokio::time::timeout(Duration::from_millis(20), &mut s)
            .await
            .is_err());
        c.advance(Duration::from_secs(1));
        s.await;
        assert_eq!(c.now_ms(), 6_000);
        c.sleep_until(10).await; // already past
    }
}
