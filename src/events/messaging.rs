//! The voice API's SMS and contact events (`SMS_RECEIVED`, `SMS_SENT`,
//! `SMS_DELIVERED`, `CONTACT_CREATED`, `CONTACT_UPDATED`, `CONTACT_DELETED`)
//! with the metadata the voice API documents for each. Defined ahead of the
//! SMS and contacts features that will publish them, so subscriptions and
//! payloads are ready; in the envelope `{event_name, account_id, timestamp,
//! metadata}` like the call events.

use serde::Serialize;

use crate::ids::AccountId;

/// One or several numbers: `SMS_RECEIVED` names one `to_number`, `SMS_SENT`
/// and `SMS_DELIVERED` a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Numbers {
    One(String),
    Many(Vec<String>),
}

/// One SMS event's facts.
#[derive(Clone, Debug, Serialize)]
pub struct SmsEvent {
    pub account_id: AccountId,
    /// Unix seconds.
    pub timestamp: i64,
    pub timestamp_ms: i64,
    pub metadata: SmsMeta,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SmsMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_number: Option<Numbers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub message_id: String,
    /// The user who sent it (`SMS_SENT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_sent_by_user_id: Option<String>,
    /// The carrier's report (`SMS_DELIVERED`: `delivered`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// One contact event's facts.
#[derive(Clone, Debug, Serialize)]
pub struct ContactEvent {
    pub account_id: AccountId,
    pub timestamp: i64,
    pub timestamp_ms: i64,
    pub metadata: ContactMeta,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ContactMeta {
    pub contact_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The fields a `CONTACT_UPDATED` changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_fields: Option<Vec<String>>,
}

/// A merchant message's state change (the merchant API's lifecycle): every
/// channel, every state, as `MESSAGE_STATUS`.
#[derive(Clone, Debug, Serialize)]
pub struct MessageStatusEvent {
    pub account_id: AccountId,
    pub timestamp: i64,
    pub timestamp_ms: i64,
    pub metadata: MessageStatusMeta,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MessageStatusMeta {
    pub message_id: String,
    pub merchant_id: String,
    /// `SMS`, `VOICE`, `EMAIL`.
    pub channel: String,
    /// `QUEUED`, `SENT`, `DELIVERED`, `RETRY`, `DEAD_LETTER`, …
    pub status: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl MessageStatusEvent {
    pub fn now(account_id: AccountId, metadata: MessageStatusMeta) -> MessageStatusEvent {
        let ms = super::now_ms();
        MessageStatusEvent {
            account_id,
            timestamp: ms / 1000,
            timestamp_ms: ms,
            metadata,
        }
    }
}

impl SmsEvent {
    pub fn now(account_id: AccountId, metadata: SmsMeta) -> SmsEvent {
        let ms = super::now_ms();
        SmsEvent {
            account_id,
            timestamp: ms / 1000,
            timestamp_ms: ms,
            metadata,
        }
    }
}

impl ContactEvent {
    pub fn now(account_id: AccountId, metadata: ContactMeta) -> ContactEvent {
        let ms = super::now_ms();
        ContactEvent {
            account_id,
            timestamp: ms / 1000,
            timestamp_ms: ms,
            metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Event;
    use serde_json::json;

    #[test]
    fn sms_and_contact_events_carry_the_documented_metadata() {
        let sent = Event::SmsSent(SmsEvent::now(
            AccountId::from("12345"),
            SmsMeta {
                from_number: Some("+15559876543".into()),
                to_number: Some(Numbers::Many(vec!["+15551234567".into()])),
                body: Some("Hello from Voice360!".into()),
                message_id: "msg_xyz789".into(),
                sms_sent_by_user_id: Some("67890".into()),
                status: None,
            },
        ));
        let v = serde_json::to_value(&sent).expect("json");
        assert_eq!(sent.name(), "SMS_SENT");
        assert_eq!(
            v["metadata"],
            json!({"from_number": "+15559876543", "to_number": ["+15551234567"],
                   "body": "Hello from Voice360!", "message_id": "msg_xyz789", "sms_sent_by_user_id": "67890"})
        );
        let got = Event::SmsReceived(SmsEvent::now(
            AccountId::from("12345"),
            SmsMeta {
                from_number: Some("+15551234567".into()),
                to_number: Some(Numbers::One("+15559876543".into())),
                body: Some("Hello".into()),
                message_id: "msg_abc123".into(),
                ..SmsMeta::default()
            },
        ));
        assert_eq!(
            serde_json::to_value(&got).expect("json")["metadata"]["to_number"],
            "+15559876543"
        );
        let updated = Event::ContactUpdated(ContactEvent::now(
            AccountId::from("12345"),
            ContactMeta {
                contact_id: "98765".into(),
                phone: Some("+15551234567".into()),
                updated_fields: Some(vec!["first_name".into(), "email".into()]),
                ..ContactMeta::default()
            },
        ));
        assert_eq!(updated.name(), "CONTACT_UPDATED");
        assert_eq!(updated.account_id().as_str(), "12345");
        assert_eq!(
            serde_json::to_value(&updated).expect("json")["metadata"],
            json!({"contact_id": "98765", "updated_fields": ["first_name", "email"], "phone": "+15551234567"})
        );
    }
}
