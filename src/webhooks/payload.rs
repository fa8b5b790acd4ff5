//! What a delivery sends: the event rendered in the subscription's envelope
//! and format. Hook subscriptions (seed 002's hooks) get a flat object —
//! `hook_event`, `event_id`, `account_id`, `call_id`, `leg_id`,
//! `other_leg_id`, `call_direction`, `caller_id_number` … (docs/webhooks.md
//! lists every field) — with the subscription's `custom_data` merged in;
//! voice-API subscriptions get `{event_name, account_id, timestamp,
//! metadata}` exactly as the voice API documents it. `json` bodies are JSON;
//! `form-data` bodies are URL-encoded pairs (nested values as JSON text); a
//! `get` subscription sends the pairs as the query string.

use serde::Serialize;
use serde_json::{Map, Value};

use super::subscription::{Format, HttpVerb, Subscription};
use crate::events::Record;

/// A rendered delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The request body (empty for `get`).
    pub body: Vec<u8>,
    /// The query string of a `get` (what is signed then).
    pub query: Option<String>,
    pub content_type: Option<&'static str>,
}

impl Rendered {
    /// The bytes the signatures cover: the body, or a `get`'s query string.
    pub fn signed_bytes(&self) -> &[u8] {
        match &self.query {
            Some(q) => q.as_bytes(),
            None => &self.body,
        }
    }
}

/// Channel event fields renamed for hook bodies (the log's name → the hook's).
const CHANNEL_FIELDS: &[(&str, &str)] = &[
    ("channel_id", "leg_id"),
    ("other_channel_id", "other_leg_id"),
    ("direction", "call_direction"),
    ("caller", "caller_id_number"),
    ("callee", "callee_id_number"),
    ("caller_name", "caller_id_name"),
    ("callee_name", "callee_id_name"),
];

/// The lane an event's deliveries keep their order in: its call (events of
/// one call arrive in order), else one lane for everything else.
pub fn order_key(event: &Value) -> String {
    crate::events::call_key(event)
}

#[derive(Serialize)]
struct VoiceBody<'a> {
    event_name: &'a str,
    account_id: &'a str,
    timestamp: i64,
    metadata: Value,
}

/// The object a delivery carries (before encoding).
pub fn body_object(sub: &Subscription, rec: &Record, event: &Value) -> Value {
    let custom = &sub.settings.custom_data;
    let mut ev = event.as_object().cloned().unwrap_or_default();
    ev.remove("event");
    if sub.settings.hook.voice_envelope() {
        let mut metadata = match ev.remove("metadata") {
            Some(Value::Object(m)) => m,
            _ => {
                for k in ["account_id", "timestamp", "timestamp_ms"] {
                    ev.remove(k);
                }
                ev
            }
        };
        merge_under(&mut metadata, custom);
        let body = VoiceBody {
            event_name: &rec.name,
            account_id: &rec.account_id,
            timestamp: rec.timestamp_ms.div_euclid(1000),
            metadata: Value::Object(metadata),
        };
        return serde_json::to_value(body).unwrap_or_default();
    }
    let mut out = Map::new();
    out.insert("hook_event".into(), Value::from(rec.name.as_str()));
    out.insert("event_id".into(), Value::from(rec.seq.to_string()));
    out.insert("account_id".into(), Value::from(rec.account_id.as_str()));
    if super::hooks::OBJECT_ACTIONS.contains(&rec.name.as_str()) {
        out.insert("action".into(), Value::from(rec.name.as_str()));
    }
    for (k, v) in ev {
        let k = CHANNEL_FIELDS
            .iter()
            .find(|(from, _)| *from == k)
            .map_or(k.clone(), |(_, to)| (*to).to_string());
        match k.as_str() {
            "duration_ms" => {
                out.insert(
                    "duration_seconds".into(),
                    Value::from(v.as_i64().unwrap_or(0) / 1000),
                );
            }
            "billsec_ms" => {
                out.insert(
                    "billing_seconds".into(),
                    Value::from(v.as_i64().unwrap_or(0) / 1000),
                );
            }
            _ => {
                out.insert(k, v);
            }
        }
    }
    out.insert(
        "timestamp".into(),
        Value::from(rec.timestamp_ms.div_euclid(1000)),
    );
    out.insert("timestamp_ms".into(), Value::from(rec.timestamp_ms));
    merge_under(&mut out, custom);
    Value::Object(out)
}

