//! The one event model of the switch and the in-process bus that carries it.
//! Channels publish here; webhook delivery, the HTTP event stream and tests
//! subscribe. Serialisation to each wire format happens at the edges, not here.

use serde::Serialize;

pub mod kept;
pub mod log;
mod messaging;
mod queue;
mod voice;
pub use log::{EventLog, Record};
pub use messaging::{
    ContactEvent, ContactMeta, MessageStatusEvent, MessageStatusMeta, Numbers, SmsEvent, SmsMeta,
};
pub use queue::QueueEvent;
use tokio::sync::broadcast;
pub use voice::{VoiceEvent, VoiceMeta};

use crate::ids::{AccountId, CallId, LegId};

/// Why a channel ended (Q.850-flavoured names, as telephony users expect).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HangupCause {
    NormalClearing,
    OriginatorCancel,
    UserBusy,
    NoAnswer,
    NoUserResponse,
    UnallocatedNumber,
    UserNotRegistered,
    CallRejected,
    NetworkOutOfOrder,
    LoseRace,
    RecoveryOnTimerExpire,
}

impl HangupCause {
    /// The SIP status sent to a caller for a call that ended with this cause before answer.
    pub fn sip_status(self) -> (u16, &'static str) {
        match self {
            HangupCause::UserBusy => (486, "Busy Here"),
            HangupCause::UnallocatedNumber => (404, "Not Found"),
            HangupCause::UserNotRegistered => (480, "Temporarily Unavailable"),
            HangupCause::NoAnswer => (480, "Temporarily Unavailable"),
            HangupCause::OriginatorCancel => (487, "Request Terminated"),
            HangupCause::CallRejected => (603, "Decline"),
            HangupCause::NetworkOutOfOrder | HangupCause::RecoveryOnTimerExpire => {
                (408, "Request Timeout")
            }
            _ => (480, "Temporarily Unavailable"),
        }
    }

    /// Maps a final failure status received from a callee.
    pub fn from_sip_status(code: u16) -> HangupCause {
        match code {
            486 | 600 => HangupCause::UserBusy,
            404 | 484 | 604 => HangupCause::UnallocatedNumber,
            408 => HangupCause::NoUserResponse,
            480 => HangupCause::NoAnswer,
            487 => HangupCause::OriginatorCancel,
            603 | 403 => HangupCause::CallRejected,
            _ => HangupCause::NetworkOutOfOrder,
        }
    }
}

/// Which side of a call a channel is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// How a digit reached the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfSource {
    Rfc4733,
    Info,
    Inband,
}

/// Counters of one leg's RTP (kept by the media session, reported with channel_destroy).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct LegStats {
    pub packets_in: u64,
    pub packets_out: u64,
    pub packets_lost: i64,
    pub jitter_ms: f64,
    pub concealed: u64,
    pub decode_errors: u64,
}

/// Common facts carried by every channel event.
#[derive(Clone, Debug, Serialize)]
pub struct ChannelInfo {
    pub channel_id: LegId,
    pub call_id: CallId,
    pub account_id: AccountId,
    pub sip_call_id: String,
    pub direction: Direction,
    pub caller: String,
    pub callee: String,
    /// The caller's display name, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_name: Option<String>,
    /// The callee extension's name, when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callee_name: Option<String>,
    /// The way the call came (callflow, IVR choices, ring group, queue) so far.
    #[serde(flatten)]
    pub route: Route,
}

