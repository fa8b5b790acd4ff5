//! The event log on NATS JetStream, for several switch nodes (`--nats-url`).
//! Each node's events, once its store holds them, are published to one
//! stream — subject `<stream>.ev.<account>.<lane>` (the lane is the event's
//! call, hashed into [`LANES`]), message id the event id, so a message
//! published twice is kept once. A node records how far it got
//! (`event_relay`) and that it is alive; when a node falls silent, the others
//! publish what it had stored and not yet published. Webhook delivery then
//! reads the stream through one durable consumer per subscription and lane
//! (`webhooks`), so any node delivers and the loss of one loses nothing.
//! Above `events` and `store`, below `webhooks`.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;

use crate::events::{EventLog, Record};
use crate::store::event_log::LogReader;
use crate::store::Store;

/// Lanes per account: the events of one call keep to one, in order.
pub const LANES: u32 = 16;
/// How long the stream drops a message id it saw already.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// A node not heard from for this long has its stored events published by the others.
const SILENT_AFTER: Duration = Duration::from_secs(10);
/// How often a node saves its position and says it is alive.
const HEARTBEAT: Duration = Duration::from_millis(500);
/// Events published before their acknowledgements are awaited.
const WINDOW: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("JetStream stream {name} is not usable: {message}")]
    Stream { name: String, message: String },
}

/// The stream every node publishes to and every subscription reads from.
#[derive(Clone)]
pub struct EventStream {
    js: jetstream::Context,
    name: String,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventStream({})", self.name)
    }
}

