//! The voice API's bodies as types: handlers answer these (serde) and the
//! OpenAPI document describes the same types (utoipa), so the two cannot
//! drift apart.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

/// `to` of an SMS: one E.164 number (`+`, then 7 to 15 digits, the first not
/// 0), or a list of 1 to 10.
fn sms_recipients() -> RefOr<Schema> {
    let one = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^\+[1-9][0-9]{6,14}$"))
    };
    OneOfBuilder::new()
        .item(one())
        .item(
            ArrayBuilder::new()
                .items(one())
                .min_items(Some(1))
                .max_items(Some(10)),
        )
        .into()
}

/// Every success: the result under the envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    pub result: T,
    /// Always `false` on a success.
    pub error: bool,
    pub message: String,
    /// ISO 8601 UTC, to the second.
    #[schema(example = "2026-12-07T10:30:00Z")]
    pub timestamp: String,
}

/// Every error (see `error.rs` for the codes and statuses).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always null on an error.
    #[schema(value_type = Option<String>)]
    pub result: Option<()>,
    /// Always `true` on an error.
    pub error: bool,
    pub message: String,
    #[schema(example = "AUTH_REQUIRED")]
    pub error_code: String,
    pub timestamp: String,
}

/// One live call of a user (`/availability` with a key).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Channel {
    pub to: String,
    pub from: String,
    /// Seconds since the leg answered (or started ringing).
    pub call_seconds: i64,
    /// `outbound` (the user called) or `inbound`.
    pub direction: String,
    pub call_id: String,
}

/// One user's availability.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAvailability {
    pub pk: Option<i64>,
    /// The extension number.
    pub presence_id: String,
    #[serde(rename = "callerID")]
    pub caller_id: String,
    pub first_name: String,
    pub last_name: String,
    /// A device of the extension is registered now.
    pub devices_registered: bool,
    /// Live calls (only with a developer key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<Channel>>,
}

/// A queue: its names always; its settings with a developer key.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queue {
    pub pk: Option<i64>,
    /// The queue's id in the dialplan (`sales`).
    pub name: String,
    pub queue_name: String,
    /// The number that reaches it.
    pub extension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub musiconhold: Option<String>,
    /// Seconds an agent rings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapuptime: Option<u64>,
    /// 0: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxlen: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joinempty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leavewhenempty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ringinuse: Option<String>,
    /// Members and agents logged in (`/queues/{queue_id}` with a key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_users: Option<Vec<QueueMember>>,
}

/// A queue's member or logged-in agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueMember {
    pub pk: Option<i64>,
    pub presence_id: String,
    #[serde(rename = "callerID")]
    pub caller_id: String,
    pub first_name: String,
    pub last_name: String,
    pub penalty: u32,
    /// Logged in by feature code (not a listed member).
    pub dynamic: bool,
    /// `logged_out`, `paused`, `unreachable`, `available`, `ringing`, `on_call`, `wrap_up`.
    pub status: String,
    pub paused_reason: Option<String>,
    pub calls_taken: u32,
}

/// A queue's live figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueAvailability {
    pub pk: Option<i64>,
    pub name: String,
    pub queue_name: String,
    pub extension: Option<String>,
    /// At least one agent logged in, reachable and not paused.
    pub is_ready: bool,
    pub agents_online: u64,
    pub agents_available: u64,
    pub agents_on_call: u64,
    pub agents_paused: u64,
    /// Callers waiting plus agents on a call.
    pub active_calls: u64,
    pub calls_waiting: u64,
    pub longest_wait_seconds: u64,
    /// When the queue engine took these figures.
    pub updated_at: String,
}

/// A phone number (DID).
#[derive(Debug, Serialize, ToSchema)]
pub struct Number {
    pub pk: Option<i64>,
    #[schema(example = "+15551234567")]
    pub number: String,
    pub friendly_name: String,
    pub sms_enabled: bool,
    pub mms_enabled: bool,
    pub status: String,
    /// The `pk` of the user the number routes to.
    pub owner_id: Option<i64>,
    pub extension: String,
    pub sms_assigned_user_id: Option<i64>,
    pub ai_agent_id: Option<i64>,
}

/// The key's user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    pub pk: Option<i64>,
    pub asterisk_user_id: Option<i64>,
    pub presence_id: String,
    #[serde(rename = "callerID")]
    pub caller_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub voicemail_enabled: bool,
    pub forward_enabled: bool,
    pub forward_number: Option<String>,
    pub time_zone: String,
    pub caller_id_number: Option<String>,
    pub devices_registered: bool,
}

/// `POST /call/outbound`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OutboundCall {
    /// The extension that makes the call (rung first).
    #[schema(example = "1001")]
    pub from: String,
    /// The number it calls.
    #[schema(
        example = "+15551234567",
        pattern = r"^(\+[0-9*#]{1,31}|[0-9*#]{1,32})$"
    )]
    pub to: String,
    /// Shown to `to` on a trunk call.
    #[schema(pattern = r"^(\+[0-9*#]{1,31}|[0-9*#]{1,32})$")]
    pub caller_id: Option<String>,
    /// Record the call (default false).
    pub recording: Option<bool>,
}

/// A click-to-call under way.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallStarted {
    pub call_id: String,
    /// `initiating`.
    pub status: String,
    pub from: String,
    pub to: String,
    pub timestamp: String,
}

/// A placed call's progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallDetails {
    pub call_id: String,
    /// `initiating`, `dialing`, `in-progress`, `completed`, `failed`.
    pub status: String,
    pub from: String,
    pub to: String,
    pub caller_id: Option<String>,
    pub recording: bool,
    pub created_at: String,
    pub answered_at: Option<String>,
    pub bridged_at: Option<String>,
    pub ended_at: Option<String>,
    /// Seconds the two parties talked.
    pub call_seconds: Option<i64>,
    /// Seconds from placing to the end.
    pub duration: Option<i64>,
    pub hangup_cause: Option<String>,
}

/// A hang-up asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallHangup {
    pub call_id: String,
    /// `hanging-up`.
    pub status: String,
}

/// One number, or several.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `POST /sms/send`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SendSms {
    /// One of the account's numbers with SMS.
    #[schema(example = "+15550100101", pattern = r"^\+[1-9][0-9]{6,14}$")]
    pub from: String,
    /// E.164, one or up to 10.
    #[schema(schema_with = sms_recipients)]
    pub to: OneOrMany,
    /// 1 to 160 characters.
    #[schema(min_length = 1, max_length = 160)]
    pub message: String,
}

/// An SMS handed on.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsSent {
    pub message_id: String,
    /// `sent`.
    pub status: String,
    pub from: String,
    pub to: Vec<String>,
    pub segments: u32,
    /// `sip` (SIP MESSAGE to a registered extension or the trunk),
    /// `simulator` (no SIP route), or `mixed`.
    pub delivery: String,
}