/// Where a call went before a leg's event: the callflow it ran, the IVR
/// choices made (`menu:key`), the ring group that rang the leg, the queue it
/// waited in. Empty for a plain call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Route {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callflow: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ivr_choices: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    ChannelCreate {
        #[serde(flatten)]
        channel: ChannelInfo,
        timestamp_ms: i64,
    },
    ChannelAnswer {
        #[serde(flatten)]
        channel: ChannelInfo,
        timestamp_ms: i64,
    },
    ChannelBridge {
        #[serde(flatten)]
        channel: ChannelInfo,
        other_channel_id: LegId,
        timestamp_ms: i64,
    },
    ChannelDestroy {
        #[serde(flatten)]
        channel: ChannelInfo,
        hangup_cause: HangupCause,
        duration_ms: i64,
        billsec_ms: i64,
        /// Packets, loss and jitter of the leg's RTP, when the switch saw its media.
        #[serde(skip_serializing_if = "Option::is_none")]
        rtp: Option<LegStats>,
        timestamp_ms: i64,
    },
    /// One key press on a channel, reported when it is over.
    Dtmf {
        #[serde(flatten)]
        channel: ChannelInfo,
        /// `0`-`9`, `*`, `#`, `A`-`D`.
        digit: String,
        duration_ms: u32,
        /// `rfc4733`, `info` or `inband`.
        source: DtmfSource,
        timestamp_ms: i64,
    },
    /// A call recording was closed and stored.
    Recording {
        #[serde(flatten)]
        channel: ChannelInfo,
        recording_id: String,
        path: String,
        duration_ms: i64,
        size_bytes: i64,
        timestamp_ms: i64,
    },
    /// A caller's decision in an IVR menu: the key (or `timeout`) and where the call went.
    IvrChoice {
        #[serde(flatten)]
        channel: ChannelInfo,
        /// The callflow's number.
        flow: String,
        node: String,
        input: String,
        outcome: String,
        timestamp_ms: i64,
    },
    /// A caller entered a queue.
    #[serde(rename = "QUEUE_ENTER")]
    QueueEnter(QueueEvent),
    /// An agent is being rung for a queue caller.
    #[serde(rename = "QUEUE_MEMBER_DIAL")]
    QueueMemberDial(QueueEvent),
    /// An agent answered a queue caller.
    #[serde(rename = "QUEUE_MEMBER_ANSWER")]
    QueueMemberAnswer(QueueEvent),
    /// An agent's leg ended: not answered, or its call with the caller is over.
    #[serde(rename = "QUEUE_MEMBER_DIAL_HANGUP")]
    QueueMemberDialHangup(QueueEvent),
    /// A caller's stay in a queue ended, however it ended.
    #[serde(rename = "QUEUE_HANGUP")]
    QueueHangup(QueueEvent),
    /// A caller left a queue unanswered: refused at the door (full, empty), the
    /// queue emptied or was removed, or the caller pressed the exit key.
    #[serde(rename = "QUEUE_NO_ANSWER")]
    QueueNoAnswer(QueueEvent),
    /// A caller waited the queue's longest wait.
    #[serde(rename = "QUEUE_HANGUP_TIMEOUT")]
    QueueHangupTimeout(QueueEvent),
    /// A caller hung up while waiting in a queue.
    #[serde(rename = "QUEUE_HANGUP_ABANDONED")]
    QueueHangupAbandoned(QueueEvent),
    /// A call from outside (a trunk) arrived, before it is answered.
    #[serde(rename = "INCOMING_EXTERNAL_CALL")]
    IncomingExternalCall(VoiceEvent),
    /// A call (any direction) ended.
    #[serde(rename = "CALL_ENDED")]
    CallEnded(VoiceEvent),
    /// An extension placed a call to an outside number.
    #[serde(rename = "USER_DIAL")]
    UserDial(VoiceEvent),
    /// An extension answered a call to it.
    #[serde(rename = "USER_ANSWER")]
    UserAnswer(VoiceEvent),
    /// An extension's outside call ended (hung up, or never answered).
    #[serde(rename = "USER_HANGUP")]
    UserHangup(VoiceEvent),
    /// An SMS arrived from a contact.
    #[serde(rename = "SMS_RECEIVED")]
    SmsReceived(SmsEvent),
    /// An SMS was sent to a contact.
    #[serde(rename = "SMS_SENT")]
    SmsSent(SmsEvent),
    /// The carrier confirmed an SMS's delivery.
    #[serde(rename = "SMS_DELIVERED")]
    SmsDelivered(SmsEvent),
    /// A merchant message changed state (any channel).
    #[serde(rename = "MESSAGE_STATUS")]
    MessageStatus(MessageStatusEvent),
    /// A contact was created.
    #[serde(rename = "CONTACT_CREATED")]
    ContactCreated(ContactEvent),
    /// A contact was changed.
    #[serde(rename = "CONTACT_UPDATED")]
    ContactUpdated(ContactEvent),
    /// A contact was deleted.
    #[serde(rename = "CONTACT_DELETED")]
    ContactDeleted(ContactEvent),
    /// An object document was created (`type`: `mailbox_message`, `call_recording`, …).
    #[serde(rename = "doc_created")]
    DocCreated(ObjectEvent),
    /// An object document changed.
    #[serde(rename = "doc_edited")]
    DocEdited(ObjectEvent),
    /// An object document was deleted.
    #[serde(rename = "doc_deleted")]
    DocDeleted(ObjectEvent),
    /// A caller left a message in an extension's voicemail box.
    VoicemailNew {
        account_id: AccountId,
        #[serde(rename = "box")]
        mailbox: String,
        voicemail_id: String,
        call_id: CallId,
        caller: String,
        path: String,
        duration_ms: i64,
        timestamp_ms: i64,
    },
}

