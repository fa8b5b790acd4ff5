//! The lane workers: one loop per channel claims due messages from the
//! queue under a lease, waits on the lane's and the merchant's rate limits,
//! keeps voice inside the recipient's calling window, hands each to its
//! provider and settles the outcome — the one place outcomes become states:
//! taken → SENT (→ DELIVERED when that is already final), refused → FAILED,
//! not taken → RETRY on the backoff schedule until the attempts run out
//! (DEAD_LETTER), ambiguous → RECONCILING (asked of the provider before
//! anything is sent again).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::providers::{self, Outcome, Route};
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

/// How many messages of a lane are in providers' hands at once.
fn concurrency(channel: Channel) -> usize {
    match channel {
        Channel::Sms => 64,
        Channel::Email => 16,
        Channel::Voice => 32,
    }
}

/// How long a worker's claim lasts (a voice message holds it for its call).
pub fn lease_ms(channel: Channel) -> i64 {
    match channel {
        Channel::Voice => 20 * 60_000,
        _ => 120_000,
    }
}

pub fn spawn_lane(svc: Arc<Service>, channel: Channel) {
    tokio::spawn(async move {
        let sem = Arc::new(Semaphore::new(concurrency(channel)));
        let wake = svc.wake[super::accept::lane_index(channel.as_str())].clone();
        loop {
            let free = sem.available_permits();
            if free == 0 {
                let _ = sem.acquire().await;
                continue;
            }
            let now = now_ms();
            let batch = match svc
                .store
                .claim_due(
                    channel.as_str(),
                    free as i64,
                    &svc.owner,
                    now,
                    now + lease_ms(channel),
                )
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(lane = channel.lane(), error = %e, "cannot claim messages");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
                continue;
            }
            // SIMULATOR-mode SMS and email go over as one batch; the rest one by one
            let mut rest = Vec::with_capacity(batch.len());
            let mut sims = Vec::new();
            for m in batch {
                let simulated = channel != Channel::Voice
                    && svc
                        .delivery_settings(&m.account_id)
                        .await
                        .is_ok_and(|s| s.mode != "LIVE");
                if simulated {
                    sims.push(m);
                } else {
                    rest.push(m);
                }
            }
            if !sims.is_empty() {
                super::handoff::to_simulator(&svc, channel, sims).await;
            }
            for m in rest {
                let Ok(permit) = sem.clone().acquire_owned().await else {
                    return;
                };
                let svc = svc.clone();
                tokio::spawn(async move {
                    handle(&svc, channel, m).await;
                    drop(permit);
                });
            }
        }
    });
}

async fn handle(svc: &Arc<Service>, channel: Channel, m: MessageRow) {
    let payload: serde_json::Value = serde_json::from_str(&m.payload).unwrap_or_default();
    if channel == Channel::Voice {
        let zone = super::window::zone(&m.recipient, payload["timeZone"].as_str());
        let now = now_ms();
        if let Some(opens) = super::window::next_open(now, zone) {
            let detail = format!(
                "outside the calling window (08:00-21:00 {}); scheduled",
                zone.name()
            );
            let t = Transition {
                status: "SCHEDULED",
                next_at: Some(opens),
                detail: Some(&detail),
                ..Default::default()
            };
            let done = svc.advance(&m, &["SENDING"], t).await;
            // a postponement is not an attempt
            let done = match done {
                Ok(true) => svc.store.uncount_attempt(m.id).await,
                other => other.map(|_| ()),
            };
            if let Err(e) = done {
                tracing::warn!(message = m.id, error = %e, "cannot schedule a voice message");
            }
            return;
        }
    }
    // consent and the merchant are checked again: a message may wait (a retry,
    // the calling window) while the recipient opts out or the merchant stops
    match still_allowed(svc, &m).await {
        Ok(None) => {}
        Ok(Some(why)) => {
            let t = Transition {
                status: "FAILED",
                is_final: true,
                error: Some(&why),
                ..Default::default()
            };
            if let Err(e) = svc.advance(&m, &["SENDING"], t).await {
                tracing::warn!(message = m.id, error = %e, "cannot fail a message");
            }
            return;
        }
        Err(e) => {
            return settle(
                svc,
                &m,
                "none",
                Outcome::Retry {
                    reason: format!("cannot read the consent: {e}"),
                    after: None,
                    unreachable: false,
                },
            )
            .await
        }
    }
    let stats = svc.lane(channel);
    let lane = &svc.lane_limits[super::accept::lane_index(channel.as_str())];
    if lane.check().is_err() || svc.merchant_limits.check_key(&m.merchant_pk).is_err() {
        stats.throttled.fetch_add(1, Relaxed);
        lane.until_ready().await;
        svc.merchant_limits.until_key_ready(&m.merchant_pk).await;
    }
    let settings = match svc.delivery_settings(&m.account_id).await {
        Ok(s) => s,
        Err(e) => {
            return settle(
                svc,
                &m,
                "none",
                Outcome::Retry {
                    reason: format!("cannot read the delivery settings: {e}"),
                    after: None,
                    unreachable: false,
                },
            )
            .await
        }
    };
    let sip_route = channel == Channel::Sms
        && settings.mode == "LIVE"
        && svc
            .sw
            .as_ref()
            .is_some_and(|sw| !providers::sip::targets(sw, &m).is_empty());
    let route = providers::route(&m, &settings, sip_route, svc.smtp.is_some());
    if !matches!(route, Route::Simulator | Route::Nowhere(_)) {
        // known before the hand-off, so reconciliation asks the right provider
        if let Err(e) = svc.store.set_provider_ref(m.id, route.name(), "").await {
            return settle(
                svc,
                &m,
                route.name(),
                Outcome::Retry {
                    reason: format!("cannot note the provider: {e}"),
                    after: None,
                    unreachable: false,
                },
            )
            .await;
        }
    }
    let outcome = match &route {
        Route::Simulator => providers::simulator::send(svc, &m, &payload, &settings).await,
        Route::Smtp => providers::smtp::send(svc, &m, &payload).await,
        Route::Twilio => providers::twilio::send(svc, &m, &payload).await,
        Route::Telnyx => providers::telnyx::send(svc, &m, &payload).await,
        Route::Sip => providers::sip::send(svc, &m, &payload).await,
        Route::Voice => providers::voice::send(svc, &m, &payload).await,
        Route::Nowhere(why) => Outcome::Rejected(why.clone()),
    };
    settle(svc, &m, route.name(), outcome).await;
}

/// Why a message may no longer go (the recipient opted out since, the
/// merchant was deactivated), if so.
async fn still_allowed(
    svc: &Service,
    m: &MessageRow,
) -> Result<Option<String>, crate::store::StoreError> {
    let Some(merchant) = svc.store.merchant_by_pk(m.merchant_pk).await? else {
        return Ok(Some("the merchant no longer exists".into()));
    };
    if !merchant.active {
        return Ok(Some(
            "the merchant was deactivated before it was sent".into(),
        ));
    }
    let consent = svc
        .store
        .consent(m.merchant_pk, &m.channel, &m.recipient)
        .await?
        .and_then(|c| super::ConsentStatus::parse(&c.status));
    let kind = super::MessageType::parse(&m.msg_type).unwrap_or(super::MessageType::Marketing);
    Ok(super::consent_allows(kind, consent)
        .err()
        .map(|_| "the recipient's consent no longer allows it (checked before sending)".into()))
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
