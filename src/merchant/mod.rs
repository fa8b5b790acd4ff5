//! Merchant messaging (the `/api/v1` merchant API, seed 000): the domain of
//! merchants, consents and messages — channels, message types, statuses and
//! the consent rule — and the machinery that delivers what the API accepts:
//! `accept` (group-committed admission: idempotency, limits and credits, the
//! queue row, in one transaction), `dispatch` (the workers over the queue:
//! rate limits, retries, dead letters, reconcile-first), `providers` (the
//! simulator, SMTP, Twilio, Telnyx, SIP MESSAGE, voice through the switch),
//! `window` (the calling window) and `pricing`. It sits above the switch and
//! below HTTP; the store holds every row.

pub mod accept;
pub mod alerts;
pub mod config;
pub mod dispatch;
pub mod handoff;
pub mod health;
pub mod inbound;
pub mod messaging;
pub mod pricing;
pub mod providers;
pub mod reconcile;
pub mod run;
pub mod service;
pub mod settle;
pub mod text;
pub mod tz;
mod tz_nanp;
pub mod window;

use serde::{Deserialize, Serialize};

/// A delivery channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Channel {
    Sms,
    Voice,
    Email,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Sms, Channel::Voice, Channel::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "SMS",
            Channel::Voice => "VOICE",
            Channel::Email => "EMAIL",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "SMS" => Some(Channel::Sms),
            "VOICE" => Some(Channel::Voice),
            "EMAIL" => Some(Channel::Email),
            _ => None,
        }
    }

    /// The lane's name in metrics and the operator route.
    pub fn lane(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Voice => "voice",
            Channel::Email => "email",
        }
    }
}

/// What a message is for; decides what consent it needs ([`consent_allows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum MessageType {
    Otp,
    Reminder,
    Transactional,
    Marketing,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Otp => "OTP",
            MessageType::Reminder => "REMINDER",
            MessageType::Transactional => "TRANSACTIONAL",
            MessageType::Marketing => "MARKETING",
        }
    }

    pub fn parse(s: &str) -> Option<MessageType> {
        match s {
            "OTP" => Some(MessageType::Otp),
            "REMINDER" => Some(MessageType::Reminder),
            "TRANSACTIONAL" => Some(MessageType::Transactional),
            "MARKETING" => Some(MessageType::Marketing),
            _ => None,
        }
    }
}

/// A recipient's consent on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsentStatus {
    OptIn,
    OptOut,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentStatus::OptIn => "OPT_IN",
            ConsentStatus::OptOut => "OPT_OUT",
        }
    }

    pub fn parse(s: &str) -> Option<ConsentStatus> {
        match s {
            "OPT_IN" => Some(ConsentStatus::OptIn),
            "OPT_OUT" => Some(ConsentStatus::OptOut),
            _ => None,
        }
    }
}

/// Why consent refuses a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentRefusal {
    /// The recipient opted out of the channel.
    OptedOut,
    /// Marketing needs an opt-in, and there is none.
    NoOptIn,
}

/// The consent rule: an opt-out always blocks; marketing needs an opt-in; an
/// OTP, a reminder or a transactional message needs only no opt-out (the
/// recipient asked for it or has a relationship with the merchant).
pub fn consent_allows(
    kind: MessageType,
    consent: Option<ConsentStatus>,
) -> Result<(), ConsentRefusal> {
    match (consent, kind) {
        (Some(ConsentStatus::OptOut), _) => Err(ConsentRefusal::OptedOut),
        (Some(ConsentStatus::OptIn), _) => Ok(()),
        (None, MessageType::Marketing) => Err(ConsentRefusal::NoOptIn),
        (None, _) => Ok(()),
    }
}

/// Why a queued message may no longer go, checked just before its hand-off
/// (`active`: the merchant's flag, `None` when it is gone), if so.
pub fn hand_off_refusal(
    active: Option<bool>,
    msg_type: &str,
    consent: Option<ConsentStatus>,
) -> Option<String> {
    match active {
        None => Some("the merchant no longer exists".into()),
        Some(false) => Some("the merchant was deactivated before it was sent".into()),
        Some(true) => {
            let kind = MessageType::parse(msg_type).unwrap_or(MessageType::Marketing);
            consent_allows(kind, consent).err().map(|_| {
                "the recipient's consent no longer allows it (checked before sending)".into()
            })
        }
    }
}