/// Which document an `object` event is about.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectEvent {
    pub account_id: AccountId,
    /// The document type (`mailbox_message`, `call_recording`, `vmbox`, …).
    #[serde(rename = "type")]
    pub doc_type: &'static str,
    pub id: String,
    /// The call it came from, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<CallId>,
    /// For provisioning documents: the provisioning version that made the
    /// change (nodes that see the same change agree on it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    pub timestamp_ms: i64,
}

impl ObjectEvent {
    pub fn now(
        account_id: AccountId,
        doc_type: &'static str,
        id: String,
        call_id: Option<CallId>,
    ) -> ObjectEvent {
        ObjectEvent {
            account_id,
            doc_type,
            id,
            call_id,
            version: None,
            timestamp_ms: now_ms(),
        }
    }
}

impl Event {
    /// The account the event belongs to.
    pub fn account_id(&self) -> &AccountId {
        match self {
            Event::ChannelCreate { channel, .. }
            | Event::ChannelAnswer { channel, .. }
            | Event::ChannelBridge { channel, .. }
            | Event::ChannelDestroy { channel, .. }
            | Event::Dtmf { channel, .. }
            | Event::Recording { channel, .. }
            | Event::IvrChoice { channel, .. } => &channel.account_id,
            Event::QueueEnter(q)
            | Event::QueueMemberDial(q)
            | Event::QueueMemberAnswer(q)
            | Event::QueueMemberDialHangup(q)
            | Event::QueueHangup(q)
            | Event::QueueNoAnswer(q)
            | Event::QueueHangupTimeout(q)
            | Event::QueueHangupAbandoned(q) => &q.account_id,
            Event::VoicemailNew { account_id, .. } => account_id,
            Event::DocCreated(o) | Event::DocEdited(o) | Event::DocDeleted(o) => &o.account_id,
            Event::SmsReceived(m) | Event::SmsSent(m) | Event::SmsDelivered(m) => &m.account_id,
            Event::MessageStatus(m) => &m.account_id,
            Event::ContactCreated(c) | Event::ContactUpdated(c) | Event::ContactDeleted(c) => {
                &c.account_id
            }
            Event::IncomingExternalCall(v)
            | Event::CallEnded(v)
            | Event::UserDial(v)
            | Event::UserAnswer(v)
            | Event::UserHangup(v) => &v.account_id,
        }
    }

