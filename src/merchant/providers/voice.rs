//! Voice messages through the switch: an outside call through the account's
//! trunk (no inbound leg) that rings for the request's `timeoutSeconds`,
//! and once answered speaks the text (text-to-speech, twice with `repeat`)
//! and hangs up; with `record`, the call is recorded from the answer. The
//! call's id is the reference. Answered and spoken is delivered; no answer,
//! busy or a refusal is undelivered with the call's hangup cause.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use super::Outcome;
use crate::call::b2bua::{originate_outside, OutsideCall};
use crate::dialplan::Step;
use crate::events::{Event, HangupCause};
use crate::ids::AccountId;
use crate::merchant::service::Service;
use crate::routing::{nodes, Callflow};
use crate::store::MessageRow;
use crate::switch::commands::CallCommand;
use crate::switch::CallInput;

/// The longest a voice message's call may last once answered.
const MAX_CALL: Duration = Duration::from_secs(600);

/// The steps an answered call runs: a breath, the text, a pause, the end.
pub fn steps(text: &str, voice: Option<&str>, repeat: bool) -> Vec<Step> {
    let say = Step::Say {
        text: text.to_string(),
        voice: voice.map(str::to_string),
    };
    let mut v = vec![Step::Pause { seconds: 0.5 }, say.clone()];
    if repeat {
        v.push(Step::Pause { seconds: 1.0 });
        v.push(say);
    }
    v.push(Step::Pause { seconds: 0.5 });
    v.push(Step::Hangup);
    v
}

pub async fn send(svc: &Service, m: &MessageRow, payload: &Value) -> Outcome {
    let Some(sw) = &svc.sw else {
        return Outcome::Rejected("the switch is not running".into());
    };
    let text = payload["text"].as_str().unwrap_or("");
    let ring = Duration::from_secs(
        payload["timeoutSeconds"]
            .as_u64()
            .unwrap_or(30)
            .clamp(5, 120),
    );
    let record = payload["record"].as_bool().unwrap_or(false);
    let flow = Callflow::single(
        AccountId::from(m.account_id.as_str()),
        &m.recipient,
        Box::new(nodes::Play {
            id: "message".into(),
            steps: steps(
                text,
                payload["voice"].as_str(),
                payload["repeat"].as_bool().unwrap_or(false),
            ),
            next: None,
        }),
    );
    let mut events = sw.bus.subscribe();
    let handle = match originate_outside(
        sw,
        &svc.acd,
        OutsideCall {
            account: m.account_id.clone(),
            number: m.recipient.clone(),
            caller_id: payload["callerId"].as_str().map(str::to_string),
            ring,
            then: flow,
        },
    ) {
        Ok(h) => h,
        Err(e) => return Outcome::Rejected(format!("cannot place the call: {e}")),
    };
    let call = handle.id;
    if let Err(e) = svc
        .store
        .set_provider_ref(m.id, "voice", &call.to_string())
        .await
    {
        tracing::warn!(message = m.id, error = %e, "cannot note a voice message's call");
    }
    let deadline = tokio::time::Instant::now() + ring + MAX_CALL + Duration::from_secs(10);
    let mut answered = false;
    let mut cause = None;
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            _ = tokio::time::sleep_until(deadline) => {
                let _ = handle.tx.send(CallInput::Hangup);
                break;
            }
            // a lagging subscriber may miss the end: the call's own table says it too
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if !sw.calls_by_id.contains_key(&call) { break; }
                continue;
            }
        };
        let ev = match ev {
            Ok(ev) => ev,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => break,
        };
        match &*ev {
            Event::ChannelAnswer { channel, .. } if channel.call_id == call => {
                answered = true;
                if record {
                    let (reply, rx) = oneshot::channel();
                    let cmd = CallCommand::Record {
                        leg: channel.channel_id,
                        on: true,
                        reply,
                    };
                    let _ = handle.tx.send(CallInput::Command(cmd));
                    tokio::spawn(async move {
                        let _ = rx.await;
                    });
                }
            }
            Event::ChannelDestroy {
                channel,
                hangup_cause,
                ..
            } if channel.call_id == call => {
                cause = Some(*hangup_cause);
                break;
            }
            _ => {}
        }
    }
    let reference = call.to_string();
    let cause_text = |c: Option<HangupCause>| {
        c.and_then(|c| serde_json::to_value(c).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "UNKNOWN".into())
    };
    if answered {
        Outcome::Accepted {
            reference,
            cost_micros: None,
            delivered: true,
        }
    } else {
        Outcome::Undelivered {
            reference,
            reason: format!("the call was not answered ({})", cause_text(cause)),
        }
    }
}
