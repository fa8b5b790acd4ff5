//! Providers' recent hand-off outcomes: a failure rate over [`FAILURE_RATE`]
//! across the last [`WINDOW`] hand-offs, or [`DOWN_AFTER`] failures to connect
//! in a row, is what `alerts` raises a provider alert for. Plain state, no IO.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Hand-offs a provider's failure rate is taken over.
pub const WINDOW: usize = 50;
/// Failure rate that raises an alert (with at least [`MIN_SAMPLES`]).
pub const FAILURE_RATE: f64 = 0.2;
pub const MIN_SAMPLES: usize = 10;
/// Connection failures in a row that mean a provider is down.
pub const DOWN_AFTER: u32 = 5;

#[derive(Default)]
struct Track {
    recent: VecDeque<bool>,
    unreachable_in_a_row: u32,
}

/// Providers' recent outcomes.
#[derive(Default)]
pub struct Health {
    by_provider: Mutex<HashMap<String, Track>>,
}

/// What one outcome says about a provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Fine,
    FailureRate(f64),
    Down(u32),
}

impl Health {
    /// Notes one outcome (`unreachable`: not even connected); the alert it calls for.
    pub fn note(&self, provider: &str, ok: bool, unreachable: bool) -> Verdict {
        let mut all = self.by_provider.lock().unwrap_or_else(|p| p.into_inner());
        let t = all.entry(provider.to_string()).or_default();
        t.recent.push_back(ok);
        while t.recent.len() > WINDOW {
            t.recent.pop_front();
        }
        t.unreachable_in_a_row = if unreachable {
            t.unreachable_in_a_row + 1
        } else {
            0
        };
        if t.unreachable_in_a_row >= DOWN_AFTER {
            return Verdict::Down(t.unreachable_in_a_row);
        }
        let failed = t.recent.iter().filter(|ok| !**ok).count();
        let rate = failed as f64 / t.recent.len() as f64;
        if t.recent.len() >= MIN_SAMPLES && rate > FAILURE_RATE {
            return Verdict::FailureRate(rate);
        }
        Verdict::Fine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_rate_and_down_are_judged_over_the_window() {
        let h = Health::default();
        for _ in 0..9 {
            assert_eq!(h.note("twilio", false, false), Verdict::Fine);
        }
        assert!(matches!(h.note("twilio", false, false), Verdict::FailureRate(r) if r > 0.99));
        let h = Health::default();
        for _ in 0..40 {
            h.note("telnyx", true, false);
        }
        for _ in 0..4 {
            h.note("telnyx", false, true);
        }
        assert_eq!(h.note("telnyx", false, true), Verdict::Down(5));
        assert_eq!(h.note("telnyx", true, false), Verdict::Fine);
    }
}