    /// When it happened (unix ms).
    pub fn timestamp_ms(&self) -> i64 {
        match self {
            Event::ChannelCreate { timestamp_ms, .. }
            | Event::ChannelAnswer { timestamp_ms, .. }
            | Event::ChannelBridge { timestamp_ms, .. }
            | Event::ChannelDestroy { timestamp_ms, .. }
            | Event::Dtmf { timestamp_ms, .. }
            | Event::Recording { timestamp_ms, .. }
            | Event::IvrChoice { timestamp_ms, .. }
            | Event::VoicemailNew { timestamp_ms, .. } => *timestamp_ms,
            Event::DocCreated(o) | Event::DocEdited(o) | Event::DocDeleted(o) => o.timestamp_ms,
            Event::SmsReceived(m) | Event::SmsSent(m) | Event::SmsDelivered(m) => m.timestamp_ms,
            Event::MessageStatus(m) => m.timestamp_ms,
            Event::ContactCreated(c) | Event::ContactUpdated(c) | Event::ContactDeleted(c) => {
                c.timestamp_ms
            }
            Event::QueueEnter(q)
            | Event::QueueMemberDial(q)
            | Event::QueueMemberAnswer(q)
            | Event::QueueMemberDialHangup(q)
            | Event::QueueHangup(q)
            | Event::QueueNoAnswer(q)
            | Event::QueueHangupTimeout(q)
            | Event::QueueHangupAbandoned(q) => q.timestamp_ms,
            Event::IncomingExternalCall(v)
            | Event::CallEnded(v)
            | Event::UserDial(v)
            | Event::UserAnswer(v)
            | Event::UserHangup(v) => v.timestamp_ms,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Event::ChannelCreate { .. } => "channel_create",
            Event::ChannelAnswer { .. } => "channel_answer",
            Event::ChannelBridge { .. } => "channel_bridge",
            Event::ChannelDestroy { .. } => "channel_destroy",
            Event::Dtmf { .. } => "dtmf",
            Event::Recording { .. } => "recording",
            Event::VoicemailNew { .. } => "voicemail_new",
            Event::DocCreated(_) => "doc_created",
            Event::DocEdited(_) => "doc_edited",
            Event::DocDeleted(_) => "doc_deleted",
            Event::SmsReceived(_) => "SMS_RECEIVED",
            Event::SmsSent(_) => "SMS_SENT",
            Event::SmsDelivered(_) => "SMS_DELIVERED",
            Event::MessageStatus(_) => "MESSAGE_STATUS",
            Event::ContactCreated(_) => "CONTACT_CREATED",
            Event::ContactUpdated(_) => "CONTACT_UPDATED",
            Event::ContactDeleted(_) => "CONTACT_DELETED",
            Event::IvrChoice { .. } => "ivr_choice",
            Event::QueueEnter(_) => "QUEUE_ENTER",
            Event::QueueMemberDial(_) => "QUEUE_MEMBER_DIAL",
            Event::QueueMemberAnswer(_) => "QUEUE_MEMBER_ANSWER",
            Event::QueueMemberDialHangup(_) => "QUEUE_MEMBER_DIAL_HANGUP",
            Event::QueueHangup(_) => "QUEUE_HANGUP",
            Event::QueueNoAnswer(_) => "QUEUE_NO_ANSWER",
            Event::QueueHangupTimeout(_) => "QUEUE_HANGUP_TIMEOUT",
            Event::QueueHangupAbandoned(_) => "QUEUE_HANGUP_ABANDONED",
            Event::IncomingExternalCall(_) => "INCOMING_EXTERNAL_CALL",
            Event::CallEnded(_) => "CALL_ENDED",
            Event::UserDial(_) => "USER_DIAL",
            Event::UserAnswer(_) => "USER_ANSWER",
            Event::UserHangup(_) => "USER_HANGUP",
        }
    }
}

/// Where events are published: each is appended to the [`EventLog`] (its id,
/// readers' cursors, the durable writer) and handed to in-process subscribers
/// (a broadcast that may lag: for tests and best-effort watchers; readers that
/// must not lose anything read the log).
#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<std::sync::Arc<Event>>,
    log: std::sync::Arc<EventLog>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new(4096)
    }
}

/// Records kept in memory for readers (older ones are read from the store).
const LOG_RING: usize = 65_536;

impl Bus {
    pub fn new(capacity: usize) -> Self {
        Self::with_log(capacity, EventLog::new(1, LOG_RING))
    }

    /// A bus over `log` (a switch starts its log after the store's last id).
    pub fn with_log(capacity: usize, log: EventLog) -> Self {
        let (tx, _) = broadcast::channel(capacity);
        Bus {
            tx,
            log: std::sync::Arc::new(log),
        }
    }

    /// Publishes `event`; returns its id in the log.
    pub fn publish(&self, event: Event) -> u64 {
        self.publish_with(event, None)
    }

    /// Publishes `event` with the row that belongs to it (stored in the same
    /// transaction as the event); returns its id in the log.
    pub fn publish_with(&self, event: Event, kept: Option<kept::Kept>) -> u64 {
        let seq = self.log.append_with(&event, kept);
        // no subscribers is fine
        let _ = self.tx.send(std::sync::Arc::new(event));
        seq
    }

    pub fn subscribe(&self) -> broadcast::Receiver<std::sync::Arc<Event>> {
        self.tx.subscribe()
    }

    pub fn log(&self) -> &std::sync::Arc<EventLog> {
        &self.log
    }
}

/// The call an event (as JSON) belongs to — its `call_id`, or the voice
/// API's `uniqueid` (at the top or in `metadata`) — or `_` for events of no
/// call. The events of one call keep their order on the way to a receiver.
pub fn call_key(event: &serde_json::Value) -> String {
    for k in ["call_id", "uniqueid"] {
        if let Some(id) = event.get(k).and_then(serde_json::Value::as_str) {
            return id.to_string();
        }
        if let Some(id) = event["metadata"].get(k).and_then(serde_json::Value::as_str) {
            return id.to_string();
        }
    }
    "_".to_string()
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