/// Adds `custom`'s properties the event does not have (the event's own win).
fn merge_under(into: &mut Map<String, Value>, custom: &Map<String, Value>) {
    for (k, v) in custom {
        into.entry(k.clone()).or_insert_with(|| v.clone());
    }
}

/// Renders `rec` for `sub`.
pub fn render(sub: &Subscription, rec: &Record, event: &Value) -> Rendered {
    let obj = body_object(sub, rec, event);
    let s = &sub.settings;
    if s.http_verb == HttpVerb::Get {
        return Rendered {
            body: Vec::new(),
            query: Some(form_pairs(&obj)),
            content_type: None,
        };
    }
    match s.format {
        Format::Json => Rendered {
            body: json_bytes(&obj, s.hook.voice_envelope()),
            query: None,
            content_type: Some("application/json"),
        },
        Format::FormData => Rendered {
            body: form_pairs(&obj).into_bytes(),
            query: None,
            content_type: Some("application/x-www-form-urlencoded"),
        },
    }
}

/// JSON text; the voice envelope keeps its documented field order.
fn json_bytes(obj: &Value, voice: bool) -> Vec<u8> {
    if voice {
        let body = VoiceBody {
            event_name: obj["event_name"].as_str().unwrap_or_default(),
            account_id: obj["account_id"].as_str().unwrap_or_default(),
            timestamp: obj["timestamp"].as_i64().unwrap_or_default(),
            metadata: obj["metadata"].clone(),
        };
        return serde_json::to_vec(&body).unwrap_or_default();
    }
    serde_json::to_vec(obj).unwrap_or_default()
}

