//! SMS to a registered extension over SIP MESSAGE (RFC 3428), in LIVE mode
//! when the recipient's number reaches an extension of the account with a
//! registered device: the device's 2xx is delivery; a 4xx–6xx from every
//! device is a final refusal; no answer at all (timer F) may still have
//! reached a device, so it is ambiguous — and a SIP device cannot be asked
//! afterwards, so it is never sent again.

use serde_json::Value;

use super::Outcome;
use crate::call::sms::{self, SmsOutcome, SmsTarget};
use crate::merchant::service::Service;
use crate::store::MessageRow;
use crate::switch::Switch;

/// Where the message would go: the recipient's number's extension's devices
/// (an outside number through the trunk is not this route).
pub fn targets(sw: &Switch, m: &MessageRow) -> Vec<SmsTarget> {
    let dir = sw.directory();
    let Some(number) = dir.number(&m.recipient) else {
        return Vec::new();
    };
    if number.account_id != m.account_id {
        return Vec::new();
    }
    sms::targets(sw, &m.account_id, &m.recipient)
}

/// The account's number a message comes from: one named in the request, else
/// its first SMS number, else the merchant API's own name.
fn sender(sw: &Switch, m: &MessageRow, payload: &Value) -> String {
    if let Some(f) = payload["from"].as_str() {
        return f.to_string();
    }
    sw.directory()
        .numbers_of(&m.account_id)
        .into_iter()
        .find(|n| n.sms_enabled && n.number != m.recipient)
        .map(|n| n.number.clone())
        .unwrap_or_else(|| "switchyard".into())
}

pub async fn send(svc: &Service, m: &MessageRow, payload: &Value) -> Outcome {
    let Some(sw) = &svc.sw else {
        return Outcome::Rejected("the switch is not running".into());
    };
    let to = targets(sw, m);
    if to.is_empty() {
        return Outcome::Retry {
            reason: "the extension has no registered device now".into(),
            after: None,
            unreachable: false,
        };
    }
    let from = sender(sw, m, payload);
    let text = payload["message"].as_str().unwrap_or("");
    match sms::send(sw, &m.account_id, &from, &to, text).await {
        SmsOutcome::Delivered => Outcome::Accepted {
            reference: format!("sip-{}", m.id),
            cost_micros: Some(0),
            delivered: true,
        },
        SmsOutcome::Failed(Some(code)) => Outcome::Undelivered {
            reference: format!("sip-{}", m.id),
            reason: format!("the device refused it with {code}"),
        },
        SmsOutcome::Failed(None) => {
            Outcome::Ambiguous("no device answered the MESSAGE (it may have arrived)".into())
        }
    }
}
