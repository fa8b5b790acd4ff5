//! The payload of the ACD queue events (`QUEUE_ENTER` … `QUEUE_HANGUP_ABANDONED`),
//! named and shaped like the voice API's webhook events. The documented
//! payloads disagree with each other on a few names (`callerid_number` on
//! QUEUE_ENTER, `caller_id_number` elsewhere; `queuename` next to
//! `queue_name`), so every queue event carries the union: each documented
//! field under its documented name, plus the consistent ones.

use serde::Serialize;

use crate::ids::{AccountId, CallId, QueueId};

/// One queue event's facts.
#[derive(Clone, Debug, Serialize)]
pub struct QueueEvent {
    pub account_id: AccountId,
    pub queue_id: QueueId,
    pub queue_name: String,
    /// The queue's id again (the documented `queuename`).
    pub queuename: QueueId,
    /// This stay of this caller in this queue.
    pub queuecall_id: String,
    /// The call (the documented `uniqueid`).
    pub uniqueid: CallId,
    pub call_id: CallId,
    pub caller_id_number: String,
    pub callerid_number: String,
    pub callerid_name: Option<String>,
    /// The number the caller dialled.
    pub dnis: String,
    pub dialed_number: String,
    #[serde(rename = "App-Name")]
    pub app_name: &'static str,
    /// The agent (extension) rung or answering, on member events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_user_id: Option<String>,
    /// Always null: the caller is not a user of the account.
    pub from_user_id: Option<String>,
    /// Seconds: of the agent's leg (member hangup) or of the stay (queue hangup).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Whole seconds the caller waited (no answer, timeout, abandoned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_time: Option<u64>,
    /// Why the stay ended or the offer failed (`answered`, `abandoned`,
    /// `timeout`, `full`, `empty`, `exit_key`, `removed`, `no_answer`, `busy`,
    /// `unreachable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Unix seconds (the documented `timestamp`).
    pub timestamp: i64,
    pub timestamp_ms: i64,
}
