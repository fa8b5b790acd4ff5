//! What a delivery attempt's result means, decided in one place, and when the
//! next attempt goes: 1 s, 5 s, 30 s, 2 min, 10 min, 1 h, 6 h (then 6 h), each
//! stretched by up to a tenth at random so failed receivers are not hit in
//! lockstep; a receiver's `Retry-After` (seconds or an HTTP date) replaces the
//! delay, up to 6 h.

use std::time::Duration;

/// The delay before retry N (N = 1 for the first), before jitter.
pub const SCHEDULE: [Duration; 7] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(3600),
    Duration::from_secs(6 * 3600),
];

/// The longest wait between attempts, whatever a receiver asks.
pub const MAX_DELAY: Duration = Duration::from_secs(6 * 3600);

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx.
    Delivered { status: u16 },
    /// Anything else: worth another try.
    Failed {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
}

impl Outcome {
    /// Classifies an HTTP response (`retry_after` is the header's value).
    pub fn from_status(status: u16, retry_after: Option<&str>, now_unix: i64) -> Outcome {
        if (200..300).contains(&status) {
            return Outcome::Delivered { status };
        }
        Outcome::Failed {
            status: Some(status),
            error: format!("HTTP {status}"),
            retry_after: retry_after.and_then(|v| parse_retry_after(v, now_unix)),
        }
    }

    pub fn delivered(&self) -> bool {
        matches!(self, Outcome::Delivered { .. })
    }
}

/// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`.
pub fn parse_retry_after(v: &str, now_unix: i64) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s).min(MAX_DELAY));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?.timestamp();
    Some(Duration::from_secs(at.saturating_sub(now_unix).max(0) as u64).min(MAX_DELAY))
}

/// The wait before retry `n` (1-based), jittered by `jitter` in [0, 1).
pub fn delay(n: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    if let Some(ra) = retry_after {
        return ra.min(MAX_DELAY);
    }
    let i = (n.max(1) as usize - 1).min(SCHEDULE.len() - 1);
    SCHEDULE[i].mul_f64(1.0 + 0.1 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_the_documented_one_with_bounded_jitter() {
        let secs: Vec<u64> = (1..=9).map(|n| delay(n, None, 0.0).as_secs()).collect();
        assert_eq!(secs, [1, 5, 30, 120, 600, 3600, 21_600, 21_600, 21_600]);
        let d = delay(2, None, 0.999);
        assert!(
            d > Duration::from_secs(5) && d < Duration::from_millis(5_500),
            "{d:?}"
        );
        assert_eq!(
            delay(1, Some(Duration::from_secs(42)), 0.5),
            Duration::from_secs(42)
        );
        assert_eq!(delay(1, Some(Duration::from_secs(1 << 30)), 0.5), MAX_DELAY);
    }

    #[test]
    fn responses_are_classified_once() {
        assert!(Outcome::from_status(204, None, 0).delivered());
        assert!(
            !Outcome::from_status(302, None, 0).delivered(),
            "redirects are not followed"
        );
        assert_eq!(
            Outcome::from_status(503, Some("7"), 0),
            Outcome::Failed {
                status: Some(503),
                error: "HTTP 503".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
        // an HTTP date 90 s from now
        let now = chrono::DateTime::parse_from_rfc2822("Wed, 21 Oct 2026 07:28:00 GMT")
            .expect("date")
            .timestamp();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:29:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
