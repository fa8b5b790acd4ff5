//! SMS through Twilio's Messages API: `POST /2010-04-01/Accounts/{sid}/Messages.json`
//! (form-encoded, HTTP Basic with the account SID and auth token) with a
//! `StatusCallback` that names our message (`/hooks/twilio/status/{id}`).
//! Twilio's `sid` is the reference. Lookup asks `Messages/{sid}.json`, or,
//! when the hand-off's answer was lost, lists the day's messages to the same
//! number from the same sender and matches the body. Callbacks are checked
//! with `X-Twilio-Signature` (HMAC-SHA1 of the URL and the sorted parameters
//! under the auth token, base64) before they count.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;

use super::{classify_http, classify_transport, micros, retry_after, Lookup, Outcome, Remote};
use crate::merchant::service::Service;
use crate::store::MessageRow;

fn creds(svc: &Service) -> Option<(&str, &str)> {
    Some((
        svc.args.twilio_account_sid.as_deref()?,
        svc.args.twilio_auth_token.as_deref()?,
    ))
}

fn base(svc: &Service, sid: &str) -> String {
    format!(
        "{}/2010-04-01/Accounts/{sid}",
        svc.args.twilio_url.trim_end_matches('/')
    )
}

fn sender(svc: &Service, payload: &Value) -> Option<String> {
    payload["from"]
        .as_str()
        .map(str::to_string)
        .or_else(|| svc.args.twilio_from.clone())
}

pub async fn send(svc: &Service, m: &MessageRow, payload: &Value) -> Outcome {
    let Some((sid, token)) = creds(svc) else {
        return Outcome::Rejected(
            "Twilio is not configured (--twilio-account-sid, --twilio-auth-token)".into(),
        );
    };
    let Some(from) = sender(svc, payload) else {
        return Outcome::Rejected("no number to send from (--twilio-from)".into());
    };
    let callback = format!("{}/hooks/twilio/status/{}", svc.public_url, m.id);
    let form = [
        ("To", m.recipient.as_str()),
        ("From", from.as_str()),
        ("Body", payload["message"].as_str().unwrap_or("")),
        ("StatusCallback", callback.as_str()),
    ];
    let resp = svc
        .http
        .post(format!("{}/Messages.json", base(svc, sid)))
        .basic_auth(sid, Some(token))
        .form(&form)
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return classify_transport(&e),
    };
    let status = resp.status().as_u16();
    let after = retry_after(resp.headers());
    let text = resp.text().await.unwrap_or_default();
    if (200..300).contains(&status) {
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        return match v["sid"].as_str() {
            Some(sm) => Outcome::Accepted {
                reference: sm.to_string(),
                cost_micros: v["price"].as_str().and_then(micros),
                delivered: false,
            },
            None => Outcome::Ambiguous("Twilio's answer had no sid".into()),
        };
    }
    classify_http(status, after, &text)
}

/// What Twilio's message status means for us.
pub fn remote(status: &str, error_code: Option<&str>) -> Remote {
    match status {
        "delivered" => Remote::Delivered,
        "undelivered" | "failed" | "canceled" => Remote::Undelivered(format!(
            "Twilio: {status}{}",
            error_code
                .map(|c| format!(" (error {c})"))
                .unwrap_or_default()
        )),
        _ => Remote::Pending,
    }
}

fn found(v: &Value) -> Option<Lookup> {
    let sid = v["sid"].as_str()?;
    let code = match &v["error_code"] {
        Value::Null => None,
        other => Some(other.to_string()),
    };
    Some(Lookup::Found {
        reference: sid.to_string(),
        state: remote(v["status"].as_str().unwrap_or(""), code.as_deref()),
        cost_micros: v["price"].as_str().and_then(micros),
    })
}

pub async fn lookup(svc: &Service, m: &MessageRow) -> Lookup {
    let Some((sid, token)) = creds(svc) else {
        return Lookup::Unknown;
    };
    if let Some(sm) = m.provider_ref.as_deref().filter(|r| !r.is_empty()) {
        let r = svc
            .http
            .get(format!("{}/Messages/{sm}.json", base(svc, sid)))
            .basic_auth(sid, Some(token))
            .send()
            .await;
        return match r {
            Ok(r) if r.status().is_success() => r
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| found(&v))
                .unwrap_or(Lookup::Unknown),
            Ok(r) if r.status().as_u16() == 404 => Lookup::NotFound,
            _ => Lookup::Unknown,
        };
    }
    // the hand-off's answer was lost: find it among the day's messages to that number
    let payload: Value = serde_json::from_str(&m.payload).unwrap_or_default();
    let Some(from) = sender(svc, &payload) else {
        return Lookup::Unknown;
    };
    let day = chrono::DateTime::from_timestamp_millis(m.created_at)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string();
    let r = svc
        .http
        .get(format!("{}/Messages.json", base(svc, sid)))
        .basic_auth(sid, Some(token))
        .query(&[
            ("To", m.recipient.as_str()),
            ("From", from.as_str()),
            ("DateSent>", day.as_str()),
            ("PageSize", "100"),
        ])
        .send()
        .await;
    let Ok(r) = r else { return Lookup::Unknown };
    if !r.status().is_success() {
        return Lookup::Unknown;
    }
    let Ok(v) = r.json::<Value>().await else {
        return Lookup::Unknown;
    };
    let body = payload["message"].as_str().unwrap_or("");
    let hit = v["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|x| x["body"].as_str() == Some(body));
    match hit.and_then(found) {
        Some(l) => l,
        // Twilio lists what it took at once: absent means not taken
        None => Lookup::NotFound,
    }
}

/// Twilio's request signature: base64(HMAC-SHA1(token, url + sorted name+value pairs)).
pub fn signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether a callback to `url` with `params` bears Twilio's signature.
pub fn verify(token: &str, url: &str, params: &[(String, String)], given: &str) -> bool {
    let want = signature(token, url, params);
    bool::from(subtle::ConstantTimeEq::ct_eq(
        want.as_bytes(),
        given.trim().as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_the_url_and_sorted_parameters() {
        let p = vec![
            ("MessageStatus".to_string(), "delivered".to_string()),
            ("MessageSid".to_string(), "SM1".to_string()),
        ];
        let s = signature("tok", "https://x.test/hooks/twilio/status/1", &p);
        // computed independently: HMAC-SHA1("tok", url + "MessageSidSM1MessageStatusdelivered")
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"tok").expect("key");
        mac.update(b"https://x.test/hooks/twilio/status/1MessageSidSM1MessageStatusdelivered");
        let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(s, want);
        assert!(verify(
            "tok",
            "https://x.test/hooks/twilio/status/1",
            &p,
            &want
        ));
        assert!(!verify(
            "other",
            "https://x.test/hooks/twilio/status/1",
            &p,
            &want
        ));
        assert_eq!(remote("delivered", None), Remote::Delivered);
        assert!(
            matches!(remote("undelivered", Some("30003")), Remote::Undelivered(r) if r.contains("30003"))
        );
        assert_eq!(remote("sent", None), Remote::Pending);
    }
}
