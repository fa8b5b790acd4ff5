//! The sweeper: what no request or worker is waiting on. Every half second
//! it hands messages whose worker is gone (an earlier run of this node, or a
//! lease that ran out) to reconciliation; asks the provider about each
//! RECONCILING message — found: its state is taken over, nothing is sent;
//! certainly absent: it is retried; unknowable: it waits for a callback and,
//! after [`GIVE_UP_MS`], fails without being sent again (at most once per
//! Idempotency-Key) —; polls SENT messages whose callback is late (and
//! reveals the simulator's outcomes, a sweep at a time); and advances 10DLC records.

use std::sync::Arc;
use std::time::Duration;

use super::providers::{self, Lookup, Outcome, Remote};
use super::service::Service;
use super::settle::settle;
use crate::events::now_ms;
use crate::store::{MessageRow, Transition};

/// How long an ambiguous message waits for its provider's word.
pub const GIVE_UP_MS: i64 = 10 * 60_000;
/// How often a SENT message whose callback is late is polled.
const POLL_MS: i64 = 60_000;

pub fn spawn_sweeper(svc: Arc<Service>) {
    tokio::spawn(async move {
        let mut tick: u64 = 0;
        loop {
            if tick % 10 == 0 {
                match svc
                    .store
                    .orphaned_to_reconcile(&svc.node_prefix, &svc.owner, now_ms())
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(n, "messages left mid-hand-off go to reconciliation"),
                    Err(e) => tracing::warn!(error = %e, "cannot look for orphaned messages"),
                }
            }
            tick += 1;
            if let Err(e) = sweep(&svc).await {
                tracing::warn!(error = %e, "the merchant sweeper failed a round");
            }
            if let Err(e) = super::messaging::advance_due(&svc).await {
                tracing::warn!(error = %e, "cannot advance messaging records");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

async fn sweep(svc: &Arc<Service>) -> Result<(), crate::store::StoreError> {
    let now = now_ms();
    for m in svc.store.due_in("RECONCILING", now, 200).await? {
        reconcile(svc, m).await?;
    }
    // the simulator's outcomes, set-based; what is left due is polled one by one
    super::handoff::reveal_due(svc).await?;
    for m in svc.store.due_in("SENT", now, 500).await? {
        poll(svc, m).await?;
    }
    Ok(())
}

/// Asks the message's provider (the simulator when none was noted: it is the
/// only one not noted before a hand-off).
pub async fn lookup(svc: &Service, m: &MessageRow) -> Lookup {
    match m.provider.as_deref().unwrap_or("simulator") {
        "simulator" => providers::simulator::lookup(svc, m).await,
        "twilio" => providers::twilio::lookup(svc, m).await,
        "telnyx" => providers::telnyx::lookup(svc, m).await,
        "voice" => voice_lookup(svc, m).await,
        // SMTP and SIP devices cannot be asked
        _ => Lookup::Unknown,
    }
}

/// A voice message's call: its detail record says whether it was answered.
async fn voice_lookup(svc: &Service, m: &MessageRow) -> Lookup {
    let Some(call) = m.provider_ref.as_deref().filter(|r| !r.is_empty()) else {
        // never placed (the worker stopped before the switch took it)
        return Lookup::NotFound;
    };
    match svc.store.cdr(call).await {
        Ok(Some(cdr)) => Lookup::Found {
            reference: call.to_string(),
            state: if cdr.answered_at.is_some() {
                Remote::Delivered
            } else {
                Remote::Undelivered(format!("the call was not answered ({})", cdr.hangup_cause))
            },
            cost_micros: None,
        },
        // placed, and no record: the call died with the process that placed it
        _ => Lookup::Unknown,
    }
}

async fn reconcile(svc: &Arc<Service>, m: MessageRow) -> Result<(), crate::store::StoreError> {
    let provider = m.provider.clone().unwrap_or_else(|| "simulator".into());
    match lookup(svc, &m).await {
        Lookup::Found {
            reference,
            state,
            cost_micros,
        } => {
            let outcome = match state {
                Remote::Pending | Remote::Delivered => Outcome::Accepted {
                    reference,
                    cost_micros,
                    delivered: state == Remote::Delivered,
                },
                Remote::Undelivered(reason) => Outcome::Undelivered { reference, reason },
            };
            settle(svc, &m, &provider, outcome).await;
        }
        Lookup::NotFound => {
            settle(
                svc,
                &m,
                &provider,
                Outcome::Retry {
                    reason: "the provider does not have it: sending again".into(),
                    after: Some(Duration::ZERO),
                    unreachable: false,
                },
            )
            .await;
        }
        Lookup::Unknown if now_ms() - m.updated_at > GIVE_UP_MS => {
            let t = Transition {
                status: "FAILED",
                is_final: true,
                error: Some(
                    "the hand-off's outcome is unknown and the provider cannot say; not sent again",
                ),
                ..Default::default()
            };
            svc.advance(&m, &["RECONCILING"], t).await?;
        }
        Lookup::Unknown => svc.store.reschedule(m.id, now_ms() + 15_000).await?,
    }
    Ok(())
}

async fn poll(svc: &Arc<Service>, m: MessageRow) -> Result<(), crate::store::StoreError> {
    let provider = m.provider.clone().unwrap_or_else(|| "simulator".into());
    let t = match lookup(svc, &m).await {
        Lookup::Found {
            state: Remote::Delivered,
            cost_micros,
            ..
        } => Transition {
            status: "DELIVERED",
            is_final: true,
            provider: Some(&provider),
            cost_micros,
            ..Default::default()
        },
        Lookup::Found {
            state: Remote::Undelivered(reason),
            cost_micros,
            ..
        } => {
            return svc
                .advance(
                    &m,
                    &["SENT"],
                    Transition {
                        status: "UNDELIVERED",
                        is_final: true,
                        provider: Some(&provider),
                        cost_micros,
                        error: Some(&reason),
                        ..Default::default()
                    },
                )
                .await
                .map(|_| ());
        }
        _ => return svc.store.reschedule(m.id, now_ms() + POLL_MS).await,
    };
    svc.advance(&m, &["SENT"], t).await.map(|_| ())
}

/// A provider's word on a message from its callback (Twilio, Telnyx):
/// taken over whatever state the message is in on the way there, never
/// undoing a final one.
pub async fn apply_remote(
    svc: &Arc<Service>,
    m: &MessageRow,
    provider: &str,
    reference: &str,
    state: Remote,
    cost_micros: Option<i64>,
) -> Result<bool, crate::store::StoreError> {
    let from = ["SENDING", "RECONCILING", "SENT"];
    let (status, is_final, error) = match &state {
        Remote::Pending => ("SENT", false, None),
        Remote::Delivered => ("DELIVERED", true, None),
        Remote::Undelivered(why) => ("UNDELIVERED", true, Some(why.as_str())),
    };
    if status == "SENT" && m.status == "SENT" {
        return Ok(false);
    }
    let t = Transition {
        status,
        is_final,
        provider: Some(provider),
        provider_ref: Some(reference),
        cost_micros,
        error,
        next_at: (!is_final).then(|| now_ms() + POLL_MS),
        detail: Some("provider callback"),
    };
    svc.advance(m, &from, t).await
}
