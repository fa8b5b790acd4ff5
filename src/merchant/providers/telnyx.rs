//! SMS through Telnyx's Messaging API v2: `POST /v2/messages` (JSON, Bearer
//! API key) with a `webhook_url` that names our message
//! (`/hooks/telnyx/{id}`); the message's `id` is the reference. Lookup asks
//! `GET /v2/messages/{id}`; without an id (the answer was lost) Telnyx cannot
//! be asked, so the message waits for its webhook, which names it. Webhooks
//! count only with a valid `telnyx-signature-ed25519` over
//! `"{telnyx-timestamp}|{body}"` under the account's public key, at most five
//! minutes old.

use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{json, Value};

use super::{classify_http, classify_transport, micros, retry_after, Lookup, Outcome, Remote};
use crate::merchant::service::Service;
use crate::store::MessageRow;

/// Oldest webhook timestamp accepted (seconds).
pub const TOLERANCE_SECS: i64 = 300;

fn url(svc: &Service, path: &str) -> String {
    format!("{}{path}", svc.args.telnyx_url.trim_end_matches('/'))
}

pub async fn send(svc: &Service, m: &MessageRow, payload: &Value) -> Outcome {
    let Some(key) = svc.args.telnyx_api_key.as_deref() else {
        return Outcome::Rejected("Telnyx is not configured (--telnyx-api-key)".into());
    };
    let Some(from) = payload["from"]
        .as_str()
        .map(str::to_string)
        .or_else(|| svc.args.telnyx_from.clone())
    else {
        return Outcome::Rejected("no number to send from (--telnyx-from)".into());
    };
    let body = json!({
        "from": from,
        "to": m.recipient,
        "text": payload["message"].as_str().unwrap_or(""),
        "webhook_url": format!("{}/hooks/telnyx/{}", svc.public_url, m.id),
        "use_profile_webhooks": false,
    });
    let resp = match svc
        .http
        .post(url(svc, "/v2/messages"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return classify_transport(&e),
    };
    let status = resp.status().as_u16();
    let after = retry_after(resp.headers());
    let text = resp.text().await.unwrap_or_default();
    if (200..300).contains(&status) {
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        return match v["data"]["id"].as_str() {
            Some(id) => Outcome::Accepted {
                reference: id.to_string(),
                cost_micros: v["data"]["cost"]["amount"].as_str().and_then(micros),
                delivered: false,
            },
            None => Outcome::Ambiguous("Telnyx's answer had no id".into()),
        };
    }
    classify_http(status, after, &text)
}

/// What a Telnyx message's (first recipient's) status means for us.
pub fn remote(status: &str) -> Remote {
    match status {
        "delivered" => Remote::Delivered,
        "sending_failed" | "delivery_failed" | "delivery_unconfirmed" => {
            Remote::Undelivered(format!("Telnyx: {status}"))
        }
        _ => Remote::Pending,
    }
}

/// The status and cost a Telnyx message object carries.
pub fn state_of(msg: &Value) -> (Remote, Option<i64>) {
    let status = msg["to"][0]["status"].as_str().unwrap_or("");
    (
        remote(status),
        msg["cost"]["amount"].as_str().and_then(micros),
    )
}

pub async fn lookup(svc: &Service, m: &MessageRow) -> Lookup {
    let (Some(key), Some(id)) = (
        svc.args.telnyx_api_key.as_deref(),
        m.provider_ref.as_deref().filter(|r| !r.is_empty()),
    ) else {
        return Lookup::Unknown;
    };
    let r = svc
        .http
        .get(url(svc, &format!("/v2/messages/{id}")))
        .bearer_auth(key)
        .send()
        .await;
    match r {
        Ok(r) if r.status().is_success() => match r.json::<Value>().await {
            Ok(v) => {
                let (state, cost_micros) = state_of(&v["data"]);
                Lookup::Found {
                    reference: id.to_string(),
                    state,
                    cost_micros,
                }
            }
            Err(_) => Lookup::Unknown,
        },
        Ok(r) if r.status().as_u16() == 404 => Lookup::NotFound,
        _ => Lookup::Unknown,
    }
}

/// Whether a webhook body bears Telnyx's signature, made within the tolerance of `now_secs`.
pub fn verify(
    key: &VerifyingKey,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now_secs: i64,
) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    if (now_secs - ts).abs() > TOLERANCE_SECS {
        return false;
    }
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(&raw) else {
        return false;
    };
    let mut signed = Vec::with_capacity(body.len() + 12);
    signed.extend_from_slice(timestamp.trim().as_bytes());
    signed.push(b'|');
    signed.extend_from_slice(body);
    key.verify(&signed, &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn webhooks_need_a_fresh_valid_signature() {
        let sk = SigningKey::from_bytes(&[7u8; 32]);
        let pk = sk.verifying_key();
        let body = br#"{"data":{"event_type":"message.finalized"}}"#;
        let mut signed = b"1700000000|".to_vec();
        signed.extend_from_slice(body);
        let sig = base64::engine::general_purpose::STANDARD.encode(sk.sign(&signed).to_bytes());
        assert!(verify(&pk, "1700000000", &sig, body, 1_700_000_010));
        assert!(
            !verify(&pk, "1700000000", &sig, body, 1_700_000_999),
            "stale"
        );
        assert!(
            !verify(&pk, "1700000001", &sig, body, 1_700_000_010),
            "other time"
        );
        assert!(
            !verify(&pk, "1700000000", &sig, b"{}", 1_700_000_010),
            "other body"
        );
        assert_eq!(remote("delivered"), Remote::Delivered);
        assert!(matches!(remote("delivery_failed"), Remote::Undelivered(_)));
    }
}