fn form_pairs(obj: &Value) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    if let Some(m) = obj.as_object() {
        for (k, v) in m {
            match v {
                Value::Null => {}
                Value::String(s) => {
                    ser.append_pair(k, s);
                }
                Value::Object(_) | Value::Array(_) => {
                    ser.append_pair(k, &v.to_string());
                }
                other => {
                    ser.append_pair(k, &other.to_string());
                }
            }
        }
    }
    ser.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, WebhookId};
    use crate::webhooks::subscription::Settings;
    use serde_json::json;

    fn sub(doc: Value) -> Subscription {
        Subscription {
            id: WebhookId::new(),
            account_id: AccountId::from("acme"),
            settings: Settings::from_doc(&doc, None).expect("valid"),
            disabled_reason: None,
            created_at: 0,
            modified_at: 0,
        }
    }

    fn rec(name: &str, json: &Value) -> Record {
        Record {
            seq: 42,
            name: name.into(),
            account_id: "acme".into(),
            timestamp_ms: 1_704_067_200_123,
            json: json.to_string().into(),
            kept: None,
        }
    }

    #[test]
    fn a_channel_event_becomes_a_flat_hook_body_with_custom_data() {
        let ev = json!({"event": "channel_destroy", "channel_id": "L1", "call_id": "C1",
            "account_id": "acme", "sip_call_id": "x@y", "direction": "inbound",
            "caller": "1001", "callee": "1002", "caller_name": "Alice", "callee_name": "Bob",
            "callflow": "5000", "ivr_choices": ["main-menu:1"], "queue_id": "support",
            "hangup_cause": "NORMAL_CLEARING",
            "duration_ms": 65_400, "billsec_ms": 60_100, "timestamp_ms": 1_704_067_200_123_i64});
        let s = sub(
            json!({"name": "n", "uri": "http://h/", "hook": "channel_destroy", "format": "json",
            "custom_data": {"crm": "7", "call_id": "spoofed"}}),
        );
        let r = render(&s, &rec("channel_destroy", &ev), &ev);
        assert_eq!(r.content_type, Some("application/json"));
        let body: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body["hook_event"], "channel_destroy");
        assert_eq!(body["event_id"], "42");
        assert_eq!(body["leg_id"], "L1");
        assert_eq!(
            body["call_id"], "C1",
            "the event's own fields win over custom_data"
        );
        assert_eq!(body["call_direction"], "inbound");
        assert_eq!(body["caller_id_number"], "1001");
        assert_eq!(body["callee_id_number"], "1002");
        assert_eq!(body["caller_id_name"], "Alice");
        assert_eq!(body["callee_id_name"], "Bob");
        assert_eq!(
            (
                &body["callflow"],
                &body["ivr_choices"][0],
                &body["queue_id"]
            ),
            (&json!("5000"), &json!("main-menu:1"), &json!("support"))
        );
        assert_eq!(body["duration_seconds"], 65);
        assert_eq!(body["billing_seconds"], 60);
        assert_eq!(body["timestamp"], 1_704_067_200);
        assert_eq!(body["crm"], "7");
        assert!(body.get("event").is_none() && body.get("caller").is_none());
        // an object event names its action
        let doc = json!({"event": "doc_created", "account_id": "acme", "type": "mailbox_message", "id": "m1"});
        let o = sub(json!({"name": "n", "uri": "http://h/", "hook": "object", "format": "json"}));
        let body = body_object(&o, &rec("doc_created", &doc), &doc);
        assert_eq!(
            (
                body["action"].as_str(),
                body["type"].as_str(),
                body["id"].as_str()
            ),
            (Some("doc_created"), Some("mailbox_message"), Some("m1"))
        );
        assert_eq!(r.signed_bytes(), r.body.as_slice());
        assert_eq!(order_key(&ev), "C1");
    }

    #[test]
    fn form_data_and_get_carry_the_same_pairs() {
        let ev = json!({"event": "channel_create", "channel_id": "L1", "call_id": "C1",
            "caller": "+1 555", "rtp": {"packets_in": 3}});
        let s = sub(json!({"name": "n", "uri": "http://h/", "hook": "channel_create"}));
        let r = render(&s, &rec("channel_create", &ev), &ev);
        assert_eq!(r.content_type, Some("application/x-www-form-urlencoded"));
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(&r.body).into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("caller_id_number"), Some("+1 555"));
        assert_eq!(get("rtp"), Some(r#"{"packets_in":3}"#));
        assert_eq!(get("hook_event"), Some("channel_create"));
        let g = sub(
            json!({"name": "n", "uri": "http://h/", "hook": "channel_create", "http_verb": "get"}),
        );
        let rg = render(&g, &rec("channel_create", &ev), &ev);
        assert!(rg.body.is_empty());
        assert_eq!(
            rg.query.as_deref().map(str::as_bytes),
            Some(r.body.as_slice())
        );
        assert_eq!(rg.signed_bytes(), r.body.as_slice());
    }

    #[test]
    fn voice_subscriptions_get_the_documented_envelope() {
        let ev = json!({"event": "CALL_ENDED", "account_id": "acme", "timestamp": 1_704_067_200,
            "timestamp_ms": 1_704_067_200_123_i64,
            "metadata": {"caller_id_number": "+15551234567", "dnis": "+15559876543",
                         "uniqueid": "C9", "call_direction": "inbound", "to_user_id": "1002", "duration": 120}});
        let s =
            sub(json!({"name": "n", "uri": "http://h/", "hook": "CALL_ENDED", "format": "json"}));
        let r = render(&s, &rec("CALL_ENDED", &ev), &ev);
        let text = String::from_utf8(r.body.clone()).expect("utf8");
        assert!(text.starts_with(r#"{"event_name":"CALL_ENDED","account_id":"acme","timestamp":1704067200,"metadata":{"#), "{text}");
        let body: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(body.as_object().map(|o| o.len()), Some(4));
        assert_eq!(body["metadata"]["duration"], 120);
        assert_eq!(order_key(&ev), "C9");
        // a queue event's fields are its metadata
        let q = json!({"event": "QUEUE_ENTER", "account_id": "acme", "queue_id": "sales",
            "queuecall_id": "456", "uniqueid": "C9", "queuename": "sales",
            "callerid_number": "+15551234567", "timestamp": 1, "timestamp_ms": 1000});
        let s =
            sub(json!({"name": "n", "uri": "http://h/", "hook": "QUEUE_ENTER", "format": "json"}));
        let body = body_object(&s, &rec("QUEUE_ENTER", &q), &q);
        assert_eq!(body["metadata"]["queuecall_id"], "456");
        assert!(body["metadata"].get("account_id").is_none());
        assert!(body["metadata"].get("timestamp_ms").is_none());
    }
}
