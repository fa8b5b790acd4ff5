//! Delivery when the event log is a JetStream stream (`--nats-url`, several
//! nodes): every node runs, for each subscription, one task per lane of the
//! account's events and one for its replays, each reading that lane's durable
//! consumer. The consumer hands out one message at a time to whichever node
//! asks, and holds the next until this one is acknowledged — also while it
//! waits for its retry (a negative acknowledgement with the schedule's
//! delay) — so the events of one call arrive in order, and an event a killed
//! node was delivering is handed to another once its acknowledgement is
//! overdue. The stream and its consumers hold what the store-mode worker
//! keeps in `webhook_pending` and the cursor.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::worker::{attempt, gave_up, Control, Item, Secrets};
use super::{payload, Shared, Subscription};
use crate::jetstream::{record_of, EventStream, Lane, LANES};

/// What every lane of a subscription reads its settings from.
#[derive(Clone)]
struct State {
    sub: Arc<Subscription>,
    secrets: Secrets,
}

/// How much longer than the receiver's timeout a consumer waits for an
/// acknowledgement before it hands the event to another node.
const ACK_MARGIN: Duration = Duration::from_secs(5);

/// Runs one subscription's lanes on this node until told to stop.
pub(super) async fn run(
    sh: Arc<Shared>,
    es: EventStream,
    sub: Subscription,
    secrets: Secrets,
    failures: u32,
    mut ctl: mpsc::UnboundedReceiver<Control>,
) {
    let (tx, rx) = watch::channel(State {
        sub: Arc::new(sub),
        secrets,
    });
    let failures = Arc::new(AtomicU32::new(failures));
    let lanes = (0..LANES).map(Lane::Calls).chain([Lane::Replays]);
    let mut tasks = JoinSet::new();
    for lane in lanes {
        let l = LaneTask {
            sh: sh.clone(),
            es: es.clone(),
            state: rx.clone(),
            updates: tx.clone(),
            failures: failures.clone(),
            lane,
        };
        tasks.spawn(l.run());
    }
    while let Some(c) = ctl.recv().await {
        match c {
            Control::Update(s) => {
                if s.settings.enabled {
                    failures.store(0, Ordering::Relaxed);
                }
                tx.send_modify(|st| st.sub = Arc::new(*s));
            }
            Control::Secrets(s) => tx.send_modify(|st| st.secrets = s),
            Control::Replay(rec) => {
                let id = tx.borrow().sub.id.to_string();
                if let Err(e) = es.publish_replay(&id, &rec).await {
                    tracing::error!(webhook = %id, error = %e, "replay not queued");
                }
            }
            Control::Stop => break,
        }
    }
    // an event in flight is handed to another node once its ack is overdue
    tasks.abort_all();
}

struct LaneTask {
    sh: Arc<Shared>,
    es: EventStream,
    state: watch::Receiver<State>,
    /// To disable the subscription for every lane.
    updates: watch::Sender<State>,
    /// Deliveries given up on in a row (on this node).
    failures: Arc<AtomicU32>,
    lane: Lane,
}

impl LaneTask {
    async fn run(mut self) {
        let mut backoff = Duration::from_millis(200);
        loop {
            while !self.state.borrow().sub.settings.enabled {
                if self.state.changed().await.is_err() {
                    return;
                }
            }
            let sub = self.state.borrow().sub.clone();
            let since = chrono::DateTime::from_timestamp_millis(sub.created_at).unwrap_or_default();
            let consumer = self
                .es
                .consumer(
                    &sub.id.to_string(),
                    sub.account_id.as_str(),
                    self.lane,
                    since,
                    self.sh.config.timeout + ACK_MARGIN,
                )
                .await;
            let messages = match consumer {
                Ok(c) => c.messages().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let mut messages = match messages {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(webhook = %sub.id, lane = ?self.lane, error = %e, "webhook consumer unavailable; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            backoff = Duration::from_millis(200);
            loop {
                tokio::select! {
                    m = messages.next() => match m {
                        Some(Ok(m)) => self.handle(m).await,
                        Some(Err(e)) => {
                            tracing::warn!(webhook = %sub.id, lane = ?self.lane, error = %e, "webhook consumer failed; reopening");
                            break;
                        }
                        None => break,
                    },
                    changed = self.state.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        if !self.state.borrow().sub.settings.enabled {
                            break;
                        }
                    }
                }
            }
        }
    }

    /// One message: deliver it if the subscription takes it, then acknowledge
    /// (delivered, not taken, or given up on) or ask again after the retry delay.
    async fn handle(&self, m: jetstream::Message) {
        let State { sub, secrets } = self.state.borrow().clone();
        let Some(rec) = record_of(&m) else {
            let _ = m.ack_with(AckKind::Term).await;
            return;
        };
        let event: Value = serde_json::from_str(&rec.json).unwrap_or(Value::Null);
        let takes = rec.account_id == sub.account_id.as_str()
            && sub.settings.hook.takes(&rec.name)
            && sub.takes(&rec, &event);
        if !takes || !sub.settings.enabled {
            if sub.settings.enabled {
                let _ = m.ack().await;
            } else {
                // disabled meanwhile: back to the consumer for when it is enabled
                let _ = m.ack_with(AckKind::Nak(Some(Duration::from_secs(5)))).await;
            }
            return;
        }
        let delivered = m.info().map(|i| i.delivered).unwrap_or(1).max(1);
        let item = Item {
            key: payload::order_key(&event),
            rec: Arc::new(rec),
            event: Arc::new(event),
            attempts: u32::try_from(delivered - 1).unwrap_or(0),
            replay: self.lane == Lane::Replays,
            stored: false,
        };
        let mut d = attempt(self.sh.clone(), sub.clone(), secrets, item).await;
        d.item.attempts += 1;
        let _ = self.sh.attempts.send(d.row(&sub));
        let ack = if d.outcome.delivered() {
            if self.failures.swap(0, Ordering::Relaxed) > 0 {
                let _ = self
                    .sh
                    .store
                    .set_webhook_failures(&sub.id.to_string(), 0, None, d.at_ms)
                    .await;
            }
            AckKind::Ack
        } else if d.retries_left(&sub) > 0 {
            AckKind::Nak(Some(d.retry_wait()))
        } else {
            let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(reason) = gave_up(&self.sh, &sub, n, &d.error(), d.at_ms).await {
                self.updates.send_modify(|st| {
                    let mut s = (*st.sub).clone();
                    s.settings.enabled = false;
                    s.disabled_reason = Some(reason);
                    st.sub = Arc::new(s);
                });
            }
            AckKind::Ack
        };
        // the stream must know, or the event comes again
        for _ in 0..3 {
            match m.double_ack_with(ack).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(webhook = %sub.id, event = d.item.rec.seq, error = %e, "acknowledgement not confirmed; retrying")
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
