//! Admission with group commit: handlers hand each checked request to one
//! task that gathers what arrived meanwhile (up to [`BATCH`]) and admits the
//! lot in one store transaction ([`Store::admit_batch`]) — the Idempotency-Key
//! claim, usage or credit, queue row and kept answer of each together — then
//! wakes the lane workers. Thousands of requests a second cost tens of
//! commits, and twins racing with one key meet in the same table either way.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::store::{Admit, NewMessage, Store};

/// Most requests admitted in one transaction.
pub const BATCH: usize = 512;

/// Why a request was not admitted (the store failed; nothing of it was kept).
#[derive(Debug, thiserror::Error)]
#[error("the store could not admit the request: {0}")]
pub struct AcceptError(pub String);

struct Job {
    msg: NewMessage,
    merchant_id: String,
    reply: oneshot::Sender<Result<Admit, AcceptError>>,
}

/// The handle handlers admit through.
#[derive(Clone)]
pub struct Acceptor {
    tx: mpsc::Sender<Job>,
}

/// The answer an accepted message's Idempotency-Key keeps (and the API gives):
/// seed 000's `DispatchResponse`.
pub fn dispatch_response(merchant_id: &str, channel: &str, id: i64, status: &str) -> String {
    json!({
        "merchantId": merchant_id,
        "channel": channel,
        "messageId": id.to_string(),
        "status": status,
    })
    .to_string()
}

/// The refusal kept for a request over its limit (402).
pub fn limit_refusal(channel: &str, used: i64, limit: i64) -> String {
    json!({"error": {
        "code": "LIMIT_REACHED",
        "message": format!(
            "the merchant used {used} of its {limit} {} this period and has no credits left; \
             POST /api/v1/billing/upgrade adds credits",
            unit_name(channel)
        ),
        "field": "merchantId",
    }})
    .to_string()
}

/// What a channel's limit counts.
pub fn unit_name(channel: &str) -> &'static str {
    match channel {
        "SMS" => "SMS segments",
        "VOICE" => "voice minutes",
        _ => "emails",
    }
}

impl Acceptor {
    /// Starts the admitting task; `wake` is notified per channel after each commit.
    pub fn spawn(store: Store, wake: Arc<[Arc<Notify>; 3]>) -> Acceptor {
        let (tx, mut rx) = mpsc::channel::<Job>(BATCH * 8);
        tokio::spawn(async move {
            let mut jobs: Vec<Job> = Vec::with_capacity(BATCH);
            while let Some(first) = rx.recv().await {
                jobs.push(first);
                while jobs.len() < BATCH {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                let msgs: Vec<NewMessage> = jobs.iter().map(|j| j.msg.clone()).collect();
                let ids: Vec<String> = jobs.iter().map(|j| j.merchant_id.clone()).collect();
                let answer = |m: &NewMessage, a: &Admit| -> (u16, String) {
                    let merchant = msgs
                        .iter()
                        .position(|x| std::ptr::eq(x, m))
                        .and_then(|i| ids.get(i))
                        .map(String::as_str)
                        .unwrap_or("");
                    match a {
                        Admit::Accepted { id, .. } => {
                            (200, dispatch_response(merchant, m.channel, *id, m.status))
                        }
                        Admit::LimitReached { used } => {
                            (402, limit_refusal(m.channel, *used, m.limit))
                        }
                        _ => (500, String::new()),
                    }
                };
                let result = store.admit_batch(&msgs, &answer).await;
                let mut woke = [false; 3];
                match result {
                    Ok(outcomes) => {
                        for (job, outcome) in jobs.drain(..).zip(outcomes) {
                            if matches!(outcome, Admit::Accepted { .. }) {
                                let lane = lane_index(job.msg.channel);
                                woke[lane] = true;
                            }
                            let _ = job.reply.send(Ok(outcome));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, n = jobs.len(), "admitting messages failed");
                        for job in jobs.drain(..) {
                            let _ = job.reply.send(Err(AcceptError(e.to_string())));
                        }
                    }
                }
                for (i, w) in woke.iter().enumerate() {
                    if *w {
                        wake[i].notify_one();
                    }
                }
            }
        });
        Acceptor { tx }
    }

    /// Admits one request (batched with whatever else is arriving).
    pub async fn admit(&self, msg: NewMessage, merchant_id: &str) -> Result<Admit, AcceptError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            msg,
            merchant_id: merchant_id.to_string(),
            reply,
        };
        self.tx
            .send(job)
            .await
            .map_err(|_| AcceptError("the admitting task is gone".into()))?;
        rx.await
            .map_err(|_| AcceptError("the admitting task is gone".into()))?
    }
}

/// A channel's lane (0 SMS, 1 voice, 2 email).
pub fn lane_index(channel: &str) -> usize {
    match channel {
        "SMS" => 0,
        "VOICE" => 1,
        _ => 2,
    }
}