/// Where a message stands. Final states have a provider's last word (or the
/// switch's: dead letter, cancelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Accepted; waiting for a worker.
    Queued,
    /// A voice message waiting for the recipient's calling window.
    Scheduled,
    /// A worker holds it and is handing it to the provider.
    Sending,
    /// A retryable failure; waiting for its next attempt.
    Retry,
    /// The hand-off's outcome was ambiguous; being checked with the provider
    /// before anything is sent again.
    Reconciling,
    /// The provider took it; its final outcome is pending.
    Sent,
    Delivered,
    Undelivered,
    Failed,
    DeadLetter,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "QUEUED",
            Status::Scheduled => "SCHEDULED",
            Status::Sending => "SENDING",
            Status::Retry => "RETRY",
            Status::Reconciling => "RECONCILING",
            Status::Sent => "SENT",
            Status::Delivered => "DELIVERED",
            Status::Undelivered => "UNDELIVERED",
            Status::Failed => "FAILED",
            Status::DeadLetter => "DEAD_LETTER",
            Status::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Queued,
            Status::Scheduled,
            Status::Sending,
            Status::Retry,
            Status::Reconciling,
            Status::Sent,
            Status::Delivered,
            Status::Undelivered,
            Status::Failed,
            Status::DeadLetter,
            Status::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// No later state follows.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Delivered
                | Status::Undelivered
                | Status::Failed
                | Status::DeadLetter
                | Status::Cancelled
        )
    }
}

/// An account's delivery mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Mode {
    Simulator,
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Simulator => "SIMULATOR",
            Mode::Live => "LIVE",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "SIMULATOR" => Some(Mode::Simulator),
            "LIVE" => Some(Mode::Live),
            _ => None,
        }
    }
}

/// The month a time falls in, as its first day (`YYYY-MM-01`, UTC): usage periods.
pub fn period_of(ms: i64) -> String {
    use chrono::Datelike;
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    format!("{:04}-{:02}-01", t.year(), t.month())
}

/// STOP / START keywords in an SMS reply (CTIA's list), as the consent they mean.
pub fn reply_keyword(body: &str) -> Option<ConsentStatus> {
    let word = body
        .trim()
        .trim_end_matches(['.', '!'])
        .to_ascii_uppercase();
    match word.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "OPTOUT" | "REVOKE" => {
            Some(ConsentStatus::OptOut)
        }
        "START" | "YES" | "UNSTOP" | "OPTIN" | "SUBSCRIBE" => Some(ConsentStatus::OptIn),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_rule_per_type() {
        use ConsentStatus::*;
        use MessageType::*;
        for kind in [Otp, Reminder, Transactional, Marketing] {
            assert_eq!(
                consent_allows(kind, Some(OptOut)),
                Err(ConsentRefusal::OptedOut)
            );
            assert_eq!(consent_allows(kind, Some(OptIn)), Ok(()));
        }
        assert_eq!(consent_allows(Otp, None), Ok(()));
        assert_eq!(consent_allows(Reminder, None), Ok(()));
        assert_eq!(consent_allows(Transactional, None), Ok(()));
        assert_eq!(
            consent_allows(Marketing, None),
            Err(ConsentRefusal::NoOptIn)
        );
    }

    #[test]
    fn periods_and_keywords() {
        // 2026-04-16T13:20:32Z
        assert_eq!(period_of(1_776_345_632_000), "2026-04-01");
        assert_eq!(reply_keyword(" stop "), Some(ConsentStatus::OptOut));
        assert_eq!(reply_keyword("Unsubscribe."), Some(ConsentStatus::OptOut));
        assert_eq!(reply_keyword("START"), Some(ConsentStatus::OptIn));
        assert_eq!(reply_keyword("stop sending me these"), None);
        for st in ["QUEUED", "DEAD_LETTER", "RECONCILING", "DELIVERED"] {
            assert_eq!(Status::parse(st).map(Status::as_str), Some(st));
        }
        assert!(Status::Delivered.is_final() && !Status::Sent.is_final());
    }
}
