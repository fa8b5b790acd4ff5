//! Where a message goes and what came of handing it over. Each provider is
//! a module with a `send` (one hand-off, classified once into an
//! [`Outcome`]) and, where the provider can be asked, a `lookup` (what it
//! knows of a message: reconcile-first). `route` picks the provider from the
//! account's delivery mode: everything to the simulator in SIMULATOR mode;
//! in LIVE mode SMS to a registered extension over SIP MESSAGE, else the
//! account's SMS provider (Twilio or Telnyx), email over SMTP, voice as a
//! call through the switch's trunk.

pub mod simulator;
pub mod sip;
pub mod smtp;
pub mod telnyx;
pub mod twilio;
pub mod voice;

use std::time::Duration;

use crate::store::{DeliverySettings, MessageRow};

/// How one hand-off ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider took it, as `reference`; `delivered` when that is already
    /// the final word (an SMTP relay's 250, a device's 200 to a MESSAGE).
    Accepted {
        reference: String,
        cost_micros: Option<i64>,
        delivered: bool,
    },
    /// The provider answered, and the answer is final: not delivered.
    Undelivered { reference: String, reason: String },
    /// Refused for good (a bad number, a refused login): never retried.
    Rejected(String),
    /// Not handed over (could not connect, throttled): safe to try again.
    Retry {
        reason: String,
        after: Option<Duration>,
        /// Not even connected (counts towards "provider down").
        unreachable: bool,
    },
    /// Perhaps handed over (no answer, a 5xx after the request went out):
    /// reconciled with the provider before anything is sent again.
    Ambiguous(String),
}

impl Outcome {
    /// Nothing was handed over because the switch's own store failed: retried on the backoff.
    pub fn store_failed(reason: String) -> Outcome {
        Outcome::Retry {
            reason,
            after: None,
            unreachable: false,
        }
    }
}

/// A provider's own word on a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// It has it, as `reference`, in `state`.
    Found {
        reference: String,
        state: Remote,
        cost_micros: Option<i64>,
    },
    /// It certainly does not have it: sending it is safe.
    NotFound,
    /// It cannot tell (no way to ask, or no answer).
    Unknown,
}

/// Where a provider says a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    Pending,
    Delivered,
    Undelivered(String),
}

/// The provider a message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Simulator,
    Smtp,
    Twilio,
    Telnyx,
    Sip,
    Voice,
    /// No provider can take it (LIVE mode without one configured).
    Nowhere(String),
}

impl Route {
    pub fn name(&self) -> &'static str {
        match self {
            Route::Simulator => "simulator",
            Route::Smtp => "smtp",
            Route::Twilio => "twilio",
            Route::Telnyx => "telnyx",
            Route::Sip => "sip",
            Route::Voice => "voice",
            Route::Nowhere(_) => "none",
        }
    }

    pub fn from_name(name: &str) -> Option<Route> {
        Some(match name {
            "simulator" => Route::Simulator,
            "smtp" => Route::Smtp,
            "twilio" => Route::Twilio,
            "telnyx" => Route::Telnyx,
            "sip" => Route::Sip,
            "voice" => Route::Voice,
            _ => return None,
        })
    }
}

/// Picks a message's provider. `sip_route` says whether the recipient is a
/// number that reaches a registered extension.
pub fn route(m: &MessageRow, settings: &DeliverySettings, sip_route: bool, smtp: bool) -> Route {
    if settings.mode != "LIVE" {
        return Route::Simulator;
    }
    match m.channel.as_str() {
        "SMS" if sip_route => Route::Sip,
        "SMS" => match settings.sms_provider.as_deref() {
            Some("twilio") => Route::Twilio,
            Some("telnyx") => Route::Telnyx,
            _ => Route::Nowhere(
                "LIVE mode: the number reaches no registered extension and the account has \
                 no SMS provider (twilio or telnyx)"
                    .into(),
            ),
        },
        "EMAIL" if smtp => Route::Smtp,
        "EMAIL" => Route::Nowhere("LIVE mode: no SMTP server configured (--smtp-url)".into()),
        "VOICE" => Route::Voice,
        other => Route::Nowhere(format!("unknown channel {other}")),
    }
}

