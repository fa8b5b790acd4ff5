//! The hooks a subscription can choose: the v2 API's hook ids (`channel_create`
//! … `object`), each with the modifiers it takes, and the voice API's event
//! names (`CALL_ENDED`, `QUEUE_ENTER` …), which are delivered in the voice
//! API's envelope. `GET /v2/webhooks` lists this catalogue.

use serde_json::{json, Value};

/// The event names the voice API documents (a subscription to one of them
/// gets `{event_name, account_id, timestamp, metadata}` bodies).
pub const VOICE_EVENTS: &[&str] = &[
    "INCOMING_EXTERNAL_CALL",
    "CALL_ENDED",
    "USER_DIAL",
    "USER_ANSWER",
    "USER_HANGUP",
    "SMS_RECEIVED",
    "SMS_SENT",
    "SMS_DELIVERED",
    "QUEUE_ENTER",
    "QUEUE_MEMBER_DIAL",
    "QUEUE_MEMBER_ANSWER",
    "QUEUE_MEMBER_DIAL_HANGUP",
    "QUEUE_HANGUP",
    "QUEUE_NO_ANSWER",
    "QUEUE_HANGUP_TIMEOUT",
    "QUEUE_HANGUP_ABANDONED",
    "CONTACT_CREATED",
    "CONTACT_UPDATED",
    "CONTACT_DELETED",
    // the merchant API's message lifecycle (docs/merchant-api.md)
    "MESSAGE_STATUS",
];

/// The notification types of the `notifications` hook (its `type` modifier).
pub const NOTIFICATION_TYPES: &[&str] = &["voicemail_new", "voicemail_full", "fax_inbound"];

/// The actions of the `object` hook (its `action` modifier).
pub const OBJECT_ACTIONS: &[&str] = &["doc_created", "doc_edited", "doc_deleted"];

/// The document types of the `object` hook (its `type` modifier).
pub const OBJECT_TYPES: &[&str] = &[
    "account",
    "callflow",
    "device",
    "faxbox",
    "media",
    "user",
    "vmbox",
    "fax",
    "mailbox_message",
    "call_recording",
    "queue",
];

/// What a subscription listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    ChannelCreate,
    ChannelAnswer,
    ChannelBridge,
    ChannelDestroy,
    Sms,
    Notifications,
    Fax,
    Object,
    /// One of [`VOICE_EVENTS`].
    Voice(&'static str),
}

impl Hook {
    pub fn parse(s: &str) -> Option<Hook> {
        Some(match s {
            "channel_create" => Hook::ChannelCreate,
            "channel_answer" => Hook::ChannelAnswer,
            "channel_bridge" => Hook::ChannelBridge,
            "channel_destroy" => Hook::ChannelDestroy,
            "sms" => Hook::Sms,
            "notifications" => Hook::Notifications,
            "fax" => Hook::Fax,
            "object" => Hook::Object,
            other => {
                return VOICE_EVENTS
                    .iter()
                    .find(|n| **n == other)
                    .map(|n| Hook::Voice(n))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Hook::ChannelCreate => "channel_create",
            Hook::ChannelAnswer => "channel_answer",
            Hook::ChannelBridge => "channel_bridge",
            Hook::ChannelDestroy => "channel_destroy",
            Hook::Sms => "sms",
            Hook::Notifications => "notifications",
            Hook::Fax => "fax",
            Hook::Object => "object",
            Hook::Voice(n) => n,
        }
    }

    /// Whether bodies use the voice API's envelope.
    pub fn voice_envelope(self) -> bool {
        matches!(self, Hook::Voice(_))
    }

    /// Whether an event named `name` (the log's name) can belong to this hook
    /// (modifiers narrow it further).
    pub fn takes(self, name: &str) -> bool {
        match self {
            Hook::ChannelCreate
            | Hook::ChannelAnswer
            | Hook::ChannelBridge
            | Hook::ChannelDestroy
            | Hook::Voice(_) => name == self.as_str(),
            Hook::Sms => matches!(name, "SMS_RECEIVED" | "SMS_SENT" | "SMS_DELIVERED"),
            Hook::Notifications => NOTIFICATION_TYPES.contains(&name),
            Hook::Fax => name.starts_with("fax_"),
            Hook::Object => OBJECT_ACTIONS.contains(&name),
        }
    }
}

/// `GET /v2/webhooks`: every hook with its description and modifiers.
pub fn catalogue() -> Value {
    let list = |items: &[&str]| Value::from(items.to_vec());
    let mut hooks = vec![
        json!({"id": "channel_create", "name": "channel_create",
               "description": "A call leg starts (CHANNEL_CREATE)"}),
        json!({"id": "channel_answer", "name": "channel_answer",
               "description": "A call leg answers"}),
        json!({"id": "channel_destroy", "name": "channel_destroy",
               "description": "A call leg ends"}),
        json!({"id": "channel_bridge", "name": "channel_bridge",
               "description": "Two legs bridge"}),
        json!({"id": "sms", "name": "sms",
               "description": "An SMS is received, sent or delivered"}),
        json!({"id": "notifications", "name": "notifications",
               "description": "A notifications event (voicemail, fax, ...) is published",
               "modifiers": {"type": {
                   "type": "array", "items": list(NOTIFICATION_TYPES),
                   "description": "The notification types to deliver (all when absent)"}}}),
        json!({"id": "fax", "name": "fax", "description": "Fax status or object change"}),
        json!({"id": "object", "name": "object",
               "description": "An object document changes",
               "modifiers": {
                   "action": {"type": "array", "items": list(OBJECT_ACTIONS),
                              "description": "The actions to deliver (all when absent)"},
                   "type": {"type": "array", "items": list(OBJECT_TYPES),
                            "description": "The document types to deliver (all when absent)"}}}),
    ];
    for n in VOICE_EVENTS {
        hooks.push(json!({"id": n, "name": n, "envelope": "voice",
            "description": "The voice API's event, in its envelope {event_name, account_id, timestamp, metadata}"}));
    }
    Value::from(hooks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_round_trip_and_take_their_events() {
        for id in ["channel_create", "object", "QUEUE_ENTER", "CALL_ENDED"] {
            assert_eq!(Hook::parse(id).map(|h| h.as_str()), Some(id));
        }
        assert_eq!(Hook::parse("channel_explode"), None);
        assert_eq!(
            Hook::parse("queue_enter"),
            None,
            "voice names are upper case"
        );
        assert!(Hook::ChannelCreate.takes("channel_create"));
        assert!(!Hook::ChannelCreate.takes("channel_answer"));
        assert!(Hook::Notifications.takes("voicemail_new"));
        assert!(!Hook::Notifications.takes("channel_create"));
        assert!(Hook::Object.takes("doc_edited"));
        assert!(Hook::parse("QUEUE_ENTER").is_some_and(|h| h.voice_envelope()));
        let all = catalogue();
        let ids: Vec<&str> = all
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h["id"].as_str())
            .collect();
        for want in [
            "channel_create",
            "channel_answer",
            "channel_destroy",
            "channel_bridge",
        ] {
            assert!(ids.contains(&want), "{want} advertised");
        }
        assert!(ids.contains(&"QUEUE_HANGUP_ABANDONED"));
        assert_eq!(all[7]["modifiers"]["type"]["items"][0], "account");
    }
}
