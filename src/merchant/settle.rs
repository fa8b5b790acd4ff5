//! Settling a hand-off: the one place a provider's outcome becomes the
//! message's next state — taken → SENT (→ DELIVERED when that is already
//! final), refused → FAILED / UNDELIVERED, not taken → RETRY on the backoff
//! schedule until the attempts run out (DEAD_LETTER), ambiguous →
//! RECONCILING (asked of the provider before anything is sent again).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::providers::Outcome;
use super::service::Service;
use super::Channel;
use crate::events::now_ms;
use crate::store::{MessageRow, Transition};

/// Seconds between attempts (seed 004's schedule, first steps), with up to 10 % jitter.
const BACKOFF_MS: [i64; 7] = [
    1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000, 21_600_000,
];

/// When attempt `attempts` (1-based, just failed) is followed by the next.
pub fn backoff_ms(attempts: i64, jitter: f64) -> i64 {
    let i = usize::try_from(attempts.max(1) - 1)
        .unwrap_or(0)
        .min(BACKOFF_MS.len() - 1);
    let base = BACKOFF_MS[i];
    base + (base as f64 * 0.1 * jitter.clamp(0.0, 1.0)) as i64
}

/// Turns a hand-off's outcome into the message's next state.
pub async fn settle(svc: &Arc<Service>, m: &MessageRow, provider: &str, outcome: Outcome) {
    let channel = Channel::parse(&m.channel).unwrap_or(Channel::Sms);
    let stats = svc.lane(channel);
    let now = now_ms();
    let from = ["SENDING", "RECONCILING"];
    let result = match &outcome {
        Outcome::Accepted {
            reference,
            cost_micros,
            delivered,
        } => {
            super::alerts::provider_ok(svc, provider).await;
            stats.processed.fetch_add(1, Relaxed);
            // the simulator reveals its outcome after its delay; others call back (or are polled)
            let look_again = if provider == "simulator" {
                now + svc.args.simulator_delay_ms as i64
            } else {
                now + 60_000
            };
            let sent = Transition {
                status: "SENT",
                provider: Some(provider),
                provider_ref: Some(reference),
                cost_micros: *cost_micros,
                next_at: Some(look_again),
                ..Default::default()
            };
            match svc.advance(m, &from, sent).await {
                Ok(true) if *delivered => {
                    let done = Transition {
                        status: "DELIVERED",
                        is_final: true,
                        provider: Some(provider),
                        ..Default::default()
                    };
                    svc.advance(m, &["SENT"], done).await
                }
                other => other,
            }
        }
        Outcome::Undelivered { reference, reason } => {
            super::alerts::provider_ok(svc, provider).await;
            stats.processed.fetch_add(1, Relaxed);
            stats.failed.fetch_add(1, Relaxed);
            let t = Transition {
                status: "UNDELIVERED",
                is_final: true,
                provider: Some(provider),
                provider_ref: Some(reference),
                error: Some(reason),
                ..Default::default()
            };
            svc.advance(m, &from, t).await
        }
        Outcome::Rejected(reason) => {
            super::alerts::provider_failed(svc, provider, false).await;
            stats.failed.fetch_add(1, Relaxed);
            let t = Transition {
                status: "FAILED",
                is_final: true,
                provider: Some(provider),
                error: Some(reason),
                ..Default::default()
            };
            svc.advance(m, &from, t).await
        }
        Outcome::Retry {
            reason,
            after,
            unreachable,
        } => {
            super::alerts::provider_failed(svc, provider, *unreachable).await;
            if m.attempts >= i64::from(svc.args.dispatch_max_attempts) {
                stats.dead_lettered.fetch_add(1, Relaxed);
                stats.failed.fetch_add(1, Relaxed);
                let detail = format!("gave up after {} attempts: {reason}", m.attempts);
                let t = Transition {
                    status: "DEAD_LETTER",
                    is_final: true,
                    provider: Some(provider),
                    error: Some(reason),
                    detail: Some(&detail),
                    ..Default::default()
                };
                svc.advance(m, &from, t).await
            } else {
                stats.retried.fetch_add(1, Relaxed);
                let wait = after
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or_else(|| backoff_ms(m.attempts, rand::random::<f64>()));
                let t = Transition {
                    status: "RETRY",
                    provider: Some(provider),
                    error: Some(reason),
                    next_at: Some(now + wait),
                    ..Default::default()
                };
                svc.advance(m, &from, t).await
            }
        }
        Outcome::Ambiguous(reason) => {
            super::alerts::provider_failed(svc, provider, false).await;
            let t = Transition {
                status: "RECONCILING",
                provider: Some(provider),
                error: Some(reason),
                next_at: Some(now + 3_000),
                ..Default::default()
            };
            svc.advance(m, &from, t).await
        }
    };
    if let Err(e) = result {
        // the lease runs out and reconciliation picks it up: nothing is sent twice
        tracing::warn!(message = m.id, error = %e, "cannot store a message's outcome");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_follows_the_schedule_with_bounded_jitter() {
        assert_eq!(super::backoff_ms(1, 0.0), 1_000);
        assert_eq!(super::backoff_ms(2, 0.0), 5_000);
        assert_eq!(super::backoff_ms(3, 1.0), 33_000);
        assert_eq!(super::backoff_ms(99, 0.0), 21_600_000);
        for j in [0.0, 0.5, 1.0] {
            let d = super::backoff_ms(4, j);
            assert!((120_000..=132_000).contains(&d), "{d}");
        }
    }
}