/// Classifies an HTTP provider's answer to a send (Twilio, Telnyx): 2xx was
/// handled by the caller; 429 and 503-with-Retry-After are throttling (not
/// taken); any other 5xx came after the request went out, so is ambiguous;
/// other 4xx are final refusals.
pub fn classify_http(status: u16, retry_after: Option<Duration>, text: &str) -> Outcome {
    let snippet: String = text.chars().take(300).collect();
    match status {
        429 => Outcome::Retry {
            reason: format!("throttled by the provider (429): {snippet}"),
            after: retry_after,
            unreachable: false,
        },
        503 if retry_after.is_some() => Outcome::Retry {
            reason: format!("provider unavailable (503): {snippet}"),
            after: retry_after,
            unreachable: false,
        },
        500..=599 => Outcome::Ambiguous(format!("provider answered {status}: {snippet}")),
        _ => Outcome::Rejected(format!("provider refused it ({status}): {snippet}")),
    }
}

/// Classifies a transport failure of an HTTP send: no connection means
/// nothing went out; a timeout or a broken answer may have been taken.
pub fn classify_transport(e: &reqwest::Error) -> Outcome {
    if e.is_connect() {
        Outcome::Retry {
            reason: format!("cannot reach the provider: {e}"),
            after: None,
            unreachable: true,
        }
    } else {
        Outcome::Ambiguous(format!("no answer from the provider: {e}"))
    }
}

/// A `Retry-After` header in seconds.
pub fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    h.get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(3600)))
}

/// A price in the providers' decimal dollars (`"-0.00790"`, `"0.0040"`) as micro-dollars.
pub fn micros(price: &str) -> Option<i64> {
    let v: f64 = price.trim().parse().ok()?;
    Some((v.abs() * 1_000_000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(channel: &str) -> MessageRow {
        MessageRow {
            id: 1,
            account_id: "demo".into(),
            merchant_pk: 1,
            channel: channel.into(),
            msg_type: "OTP".into(),
            recipient: "+15551230000".into(),
            payload: "{}".into(),
            status: "SENDING".into(),
            attempts: 1,
            next_at: 0,
            provider: None,
            provider_ref: None,
            cost_micros: None,
            units: 1,
            is_final: false,
            error: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn routes_follow_the_mode_and_what_is_configured() {
        let sim = DeliverySettings::default();
        assert_eq!(route(&msg("SMS"), &sim, true, true), Route::Simulator);
        let live = |p: Option<&str>| DeliverySettings {
            mode: "LIVE".into(),
            sms_provider: p.map(str::to_string),
            sim_failure_rate: 0.0,
        };
        assert_eq!(route(&msg("SMS"), &live(None), true, false), Route::Sip);
        assert_eq!(
            route(&msg("SMS"), &live(Some("telnyx")), false, false),
            Route::Telnyx
        );
        assert!(matches!(
            route(&msg("SMS"), &live(None), false, false),
            Route::Nowhere(_)
        ));
        assert_eq!(route(&msg("EMAIL"), &live(None), false, true), Route::Smtp);
        assert_eq!(
            route(&msg("VOICE"), &live(None), false, false),
            Route::Voice
        );
    }

    #[test]
    fn http_answers_are_classified_once() {
        assert!(matches!(
            classify_http(400, None, "bad"),
            Outcome::Rejected(_)
        ));
        assert!(matches!(
            classify_http(500, None, ""),
            Outcome::Ambiguous(_)
        ));
        assert!(matches!(
            classify_http(429, Some(Duration::from_secs(3)), ""),
            Outcome::Retry { after: Some(_), .. }
        ));
        assert_eq!(micros("-0.00790"), Some(7900));
        assert_eq!(micros("0.0040"), Some(4000));
    }
}
