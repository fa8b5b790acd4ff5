//! The lane workers: one loop per channel claims due messages from the
//! queue under a lease; SIMULATOR-mode SMS and email go over as a batch
//! (`handoff`), the rest one by one: voice kept inside the recipient's
//! calling window, consent and the merchant checked again, the lane's and
//! the merchant's rate limits waited on, the provider picked and handed the
//! message, and its outcome settled (`settle`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::providers::{self, Outcome, Route};
use super::service::Service;
use super::settle::settle;
use super::Channel;
use crate::events::now_ms;
use crate::store::{MessageRow, Transition};

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
                let simulated = if channel == Channel::Voice {
                    None
                } else {
                    svc.delivery_settings(&m.account_id)
                        .await
                        .ok()
                        .filter(|s| s.mode != "LIVE")
                };
                match simulated {
                    Some(s) => sims.push((m, s.sim_failure_rate)),
                    None => rest.push(m),
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
                Outcome::store_failed(format!("cannot read the consent: {e}")),
            )
            .await
        }
    }
    svc.wait_to_send(channel, m.merchant_pk).await;
    let settings = match svc.delivery_settings(&m.account_id).await {
        Ok(s) => s,
        Err(e) => {
            return settle(
                svc,
                &m,
                "none",
                Outcome::store_failed(format!("cannot read the delivery settings: {e}")),
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
                Outcome::store_failed(format!("cannot note the provider: {e}")),
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
    let active = svc
        .store
        .merchant_by_pk(m.merchant_pk)
        .await?
        .map(|r| r.active);
    let consent = svc
        .store
        .consent(m.merchant_pk, &m.channel, &m.recipient)
        .await?
        .and_then(|c| super::ConsentStatus::parse(&c.status));
    Ok(super::hand_off_refusal(active, &m.msg_type, consent))
}
