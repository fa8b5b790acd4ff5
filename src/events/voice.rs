//! The voice API's call events (`INCOMING_EXTERNAL_CALL`, `CALL_ENDED`,
//! `USER_DIAL`, `USER_ANSWER`, `USER_HANGUP`), with the metadata fields the
//! voice API documents for each — the webhook envelope is
//! `{event_name, account_id, timestamp, metadata}`; on `/events` the name is
//! the SSE event and the `event` field, next to the same `account_id`,
//! `timestamp` (unix seconds) and `metadata`. `uniqueid` is the call's id.

use serde::Serialize;

use crate::ids::{AccountId, CallId};

/// One voice event's facts.
#[derive(Clone, Debug, Serialize)]
pub struct VoiceEvent {
    pub account_id: AccountId,
    /// Unix seconds, as documented.
    pub timestamp: i64,
    pub timestamp_ms: i64,
    pub metadata: VoiceMeta,
}

/// The documented metadata; each event fills the fields the voice API lists for it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VoiceMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_id_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_id_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnis: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialed_number: Option<String>,
    /// The extension that answered (CALL_ENDED, USER_ANSWER).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_user_id: Option<String>,
    /// The extension that dialled (USER_DIAL, USER_HANGUP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_user_id: Option<String>,
    pub uniqueid: CallId,
    /// `inbound` (from a trunk), `outbound` (to a trunk) or `internal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_direction: Option<&'static str>,
    /// Seconds (CALL_ENDED, USER_HANGUP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
}

impl VoiceEvent {
    pub fn now(account_id: AccountId, metadata: VoiceMeta) -> VoiceEvent {
        let ms = super::now_ms();
        VoiceEvent {
            account_id,
            timestamp: ms / 1000,
            timestamp_ms: ms,
            metadata,
        }
    }
}
