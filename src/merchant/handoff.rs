//! The batched hand-off to the simulator (SIMULATOR mode, SMS and email): a
//! lane's claimed batch is checked again against the store — each merchant
//! read once, each merchant's consents for the batch in one read —, held to
//! the lane's and the merchants' rate limits, then handed over and marked
//! SENT in one transaction; the sweeper reveals the outcomes the simulator
//! fixed the same way, a sweep at a time ([`reveal_due`]). Voice keeps the
//! per-message path (its calling window), and so do the live providers
//! (each hand-off is its own request to them).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::providers::{simulator, Outcome};
use super::service::Service;
use super::settle::settle;
use super::{hand_off_refusal, Channel, ConsentStatus};
use crate::events::now_ms;
use crate::store::{MessageRow, SimHandoff, StoreError, Transition, SIM_FAILURE};

/// How many outcomes one sweep reveals at most (a sweep every half second).
const REVEAL_MAX: i64 = 4_000;

/// Hands a claimed batch (all of it SIMULATOR-mode SMS or email, each with
/// its account's simulated failure rate) to the simulator.
pub async fn to_simulator(svc: &Arc<Service>, channel: Channel, batch: Vec<(MessageRow, f64)>) {
    let refusals = match still_allowed(svc, channel, &batch).await {
        Ok(r) => r,
        Err(e) => {
            let all: Vec<MessageRow> = batch.into_iter().map(|(m, _)| m).collect();
            return retry_all(svc, &all, format!("cannot read the consent: {e}")).await;
        }
    };
    let mut go = Vec::with_capacity(batch.len());
    for ((m, rate), why) in batch.into_iter().zip(refusals) {
        match why {
            None => go.push((m, rate)),
            Some(why) => refuse(svc, &m, why).await,
        }
    }
    if go.is_empty() {
        return;
    }
    for (m, _) in &go {
        svc.wait_to_send(channel, m.merchant_pk).await;
    }
    let items: Vec<SimHandoff> = go
        .iter()
        .map(|(m, rate)| {
            let fails = *rate > 0.0 && rand::random::<f64>() < *rate;
            let payload: serde_json::Value = serde_json::from_str(&m.payload).unwrap_or_default();
            SimHandoff {
                message: m,
                body: simulator::body_of(m, &payload),
                outcome: if fails { "UNDELIVERED" } else { "DELIVERED" },
            }
        })
        .collect();
    let now = now_ms();
    let reveal_at = now + svc.args.simulator_delay_ms as i64;
    match svc.store.simulate_batch(&items, reveal_at, now).await {
        Ok(moved) => {
            svc.lane(channel)
                .processed
                .fetch_add(moved.len() as u64, Relaxed);
            let by_id: HashMap<i64, &MessageRow> = go.iter().map(|(m, _)| (m.id, m)).collect();
            for id in moved {
                super::alerts::provider_ok(svc, "simulator").await;
                if let Some(m) = by_id.get(&id) {
                    svc.publish(m, "SENT", Some("simulator"), None).await;
                }
            }
        }
        Err(e) => {
            drop(items);
            let all: Vec<MessageRow> = go.into_iter().map(|(m, _)| m).collect();
            retry_all(svc, &all, format!("the simulator could not record it: {e}")).await;
        }
    }
}

/// Why each message of the batch may no longer go (the recipient opted out
/// since, the merchant was deactivated), if so — read from the store, not
/// from the admission caches.
async fn still_allowed(
    svc: &Service,
    channel: Channel,
    batch: &[(MessageRow, f64)],
) -> Result<Vec<Option<String>>, StoreError> {
    let mut active: HashMap<i64, Option<bool>> = HashMap::new();
    let mut contacts: HashMap<i64, Vec<&str>> = HashMap::new();
    for (m, _) in batch {
        if let Entry::Vacant(slot) = active.entry(m.merchant_pk) {
            let row = svc.store.merchant_by_pk(m.merchant_pk).await?;
            slot.insert(row.map(|r| r.active));
        }
        contacts
            .entry(m.merchant_pk)
            .or_default()
            .push(m.recipient.as_str());
    }
    let mut consents: HashMap<i64, HashMap<String, String>> = HashMap::new();
    for (pk, list) in &mut contacts {
        list.sort_unstable();
        list.dedup();
        consents.insert(
            *pk,
            svc.store
                .current_consents(*pk, channel.as_str(), list)
                .await?,
        );
    }
    Ok(batch
        .iter()
        .map(|(m, _)| {
            let consent = consents
                .get(&m.merchant_pk)
                .and_then(|c| c.get(&m.recipient))
                .and_then(|s| ConsentStatus::parse(s));
            let active = active.get(&m.merchant_pk).copied().flatten();
            hand_off_refusal(active, &m.msg_type, consent)
        })
        .collect())
}

async fn refuse(svc: &Service, m: &MessageRow, why: String) {
    let t = Transition {
        status: "FAILED",
        is_final: true,
        error: Some(&why),
        ..Default::default()
    };
    if let Err(e) = svc.advance(m, &["SENDING"], t).await {
        tracing::warn!(message = m.id, error = %e, "cannot fail a message");
    }
}

/// The store could not be read or written: each message is retried on its
/// backoff (nothing was handed over — the transaction did not commit).
async fn retry_all(svc: &Arc<Service>, batch: &[MessageRow], reason: String) {
    for m in batch {
        settle(svc, m, "none", Outcome::store_failed(reason.clone())).await;
    }
}

/// Reveals the simulator's outcomes that are due; how many it revealed.
pub async fn reveal_due(svc: &Service) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let moved = svc.store.reveal_simulated(now_ms(), REVEAL_MAX).await?;
        let n = moved.len();
        for (m, status) in &moved {
            let detail = (*status == "UNDELIVERED").then_some(SIM_FAILURE);
            svc.publish(m, status, Some("simulator"), detail).await;
        }
        total += n;
        if (n as i64) < REVEAL_MAX {
            return Ok(total);
        }
    }
}