/// A subject token from an account id (subjects take no dots, spaces or wildcards).
fn token(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The lane of an event (its call's, hashed; FNV-1a).
pub fn lane_of(key: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % LANES
}

impl EventStream {
    /// Connects and makes sure the stream exists (keeping events `retention`).
    pub async fn connect(
        url: &str,
        name: &str,
        retention: Duration,
    ) -> Result<EventStream, StreamError> {
        let client = async_nats::connect(url)
            .await
            .map_err(|e| StreamError::Connect {
                url: url.to_string(),
                message: e.to_string(),
            })?;
        let js = jetstream::new(client);
        let me = EventStream {
            js,
            name: name.to_string(),
        };
        me.js
            .get_or_create_stream(stream::Config {
                name: name.to_string(),
                subjects: vec![format!("{name}.ev.>")],
                max_age: retention,
                duplicate_window: DUPLICATE_WINDOW,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| me.err(e))?;
        Ok(me)
    }

    fn err(&self, e: impl std::fmt::Display) -> StreamError {
        StreamError::Stream {
            name: self.name.clone(),
            message: e.to_string(),
        }
    }

    pub fn subject(&self, account: &str, lane: u32) -> String {
        format!("{}.ev.{}.{lane}", self.name, token(account))
    }

    /// Publishes `rec` on `subject` as message `id`; the future resolves once
    /// the stream has it.
    async fn publish_on(
        &self,
        subject: String,
        id: &str,
        rec: &Record,
    ) -> Result<jetstream::context::PublishAckFuture, StreamError> {
        let mut h = async_nats::HeaderMap::new();
        h.insert("Nats-Msg-Id", id);
        h.insert("Sy-Seq", rec.seq.to_string().as_str());
        h.insert("Sy-Name", rec.name.as_str());
        h.insert("Sy-Account", rec.account_id.as_str());
        h.insert("Sy-Time", rec.timestamp_ms.to_string().as_str());
        self.js
            .publish_with_headers(subject, h, Bytes::from(rec.json.to_string()))
            .await
            .map_err(|e| self.err(e))
    }

    /// Publishes `rec` on its account's lane, with the event id as message id.
    async fn publish(
        &self,
        rec: &Record,
    ) -> Result<jetstream::context::PublishAckFuture, StreamError> {
        let event: serde_json::Value = serde_json::from_str(&rec.json).unwrap_or_default();
        let lane = lane_of(&crate::events::call_key(&event));
        self.publish_on(
            self.subject(&rec.account_id, lane),
            &message_id(rec, &event),
            rec,
        )
        .await
    }

    /// The subject of one subscription's replays.
    fn replay_subject(&self, webhook: &str) -> String {
        format!("{}.ev._replay.{}", self.name, token(webhook))
    }

    /// Asks for `rec` to be delivered to `webhook` once more (whichever node
    /// takes it; kept in the stream until one has).
    pub async fn publish_replay(&self, webhook: &str, rec: &Record) -> Result<(), StreamError> {
        let id = format!("replay-{}", uuid::Uuid::new_v4().simple());
        self.publish_on(self.replay_subject(webhook), &id, rec)
            .await?
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Publishes `recs` and waits until the stream has every one (retrying,
    /// which the message ids make harmless, until it does).
    async fn publish_all(&self, recs: &[Arc<Record>]) {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.try_publish_all(recs).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(error = %e, events = recs.len(), "events not published to JetStream; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn try_publish_all(&self, recs: &[Arc<Record>]) -> Result<(), StreamError> {
        let mut acks = Vec::with_capacity(recs.len());
        for r in recs {
            acks.push(self.publish(r).await?);
        }
        for a in acks {
            a.await.map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// The durable consumer of one subscription's lane (made if missing,
    /// starting with the events published from `since` on), or of its replays.
    pub async fn consumer(
        &self,
        webhook: &str,
        account: &str,
        lane: Lane,
        since: chrono::DateTime<chrono::Utc>,
        ack_wait: Duration,
    ) -> Result<consumer::PullConsumer, StreamError> {
        let stream = self
            .js
            .get_stream(&self.name)
            .await
            .map_err(|e| self.err(e))?;
        let (name, filter_subject, deliver_policy) = match lane {
            Lane::Calls(n) => (
                format!("wh-{}-{n}", token(webhook)),
                self.subject(account, n),
                consumer::DeliverPolicy::ByStartTime { start_time: since },
            ),
            Lane::Replays => (
                format!("wh-{}-replay", token(webhook)),
                self.replay_subject(webhook),
                consumer::DeliverPolicy::All,
            ),
        };
        stream
            .get_or_create_consumer(
                &name,
                consumer::pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject,
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait,
                    // one at a time: a lane's next event waits for this one,
                    // also while it waits for a retry
                    max_ack_pending: 1,
                    deliver_policy,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.err(e))
    }

    /// Removes a subscription's consumers.
    pub async fn drop_consumers(&self, webhook: &str) {
        let Ok(stream) = self.js.get_stream(&self.name).await else {
            return;
        };
        let names = (0..LANES)
            .map(|n| format!("wh-{}-{n}", token(webhook)))
            .chain([format!("wh-{}-replay", token(webhook))]);
        for name in names {
            let _ = stream.delete_consumer(&name).await;
        }
    }
}

/// What a consumer of a subscription reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// One of the [`LANES`] of the account's events.
    Calls(u32),
    /// Replays asked for through the API.
    Replays,
}

/// The JetStream message id of an event: its id, except for a provisioning
/// change, which every node sees and stores on its own: that one is named by
/// what changed and the provisioning version, so the stream keeps one.
fn message_id(rec: &Record, event: &serde_json::Value) -> String {
    match event.get("version").and_then(|v| v.as_i64()) {
        Some(version) if rec.name.starts_with("doc_") => format!(
            "{}-{}-{}-{}-{version}",
            rec.name,
            token(&rec.account_id),
            event["type"].as_str().unwrap_or(""),
            event["id"].as_str().unwrap_or("")
        ),
        _ => rec.seq.to_string(),
    }
}

/// A record from a stream message (`None`: not one of ours).
pub fn record_of(m: &async_nats::Message) -> Option<Record> {
    let h = m.headers.as_ref()?;
    let get = |k: &str| h.get(k).map(|v| v.as_str().to_string());
    Some(Record {
        seq: get("Sy-Seq")?.parse().ok()?,
        name: get("Sy-Name")?,
        account_id: get("Sy-Account")?,
        timestamp_ms: get("Sy-Time")?.parse().ok()?,
        json: String::from_utf8_lossy(&m.payload).into_owned().into(),
        kept: None,
    })
}

/// Publishes this node's stored events as they come, from where it left off,
/// and keeps its heartbeat; publishes the stored events of silent nodes.
pub async fn spawn_relay(
    es: EventStream,
    store: Store,
    log: Arc<EventLog>,
    node: String,
) -> Result<(), crate::store::StoreError> {
    let from = store.relay_position(&node).await?;
    let now = crate::events::now_ms();
    store.save_relay(&node, from, now).await?;
    // events before this run's first id were all stored by earlier runs
    let mut reader = LogReader::new(log.clone(), Some(store.clone()), from)
        .durable_only()
        .of_node(&node);
    let (es2, store2, node2) = (es.clone(), store.clone(), node.clone());
    tokio::spawn(async move {
        let mut beat = tokio::time::interval(HEARTBEAT);
        let mut batch: Vec<Arc<Record>> = Vec::with_capacity(WINDOW);
        let mut upto = from;
        loop {
            tokio::select! {
                r = reader.next() => {
                    let Some(r) = r else { return };
                    batch.push(r);
                    // whatever else is ready goes in the same round trip
                    while batch.len() < WINDOW {
                        match tokio::time::timeout(Duration::ZERO, reader.next()).await {
                            Ok(Some(r)) => batch.push(r),
                            _ => break,
                        }
                    }
                    es.publish_all(&batch).await;
                    upto = batch.last().map_or(upto, |r| r.seq);
                    batch.clear();
                }
                _ = beat.tick() => {
                    if let Err(e) = store.save_relay(&node, upto, crate::events::now_ms()).await {
                        tracing::warn!(error = %e, "relay position not saved");
                    }
                }
            }
        }
    });
    tokio::spawn(sweep(es2, store2, node2));
    Ok(())
}

/// Publishes what silent nodes stored and had not published.
async fn sweep(es: EventStream, store: Store, me: String) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let before = crate::events::now_ms() - SILENT_AFTER.as_millis() as i64;
        let silent = match store.silent_relays(&me, before).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "relay positions unreadable");
                continue;
            }
        };
        for (node, mut upto) in silent {
            loop {
                let recs = match store.node_events_after(&node, upto, 500).await {
                    Ok(r) if !r.is_empty() => r,
                    _ => break,
                };
                let recs: Vec<Arc<Record>> = recs.into_iter().map(Arc::new).collect();
                es.publish_all(&recs).await;
                upto = recs.last().map_or(upto, |r| r.seq);
                tracing::info!(node = %node, upto, "published the stored events of a silent node");
                if let Err(e) = store.advance_relay(&node, upto).await {
                    tracing::warn!(error = %e, "relay position not advanced");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_and_subjects_are_stable_and_safe() {
        assert_eq!(lane_of("call-1"), lane_of("call-1"));
        let lanes: std::collections::BTreeSet<u32> =
            (0..200).map(|i| lane_of(&format!("c{i}"))).collect();
        assert_eq!(lanes.len(), LANES as usize, "calls spread over every lane");
        assert_eq!(token("acme.co *>"), "acme_co___");
    }
}
