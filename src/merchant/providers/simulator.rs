//! The simulator (SIMULATOR mode, the default): a message is "handed off" by
//! recording it (`simulated_messages`) with its outcome decided there and
//! then — delivered, or undelivered at the account's configured failure
//! rate — and revealed after `--simulator-delay-ms`, as a provider's callback
//! would. The record is the provider's memory: reconciliation asks it, so a
//! crash mid-hand-off never simulates a message twice.

use serde_json::Value;

use super::{Lookup, Outcome, Remote};
use crate::merchant::service::Service;
use crate::store::{DeliverySettings, MessageRow};

/// What was "sent": the text, the email's subject and body, or the spoken text.
pub fn body_of(m: &MessageRow, payload: &Value) -> String {
    match m.channel.as_str() {
        "EMAIL" => format!(
            "{}\n\n{}",
            payload["subject"].as_str().unwrap_or(""),
            payload["body"].as_str().unwrap_or("")
        ),
        "VOICE" => payload["text"].as_str().unwrap_or("").to_string(),
        _ => payload["message"].as_str().unwrap_or("").to_string(),
    }
}

pub async fn send(
    svc: &Service,
    m: &MessageRow,
    payload: &Value,
    settings: &DeliverySettings,
) -> Outcome {
    let fails =
        settings.sim_failure_rate > 0.0 && rand::random::<f64>() < settings.sim_failure_rate;
    let outcome = if fails { "UNDELIVERED" } else { "DELIVERED" };
    match svc
        .store
        .simulate_handoff(m, &body_of(m, payload), outcome, crate::events::now_ms())
        .await
    {
        // handed over now, or already (an earlier attempt got this far): same message either way
        Ok(_) => Outcome::Accepted {
            reference: format!("sim-{}", m.id),
            cost_micros: None,
            delivered: false,
        },
        Err(e) => Outcome::Retry {
            reason: format!("the simulator could not record it: {e}"),
            after: None,
            unreachable: false,
        },
    }
}

pub async fn lookup(svc: &Service, m: &MessageRow) -> Lookup {
    match svc.store.simulated_outcome(m.id).await {
        Ok(Some(outcome)) => Lookup::Found {
            reference: format!("sim-{}", m.id),
            state: match outcome.as_str() {
                "DELIVERED" => Remote::Delivered,
                _ => Remote::Undelivered("the simulator's configured failure rate".into()),
            },
            cost_micros: None,
        },
        Ok(None) => Lookup::NotFound,
        Err(_) => Lookup::Unknown,
    }
}
